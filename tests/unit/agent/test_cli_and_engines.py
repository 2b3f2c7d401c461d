"""`aofctl agent exec` and the engine table."""

from __future__ import annotations

import json

import pytest

from aof_airflow.agent.engines import get_engine
from aof_airflow.agent.types import AgentError
from aof_airflow.cli import main
from tests.fakes.llm_api import FakeLLM
from tests.unit.agent.helpers import SEED

GOOD = {"severity": "low", "root_cause": "none", "affected_components": [], "impact": "none",
        "recommended_action": "none", "requires_approval": False, "confidence": 0.5}


def test_agent_exec_runs_the_seed_agent_once(canary_bin, monkeypatch, capsys):
    with FakeLLM() as llm:
        for k, v in llm.env().items():
            monkeypatch.setenv(k, v)
        llm.tool_call("payments", "shell", {"command": "kubectl get pods"})
        llm.reply("payments", GOOD)
        rc = main(["agent", "exec", "incident-diagnostic", "payments latency alert", "-f", str(SEED),
                   "--namespace", "payments", "--service", "payments"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    assert json.loads(out.out) == GOOD
    assert canary_bin.ran() == ["kubectl get pods --namespace=payments"]
    assert "kubectl-mcp" in out.err  # the seed's MCP server is reported as a note


def test_agent_exec_without_a_key_says_what_to_set(canary_bin, capsys):
    rc = main(["agent", "exec", "incident-diagnostic", "x", "-f", str(SEED / "diagnostic-agent.yaml")])
    err = capsys.readouterr().err
    assert rc == 1 and "ANTHROPIC_API_KEY" in err
    assert canary_bin.ran() == []


def test_agent_exec_unknown_agent(capsys):
    assert main(["agent", "exec", "nope", "x", "-f", str(SEED)]) == 2
    assert "incident-diagnostic" in capsys.readouterr().err


def test_engine_table():
    assert type(get_engine("anthropic:claude-3-5-sonnet-20241022")).__name__ == "AnthropicEngine"
    assert type(get_engine("openai:gpt-4")).__name__ == "OpenAIEngine"
    with pytest.raises(AgentError, match="unknown model provider 'gemini'"):
        get_engine("gemini:pro")
    with pytest.raises(AgentError, match="provider:model"):
        get_engine("nomodel")
