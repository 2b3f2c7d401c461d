"""A real, maintained third-party MCP server offered to an agent: `mcp-server-kubernetes` (npm), talking to
the sandbox Kubernetes API through the real kubectl, its tools listed to the model and one of them called.

The package is installed with npm into a cache folder this test owns (reused across runs, per version); if
npm cannot install it here the test is skipped with npm's own error. The seed's server
(`npx -y @modelcontextprotocol/server-kubectl`, not on npm) is offered alongside and must keep its clear
warning while the real one works.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

import pytest

from aof_airflow.agent.runtime import run_agent
from aof_airflow.agent.types import AgentScope
from tests.harness import machine
from tests.unit.agent.helpers import make_agent

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900), machine.skip_mark("kubectl")]

PACKAGE, VERSION = "mcp-server-kubernetes", "4.1.7"
CACHE = Path(tempfile.gettempdir()) / f"aof-test-npm-{os.getuid()}" / f"{PACKAGE}-{VERSION}"
SCOPE = AgentScope(flow="incident-response", run_id="manual__TEST001", node_id="diagnose", incident_id="TEST001",
                   service="api", namespace="production", resource="deployment/api")


def installed_server() -> Path:
    """`dist/index.js` (the package's `bin`), installed with npm into CACHE on first use."""
    entry = CACHE / "node_modules" / PACKAGE / "package.json"
    if not entry.exists():
        npm = machine.require("npm")  # installed with apt-get when root, else skipped saying how to get it
        CACHE.mkdir(parents=True, exist_ok=True)
        r = subprocess.run([npm, "install", "--prefix", str(CACHE), "--no-audit", "--no-fund",
                            f"{PACKAGE}@{VERSION}"], capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            pytest.skip(f"npm install {PACKAGE}@{VERSION} failed (exit {r.returncode}); it needs the npm registry "
                        f"(or a mirror set in ~/.npmrc): {r.stderr.strip()[-1500:]}")
    bin_rel = json.loads(entry.read_text())["bin"][PACKAGE]
    return entry.parent / bin_rel


@pytest.fixture
def kube_namespace() -> str:
    return "production"


@pytest.fixture(autouse=True)
def fresh_mcp_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    """This test's servers start afresh: a failed start that an earlier run remembered on this machine is not held against them."""
    monkeypatch.setenv("AOF_MCP_RETRY_AFTER_SECONDS", "0")


def test_agent_lists_and_calls_mcp_server_kubernetes_against_the_sandbox_cluster(cluster):
    api, llm = cluster
    server = installed_server()
    agent = make_agent(name="k8s-mcp-diagnostic", model="anthropic:claude-test", tools=[
        {"type": "MCP", "config": {"name": "k8s", "command": ["node", str(server)], "timeout_seconds": 120,
                                   # how the package finds the cluster: KUBECONFIG; read-only tools only
                                   "env": {"KUBECONFIG": "${KUBECONFIG}", "ALLOW_ONLY_READONLY_TOOLS": "true"}}},
        {"type": "MCP", "config": {"name": "kubectl-mcp", "timeout_seconds": 60,
                                   "command": ["npx", "-y", "@modelcontextprotocol/server-kubectl"],
                                   "env": {"KUBECONFIG": "${KUBECONFIG}"}}},
    ])
    llm.tool_call("TEST001", "k8s__kubectl_get", {"resourceType": "pods", "namespace": "production",
                                                  "output": "wide"})
    answer = {"severity": "high", "root_cause": "api pods restarting (CrashLoopBackOff)"}
    llm.reply("TEST001", answer)
    result = run_agent(agent, "Incident TEST001: High memory usage on api-deployment", scope=SCOPE)

    offered = {t["name"] for t in llm.requests[0].get("tools", [])}
    assert {"k8s__kubectl_get", "k8s__kubectl_describe", "k8s__kubectl_logs"} <= offered, offered
    assert not any(n.startswith("kubectl-mcp__") for n in offered)
    [call] = result.tool_calls
    assert call.tool == "k8s__kubectl_get" and call.ok, call.output
    assert "api-7d4b9c8f6-q9zlt" in call.output and "CrashLoopBackOff" in call.output
    assert any(p.startswith("/api/v1/namespaces/production/pods") for _m, p in api.requests)
    assert "CrashLoopBackOff" in json.dumps(llm.requests[1])  # the tool's answer went back to the model
    assert json.loads(result.output) == answer  # no output contract on this agent: its text
    missing = [n for n in result.notes if "kubectl-mcp" in n]
    assert missing and "unavailable, running without it" in missing[0], result.notes
    assert not any("'k8s'" in n for n in result.notes), result.notes
