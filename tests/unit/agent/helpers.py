"""Agents built in code for the agent runtime tests, and the seed agents as written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from aof_airflow.spec.models import Agent

SEED = Path(__file__).resolve().parents[3] / "dags" / "agents"


def make_agent(
    *, name: str = "test-agent", model: str = "anthropic:claude-test", labels: dict[str, str] | None = None,
    instructions: str = "You are a test agent.", tools: list[dict[str, Any]] | None = None, **spec: Any,
) -> Agent:
    doc = {
        "apiVersion": "aof.dev/v1",
        "kind": "Agent",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {"model": model, "instructions": instructions, "tools": tools or [], **spec},
    }
    return Agent.model_validate(doc)


def shell_tool(*commands: str, **config: Any) -> dict[str, Any]:
    return {"type": "Shell", "config": {"allowed_commands": list(commands), **config}}


def seed_agent(name: str) -> Agent:
    """The seed's agent YAML, unedited (dags/agents is a byte-for-byte copy of the tutorial's)."""
    return Agent.model_validate(yaml.safe_load((SEED / f"{name}-agent.yaml").read_text()))
