"""Fixtures for the agent runtime tests: an isolated environment, a canary PATH, agents built in code."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

CANARY_SCRIPT = """#!/bin/sh
# Test double: ANY execution of this program is recorded, so a test can prove a refused command never ran.
echo "$(basename "$0") $*" >> "{canary}"
{body}
"""


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No real keys, fast retries, memory and our tables in the test's temp dir."""
    for var in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL", "OPENAI_API_KEY", "OPENAI_BASE_URL",
                "GOOGLE_API_KEY", "GEMINI_API_KEY", "GOOGLE_GEMINI_BASE_URL", "GOOGLE_GENAI_USE_VERTEXAI",
                "AIRFLOW_CONN_ANTHROPIC_DEFAULT", "AIRFLOW_CONN_OPENAI_DEFAULT", "AIRFLOW_CONN_GOOGLE_GENAI_DEFAULT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AOF_LLM_RETRY_BASE_DELAY", "0.01")
    monkeypatch.setenv("AOF_MEMORY_DIR", str(tmp_path / "memory"))
    monkeypatch.setenv("AOF_DATABASE_URL", f"sqlite:///{tmp_path / 'aof.db'}")
    monkeypatch.setenv("AOF_ANTHROPIC_CONN_ID", "aof_test_no_such_conn")
    monkeypatch.setenv("AOF_OPENAI_CONN_ID", "aof_test_no_such_conn")
    monkeypatch.setenv("AOF_GOOGLE_GENAI_CONN_ID", "aof_test_no_such_conn")
    monkeypatch.setenv("AOF_MCP_RETRY_AFTER_SECONDS", "0")  # each test starts its servers afresh
    return tmp_path


@pytest.fixture
def canary_bin(tmp_path, monkeypatch):
    """A PATH whose programs only record that they ran (in `canary`), plus a scriptable recording kubectl."""

    class Bin:
        dir = tmp_path / "bin"
        canary = tmp_path / "canary.log"

        def add(self, name: str, body: str = "exit 0") -> Path:
            p = self.dir / name
            p.write_text(CANARY_SCRIPT.format(canary=self.canary, body=body))
            p.chmod(p.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
            return p

        def add_quiet(self, name: str, body: str) -> Path:
            """A stand-in that does not write the canary (tooling the test is not about)."""
            p = self.dir / name
            p.write_text(f"#!/bin/sh\n{body}\n")
            p.chmod(p.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
            return p

        def ran(self) -> list[str]:
            return self.canary.read_text().splitlines() if self.canary.exists() else []

    b = Bin()
    b.dir.mkdir()
    for name in ("kubectl", "helm", "cat", "rm", "touch", "curl", "sh", "bash", "echo", "env", "python3", "wget",
                 "nc", "id", "whoami", "ls", "jq", "grep", "printenv", "sleep", "xargs", "chmod", "cp", "tee"):
        b.add(name)
    # The seed's MCP server is `npx -y @modelcontextprotocol/server-kubectl`, which is not on npm: answer as npm
    # does (404) without touching the network, so tests of the seed agents stay fast and offline.
    b.add_quiet("npx", 'echo "npm error 404 Not Found - GET https://registry.npmjs.org/$2 - Not found" >&2; exit 1')
    monkeypatch.setenv("PATH", f"{b.dir}{os.pathsep}{os.environ['PATH']}")
    return b

