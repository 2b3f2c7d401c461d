"""The rules engine through the whole stack: sandbox Kubernetes API server, the real kubectl, the guarded
Toolbox (and `run_agent` with a fallback), exactly as an Agent node runs it."""

from __future__ import annotations

import os
import time

import pytest
import yaml

from aof_airflow.agent.rules import MODEL
from aof_airflow.agent.rules.engine import RulesEngine
from aof_airflow.agent.types import AgentScope
from aof_airflow.spec.models import Agent
from tests.locations import SEED_AGENTS

kube = pytest.importorskip("aof_lab.sandbox.kube", reason="the sandbox Kubernetes API server has not landed")


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No LLM keys; our tables, memory and idempotency records in the temp dir; the seed's MCP server
    (`npx -y @modelcontextprotocol/server-kubectl`, not on npm) answered with npm's 404, offline."""
    for var in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL", "OPENAI_API_KEY", "OPENAI_BASE_URL",
                "AIRFLOW_CONN_ANTHROPIC_DEFAULT", "AIRFLOW_CONN_OPENAI_DEFAULT", "AOF_RULES_VERIFY_WINDOW"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AOF_MEMORY_DIR", str(tmp_path / "memory"))
    monkeypatch.setenv("AOF_DATABASE_URL", f"sqlite:///{tmp_path / 'aof.db'}")
    monkeypatch.setenv("AOF_ANTHROPIC_CONN_ID", "aof_test_no_such_conn")
    monkeypatch.setenv("AOF_OPENAI_CONN_ID", "aof_test_no_such_conn")
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "npx").write_text('#!/bin/sh\necho "npm error 404 Not Found - GET https://registry.npmjs.org/$2" >&2\nexit 1\n')
    (fake / "npx").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def seed_agent(name: str, **spec) -> Agent:
    data = yaml.safe_load((SEED_AGENTS / f"{name}.yaml").read_text())
    data["spec"].update(spec)
    return Agent.model_validate(data)


@pytest.fixture
def cluster(tmp_path, monkeypatch):
    """Start the sandbox API for a scenario and point KUBECONFIG (kept by the Shell tool's scrubbed env) at it."""
    started = []

    def start(name: str):
        from aof_lab.sandbox.scenario import load_scenario

        sc = load_scenario(name)
        api = kube.KubeAPI(sc).start()
        started.append(api)
        monkeypatch.setenv("KUBECONFIG", str(api.kubeconfig(tmp_path / f"{name}.kubeconfig", sc.incident.namespace)))
        scope = AgentScope(flow="t", run_id=f"t-{name}-{time.monotonic_ns()}", node_id="n", incident_id=sc.incident.id,
                           service=sc.incident.service, namespace=sc.incident.namespace, resource=sc.incident.resource)
        return sc, api, scope

    yield start
    for api in started:
        api.stop()


def test_harness_passes_on_every_shipped_rules_scenario() -> None:
    from aof_lab.rules_eval.evaluate import run, scenarios

    lines: list[str] = []
    outcomes = run(jobs=2, echo=lines.append)
    assert len(outcomes) == len(scenarios()) >= 20
    assert sum(o.scenario.startswith("ext-") for o in outcomes) >= 15  # the independent set (issue 18)
    assert all(o.passed for o in outcomes), "\n".join(lines)
    assert not any(o.unsafe or o.problems for o in outcomes)
    assert any(ln.strip().startswith("unsafe changes") and ln.split()[2] == "0" for ln in lines), lines[-12:]
    assert lines[-1].startswith(f"TOTAL {len(outcomes)}/{len(outcomes)} passed")


def test_fallback_gives_the_seed_diagnostic_agent_a_valid_rules_diagnosis(cluster) -> None:
    from aof_airflow.agent.runtime import run_agent

    sc, api, scope = cluster("rules-oomkilled")
    agent = seed_agent("diagnostic-agent", fallback_models=[MODEL])  # model stays anthropic:..., no key configured
    prompt = (f"Incident: {sc.incident.title}\nService: {sc.incident.service}\nUrgency: high\n"
              f"Namespace: {sc.incident.namespace}\nResource: {sc.incident.resource}\n\nDiagnose this incident and recommend remediation.")
    r = run_agent(agent, prompt, scope=scope, timeout_seconds=120)
    assert r.source == "rules" and r.model == MODEL
    assert any("anthropic" in n and "ANTHROPIC_API_KEY" in n for n in r.notes) and any(f"fell back to {MODEL}" in n for n in r.notes)
    assert r.output["severity"] == "high" and r.output["requires_approval"] is False
    assert r.output["root_cause"].startswith("[builtin:k8s-rules") and "OOMKilled" in r.output["root_cause"]
    assert "deployment/search-api" in r.output["affected_components"]
    assert r.tool_calls and all(c.args["command"].startswith("kubectl ") and not c.refused for c in r.tool_calls)
    assert sum(c.ok for c in r.tool_calls) >= len(r.tool_calls) - 2  # e.g. no --previous log kept for one container
    assert not api.actions  # diagnosis never changes the cluster


def test_remediate_restart_then_verify_heals(cluster, monkeypatch) -> None:
    monkeypatch.setenv("AOF_RULES_VERIFY_WINDOW", "10")
    from aof_airflow.agent.tools.toolbox import Toolbox

    sc, api, scope = cluster("rules-crashloop-dependency")
    agent = seed_agent("remediation-agent", model=MODEL, tools=[{"type": "Shell", "config": {"allowed_commands": ["kubectl"]}}], memory=None)
    prompt = ("Execute the following remediation:\n\nAction: kubectl rollout restart deployment/worker -n jobs\n"
              "Namespace: jobs\nResource: deployment/worker\n\nVerify the fix works and monitor for 60 seconds.")
    with Toolbox(agent, scope, deadline=time.monotonic() + 120) as tb:
        r = RulesEngine().run(agent, prompt, toolbox=tb, scope=scope, deadline=time.monotonic() + 120)
    assert r.output["result"] == "success" and r.output["rollback_needed"] is False
    assert "restartedAt" in r.output["action_taken"] and r.output["verification"].startswith("healthy")
    assert [a.action for a in api.actions] == ["rollout-restart"]
    (change,) = r.actions
    assert change.ok and "patched" in change.dry_run and "kind: Deployment" in change.snapshot


def test_remediate_none_fails_for_a_human_and_rollback_has_nothing_to_undo(cluster, monkeypatch) -> None:
    monkeypatch.setenv("AOF_RULES_VERIFY_WINDOW", "1")
    from aof_airflow.agent.tools.toolbox import Toolbox

    sc, api, scope = cluster("rules-config-missing-configmap")
    agent = seed_agent("remediation-agent", model=MODEL, tools=[{"type": "Shell", "config": {"allowed_commands": ["kubectl"]}}], memory=None)
    prompt = "Execute the following remediation:\n\nAction: none: no automated action; create configmap notifications-config\n"
    with Toolbox(agent, scope, deadline=time.monotonic() + 60) as tb:
        r = RulesEngine().run(agent, prompt, toolbox=tb, scope=scope, deadline=time.monotonic() + 60)
        rb = RulesEngine().run(agent, f"Rollback the failed remediation: {r.output['action_taken']}", toolbox=tb, scope=scope,
                               deadline=time.monotonic() + 60)
    assert r.output["result"] == "failed" and "manual intervention required" in r.output["verification"]
    assert rb.output["action_taken"].startswith("none:") and not api.actions and not r.actions


def test_post_incident_report_through_the_runtime() -> None:
    from aof_airflow.agent.runtime import run_agent

    agent = seed_agent("post-incident-agent", model=MODEL)
    r = run_agent(agent, 'Records: [{"incident_id": "TEST001", "severity": "high", "root_cause": "OOMKilled", '
                         '"remediation": "kubectl rollout restart deployment/api", "result": "success", "duration_seconds": 80}]',
                  scope=AgentScope(), timeout_seconds=30)
    assert r.source == "rules" and isinstance(r.output, str) and "## Root causes" in r.output and "TEST001" in r.output


def test_diagnosis_survives_the_shell_tools_output_limit(cluster) -> None:
    """With a tiny output limit, long lists are re-read as compact JSON, then item by item: same diagnosis."""
    from aof_airflow.agent.tools.toolbox import Toolbox
    from aof_lab.rules_eval.evaluate import SEED_DIAGNOSTIC

    data = yaml.safe_load(SEED_DIAGNOSTIC)
    data["spec"]["tools"][0]["config"]["max_output_chars"] = 3000
    agent = Agent.model_validate(data)
    sc, api, scope = cluster("rules-crashloop-bad-release")
    engine = RulesEngine()
    with Toolbox(agent, scope, deadline=time.monotonic() + 120) as tb:
        r = engine.run(agent, "Diagnose", toolbox=tb, scope=scope, deadline=time.monotonic() + 120)
    commands = [c.args["command"] for c in r.tool_calls]
    assert any(c.endswith("-o name") for c in commands) and any("jsonpath={@}" in c for c in commands)
    assert any(c.truncated for c in r.tool_calls)
    assert engine.last.cls == "crash-loop" and engine.last.action == "rollout-undo"


def test_the_check_before_a_change_reads_state_not_logs(cluster, monkeypatch) -> None:
    """The diagnosis reads the crashed containers' logs; the remediation's check just before its change reads
    the objects, events and metrics only (tests/unit/rules/test_gather_logs.py: same verdict everywhere)."""
    monkeypatch.setenv("AOF_RULES_VERIFY_WINDOW", "0")
    from aof_airflow.agent.tools.toolbox import Toolbox

    sc, api, scope = cluster("high-memory-api")  # TEST001: a leak, so a restart (rules-oomkilled's OOM is not one)
    diag = seed_agent("diagnostic-agent", model=MODEL, memory=None)
    fix = seed_agent("remediation-agent", model=MODEL, memory=None)
    with Toolbox(diag, scope, deadline=time.monotonic() + 120) as tb:
        d = RulesEngine().run(diag, "Diagnose", toolbox=tb, scope=scope, deadline=time.monotonic() + 120)
    assert any(c.args["command"].startswith("kubectl logs ") for c in d.tool_calls)
    with Toolbox(fix, scope, deadline=time.monotonic() + 120) as tb:
        r = RulesEngine().run(fix, f"Action: {d.output['recommended_action']}\n", toolbox=tb, scope=scope,
                              deadline=time.monotonic() + 120)
    commands = [c.args["command"] for c in r.tool_calls]
    change = next(i for i, c in enumerate(commands) if c.startswith(("kubectl patch", "kubectl rollout", "kubectl scale")))
    assert not any(c.startswith("kubectl logs ") for c in commands[:change]), commands
    assert r.output["logs"].splitlines()[1].startswith("before: oom-killed")  # the same verdict as the diagnosis
    assert r.output["result"] == "success" and [a.action for a in api.actions] == ["rollout-restart"]


def test_failed_restart_is_rolled_back(cluster, monkeypatch) -> None:
    monkeypatch.setenv("AOF_RULES_VERIFY_WINDOW", "3")
    from aof_airflow.agent.tools.toolbox import Toolbox

    sc, api, scope = cluster("rules-crashloop-missing-env")  # a restart crashes the same way (on_action still-failing)
    agent = seed_agent("remediation-agent", model=MODEL, tools=[{"type": "Shell", "config": {"allowed_commands": ["kubectl"]}}], memory=None)
    with Toolbox(agent, scope, deadline=time.monotonic() + 120) as tb:
        r = RulesEngine().run(agent, "Action: Restart the checkout pods\n", toolbox=tb, scope=scope, deadline=time.monotonic() + 120)
        assert r.output["result"] == "failed" and r.output["rollback_needed"] is True
        assert r.output["verification"].startswith("still failing")
        rb = RulesEngine().run(agent, f"Rollback the failed remediation: {r.output['action_taken']}", toolbox=tb, scope=scope,
                               deadline=time.monotonic() + 120)
    assert rb.output["action_taken"] == "kubectl rollout undo deployment/checkout -n shop"
    assert [a.action for a in api.actions] == ["rollout-restart", "rollout-undo"]
    assert rb.output["result"] in ("partial", "success")


def test_a_diagnosis_reads_the_cluster_along_its_dependencies(cluster) -> None:
    """Reads that do not depend on each other run at the same time (threads over the toolbox's `shell`): the
    Deployment with what it depends on (Services, Endpoints, HPAs, PDBs, quotas, NetworkPolicies in one call; events;
    nodes); its pods, ReplicaSets and usage once the Deployment is read; the pods' logs once the pods are. A read
    waits for the answer it needs, not for the rest of its round: here the namespace's context answers slowly, and
    neither the pods nor their logs wait for it."""
    import threading

    from aof_airflow.agent.tools.toolbox import Toolbox

    CONTEXT = "kubectl get services,endpoints,horizontalpodautoscalers,poddisruptionbudgets,resourcequotas,networkpolicies"

    class Timed(Toolbox):
        """Records when each shell call ran; the context's answer comes a second late."""

        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.spans: dict[str, tuple[float, float]] = {}
            self.lock = threading.Lock()

        def shell(self, command):
            t0 = time.monotonic()
            call = super().shell(command)
            if command.startswith(CONTEXT):
                time.sleep(1.0)
            with self.lock:
                assert command not in self.spans, f"read twice: {command}"
                self.spans[command] = (t0, time.monotonic())
            return call

    sc, api, scope = cluster("rules-oomkilled")
    agent = seed_agent("diagnostic-agent", model=MODEL, memory=None)
    with Timed(agent, scope, deadline=time.monotonic() + 120) as tb:
        r = RulesEngine().run(agent, "Diagnose this incident", toolbox=tb, scope=scope, deadline=time.monotonic() + 120)
    assert r.output["severity"] == "high" and "OOMKilled" in r.output["root_cause"]
    spans = tb.spans
    of = lambda words: [v for c, v in spans.items() if " ".join(c.split()[:3]) == words]
    (target,), (context,), (pods,) = of("kubectl get deployment"), [v for c, v in spans.items() if c.startswith(CONTEXT)], of("kubectl get pods")
    first = [target, context, *of("kubectl get events"), *of("kubectl get nodes")]
    assert len(first) == 4 and max(t0 for t0, _ in first) < min(t1 for _, t1 in first)  # the first four together
    second = [pods, *of("kubectl get replicasets"), *of("kubectl top pods")]
    assert len(second) == 3 and all(t0 >= target[1] for t0, _ in second)  # they need the Deployment's selector
    logs = [v for c, v in spans.items() if c.startswith("kubectl logs ")]
    assert logs and all(t0 >= pods[1] for t0, _ in logs)  # they need the pods
    assert all(t0 < context[1] for t0, _ in second + logs)  # ...and nothing else: the slow context held none of them
    assert len(r.tool_calls) == len(spans) == len(first) + len(second) + len(logs)  # every command recorded, once
    assert r.output["reads"]["kubectl_calls"] == len(r.tool_calls) and r.output["reads"]["seconds"] > 0
