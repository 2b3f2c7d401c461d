"""The sandbox Kubernetes API and FakeLLM the agents of these tests run against, with no real key in reach."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from aof_lab.sandbox.kube import KubeAPI
from tests.fakes.llm_api import FakeLLM


@pytest.fixture
def kube_namespace() -> str:
    """The kubeconfig's current namespace; a module overrides it to test against another."""
    return "default"


@pytest.fixture
def cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kube_namespace: str) -> Iterator[tuple[KubeAPI, FakeLLM]]:
    """The `high-memory-api` scenario behind KUBECONFIG, and the SDKs' base URLs on FakeLLM; state in tmp_path."""
    for var in ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "OPENAI_API_KEY", "OPENAI_BASE_URL", "GOOGLE_API_KEY",
                "GEMINI_API_KEY", "GOOGLE_GEMINI_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AOF_ANTHROPIC_CONN_ID", "aof_test_no_such_conn")
    monkeypatch.setenv("AOF_OPENAI_CONN_ID", "aof_test_no_such_conn")
    monkeypatch.setenv("AOF_MEMORY_DIR", str(tmp_path / "memory"))
    monkeypatch.setenv("AOF_DATABASE_URL", f"sqlite:///{tmp_path / 'aof.db'}")
    with KubeAPI("high-memory-api") as api, FakeLLM() as llm:
        monkeypatch.setenv("KUBECONFIG", str(api.kubeconfig(tmp_path / "kubeconfig", namespace=kube_namespace)))
        for k, v in llm.env().items():
            monkeypatch.setenv(k, v)
        yield api, llm
