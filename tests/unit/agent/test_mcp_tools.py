"""MCP tools from a local stdio server (python `mcp` SDK) used by the agent; broken servers reported, not fatal."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from aof_airflow.agent.runtime import run_agent
from aof_airflow.agent.tools import Toolbox
from aof_airflow.agent.tools.mcp import expand_env
from aof_airflow.agent.types import AgentScope
from tests.unit.agent.helpers import make_agent, seed_agent, shell_tool

SERVER = str(Path(__file__).resolve().parents[2] / "fakes" / "mcp_server.py")
SCOPE = AgentScope(service="checkout", namespace="prod")


def mcp_tool(name: str, command: list[str], **config) -> dict:
    return {"type": "MCP", "config": {"name": name, "command": command, **config}}


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_agent_uses_a_tool_of_a_local_mcp_server(provider, llm):
    agent = make_agent(model=f"{provider}:m", tools=[mcp_tool("podinfo", [sys.executable, SERVER], timeout_seconds=120)])  # a loaded CI box is slow to import mcp
    llm.tool_call("checkout", "podinfo__pod_restarts", {"pod": "checkout-7d9f"})
    llm.reply("checkout", "checkout-7d9f restarted 14 times")
    result = run_agent(agent, "why is checkout failing", scope=SCOPE)
    offered = [t.get("name") or t["function"]["name"] for t in llm.requests[0]["tools"]]
    assert offered == ["podinfo__pod_restarts", "podinfo__echo"]
    [call] = result.tool_calls
    assert call.ok and "restarted 14 times (served by aof-test-mcp)" in call.output
    assert "served by aof-test-mcp" in json.dumps(llm.requests[1])


def test_missing_mcp_server_is_reported_and_the_agent_goes_on(llm, canary_bin):
    agent = make_agent(tools=[shell_tool("kubectl"), mcp_tool("gone", ["/nonexistent/mcp-server"])])
    llm.tool_call("checkout", "shell", {"command": "kubectl get pods"})
    llm.reply("checkout", "pods look fine")
    result = run_agent(agent, "checkout alert", scope=SCOPE)
    assert result.output == "pods look fine"
    assert any("MCP server 'gone'" in n and "unavailable" in n for n in result.notes)
    assert canary_bin.ran() == ["kubectl get pods --namespace=prod"]


def test_the_seeds_npx_server_is_reported_not_fatal(llm, canary_bin):
    """`@modelcontextprotocol/server-kubectl` is not on npm (the canary PATH's npx answers 404 offline)."""
    result_box = Toolbox(seed_agent("diagnostic"), SCOPE)
    try:
        assert [s.name for s in result_box.specs()] == ["shell"]
        assert any("kubectl-mcp" in n and "404" in n for n in result_box.notes)
    finally:
        result_box.close()


def test_a_server_that_never_answers_is_bounded_by_its_timeout(llm):
    hang = [sys.executable, "-c", "import time; time.sleep(60)"]
    t = time.monotonic()
    box = Toolbox(make_agent(tools=[mcp_tool("hang", hang, timeout_seconds=1)]), SCOPE)
    box.specs()
    box.close()
    assert time.monotonic() - t < 15
    assert any("did not start within 1s" in n for n in box.notes)


def test_env_of_mcp_servers_expands_worker_variables(monkeypatch):
    monkeypatch.setenv("KUBECONFIG", "/etc/kube/config")
    monkeypatch.delenv("UNSET_THING", raising=False)
    assert expand_env({"KUBECONFIG": "${KUBECONFIG}", "X": "${UNSET_THING}", "Y": "${UNSET_THING:-d}"}) == {
        "KUBECONFIG": "/etc/kube/config", "Y": "d",
    }


def test_a_server_that_failed_to_start_is_not_retried_for_a_while(llm, monkeypatch, tmp_path):
    """Every Agent node would otherwise wait again for a server that cannot start."""
    from aof_airflow.agent.tools import mcp as mcp_mod

    monkeypatch.setenv("AOF_MCP_RETRY_AFTER_SECONDS", "600")
    monkeypatch.setattr(mcp_mod.tempfile, "gettempdir", lambda: str(tmp_path))
    marker = tmp_path / "started"
    slow_fail = [sys.executable, "-c", f"open({str(marker)!r}, 'a').write('x'); raise SystemExit(3)"]
    agent = make_agent(tools=[mcp_tool("flaky", slow_fail, timeout_seconds=10)])
    first = Toolbox(agent, SCOPE)
    first.specs()
    first.close()
    second = Toolbox(agent, SCOPE)
    second.specs()
    second.close()
    assert marker.read_text() == "x"  # started once, not twice
    assert any("flaky" in n and "failed" in n for n in first.notes)
    assert any("flaky" in n and "not started: it failed" in n and "mcp_retry_after_seconds" in n for n in second.notes)
    monkeypatch.setenv("AOF_MCP_RETRY_AFTER_SECONDS", "0")
    third = Toolbox(agent, SCOPE)
    third.specs()
    third.close()
    assert marker.read_text() == "xx"  # the setting turns the memory off


def test_servers_start_only_when_the_tools_are_offered(tmp_path, canary_bin):
    """The rules engine only runs shell commands: it never waits for an MCP server to start."""
    marker = tmp_path / "started"
    server = [sys.executable, "-c", f"open({str(marker)!r}, 'a').write('x'); raise SystemExit(3)"]
    box = Toolbox(make_agent(tools=[shell_tool("kubectl"), mcp_tool("lazy", server, timeout_seconds=10)]), SCOPE)
    assert box.shell("kubectl get pods").ok
    assert not marker.exists() and box.notes == []
    box.specs()
    box.specs()
    box.close()
    assert marker.read_text() == "x"  # started on the first offer, once
    assert any("lazy" in n and "unavailable" in n for n in box.notes)
