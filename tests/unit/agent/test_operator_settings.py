"""Operator-level settings that change how every agent runs without editing the agents' YAML."""

from pathlib import Path

from aof_airflow.agent import memory
from aof_airflow.agent.runtime import model_chain
from aof_airflow.spec.loader import load_paths

AGENTS = load_paths([Path(__file__).resolve().parents[3] / "dags" / "agents"]).agents


def test_operator_fallback_models_come_after_the_agents_own(monkeypatch):
    agent = AGENTS["incident-diagnostic"]
    monkeypatch.delenv("AOF_FALLBACK_MODELS", raising=False)
    assert model_chain(agent) == ["anthropic:claude-3-5-sonnet-20241022"]
    monkeypatch.setenv("AOF_FALLBACK_MODELS", "builtin:k8s-rules, anthropic:claude-3-5-sonnet-20241022")
    assert model_chain(agent) == ["anthropic:claude-3-5-sonnet-20241022", "builtin:k8s-rules"]


def test_memory_backend_airflow_overrides_the_seeds_sqlite(monkeypatch, tmp_path):
    agent = AGENTS["incident-diagnostic"]  # memory: type SQLite, path ./incident-diagnostics.db
    monkeypatch.setenv("AOF_MEMORY_DIR", str(tmp_path))
    monkeypatch.delenv("AOF_MEMORY_BACKEND", raising=False)
    store = memory.store_for(agent)
    assert isinstance(store, memory.SQLiteMemory)
    monkeypatch.setenv("AOF_MEMORY_BACKEND", "airflow")
    assert isinstance(memory.store_for(agent), memory.AirflowMemory)
