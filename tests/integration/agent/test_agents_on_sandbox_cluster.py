"""The seed agents, as written, drive the REAL kubectl against the sandbox Kubernetes API (aof_lab.sandbox.kube),
with the real anthropic / openai SDK clients talking to FakeLLM."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from aof_airflow.agent.runtime import run_agent
from aof_airflow.agent.types import AgentScope
from tests.harness import machine
from tests.unit.agent.helpers import seed_agent

pytestmark = machine.skip_mark("kubectl")
SCOPE = AgentScope(flow="incident-response", run_id="manual__TEST001", node_id="remediate", incident_id="TEST001",
                   service="api", namespace="production", resource="deployment/api")


@pytest.fixture(autouse=True)
def offline_npx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The seed's MCP server (`npx -y @modelcontextprotocol/server-kubectl`) is not on npm: an offline npx that
    answers 404 keeps these tests off the network; the agent must go on without it either way."""
    monkeypatch.setenv("HOME", str(tmp_path))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    npx = bin_dir / "npx"
    npx.write_text('#!/bin/sh\necho "npm error 404 Not Found - $2" >&2\nexit 1\n')
    npx.chmod(npx.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")


def test_diagnostic_agent_investigates_with_kubectl(cluster):
    api, llm = cluster
    llm.tool_call("TEST001", "shell", {"command": "kubectl get pods -l app=api"})
    llm.tool_call("TEST001", "shell", {"command": "kubectl get secrets -n kube-system"})  # refused, reason to the model
    llm.tool_call("TEST001", "shell", {"command": "kubectl describe deployment api"})
    answer = {"severity": "high", "root_cause": "memory leak, pods OOMKilled", "affected_components": ["deployment/api"],
              "impact": "API errors", "recommended_action": "kubectl rollout restart deployment/api",
              "requires_approval": False, "confidence": 0.85}
    llm.reply("TEST001", answer)
    result = run_agent(seed_agent("diagnostic"), "Incident TEST001: High memory usage on api-deployment", scope=SCOPE)
    assert result.output == answer and result.steps == 4
    get_pods, secrets, describe = result.tool_calls
    assert get_pods.ok and "api-" in get_pods.output and ("OOMKilled" in get_pods.output or "CrashLoopBackOff" in get_pods.output)
    assert secrets.refused and "kube-system" in secrets.refused
    assert describe.ok and "Replicas" in describe.output
    assert "CrashLoopBackOff" in json.dumps(llm.requests[1]) or "OOMKilled" in json.dumps(llm.requests[1])
    assert "outside this incident's namespace" in json.dumps(llm.requests[2])
    paths = [p for _m, p in api.requests]
    assert any(p.startswith("/api/v1/namespaces/production/pods") for p in paths)
    assert not any("kube-system" in p for p in paths)  # the refused call never reached the cluster
    assert any("kubectl-mcp" in n for n in result.notes)  # the seed's MCP server: reported, not fatal


def test_remediation_agent_dry_runs_and_snapshots_before_the_change(cluster):
    api, llm = cluster
    llm.tool_call("TEST001", "shell", {"command": "kubectl rollout restart deployment/api"})
    llm.tool_call("TEST001", "shell", {"command": "kubectl rollout status deployment/api --timeout=20s"})
    answer = {"action_taken": "kubectl rollout restart deployment/api", "result": "success",
              "verification": "rollout complete", "rollback_needed": False, "logs": "restarted"}
    llm.reply("TEST001", answer)
    result = run_agent(seed_agent("remediation"), "Remediate TEST001: rollout restart deployment/api", scope=SCOPE)
    assert result.output == answer and result.model == "openai:gpt-4"
    [action] = result.actions
    assert action.command == "kubectl rollout restart deployment/api --namespace=production"
    assert action.dry_run.startswith("$ kubectl patch deployment/api") and "--dry-run=server" in action.dry_run
    assert "restartedAt" in action.dry_run and "patched" in action.dry_run
    assert "kind: Deployment" in action.snapshot and "name: api" in action.snapshot
    assert action.ok and "restarted" in action.result
    writes = [(m, p) for m, p in api.requests if m in ("PATCH", "GET") and "/deployments/api" in p]
    dry = next(i for i, (m, p) in enumerate(writes) if m == "PATCH" and "dryRun=All" in p)
    snap = next(i for i, (m, p) in enumerate(writes) if m == "GET" and i > dry)
    real = next(i for i, (m, p) in enumerate(writes) if m == "PATCH" and "dryRun" not in p)
    assert dry < snap < real
    assert [(a.action, a.resource) for a in api.actions] == [("rollout-restart", "deployment/api")]  # once, for real
