"""The guards on changes, through the whole stack (sandbox Kubernetes API, the real kubectl, the guarded Toolbox,
the rules engine as the remediation agent runs it): the remediation budget, denied namespaces, shadow mode, and
the check that a model's proposed change is supported by the evidence."""

from __future__ import annotations

import time

import pytest
import yaml

from aof_airflow.agent import action_guard
from aof_airflow.agent.rules import MODEL
from aof_airflow.agent.rules.engine import RulesEngine
from aof_airflow.agent.tools import guards
from aof_airflow.agent.types import AgentResult, AgentScope

from .test_sandbox_e2e import isolated, seed_agent  # noqa: F401  (the same isolated environment)

kube = pytest.importorskip("aof_lab.sandbox.kube")
from aof_lab.sandbox.runner import DEMO_SCENARIOS
from aof_lab.sandbox.scenario import SCENARIO_DIR, Scenario, load_scenario


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """Start the sandbox API for one or more scenarios (objects, or names) and point KUBECONFIG at it."""
    started = []

    def start(*scenarios: Scenario | str):
        scs = [load_scenario(s) if isinstance(s, str) else s for s in scenarios]
        api = kube.KubeAPI(scs).start()
        started.append(api)
        monkeypatch.setenv("KUBECONFIG", str(api.kubeconfig(tmp_path / f"k{len(started)}.kubeconfig", scs[0].incident.namespace)))
        return api

    yield start
    for api in started:
        api.stop()


def scope_for(sc: Scenario, run: str, node: str) -> AgentScope:
    return AgentScope(flow="incident-auto-response", run_id=run, node_id=node, incident_id=sc.incident.id,
                      service=sc.incident.service, namespace=sc.incident.namespace, resource=sc.incident.resource)


def diagnose(sc: Scenario, run: str) -> dict:
    from aof_airflow.agent.tools.toolbox import Toolbox

    diag = seed_agent("diagnostic-agent", model=MODEL, memory=None)
    s = scope_for(sc, run, "diagnose")
    with Toolbox(diag, s, deadline=time.monotonic() + 120) as tb:
        return RulesEngine().run(diag, "Diagnose", toolbox=tb, scope=s, deadline=time.monotonic() + 120).output


def remediate(sc: Scenario, run: str, action: str) -> tuple[dict, list]:
    """The seed flow's remediate node: its prompt as the flow renders it, the recommended action approved."""
    from aof_airflow.agent.tools.toolbox import Toolbox

    fix = seed_agent("remediation-agent", model=MODEL, memory=None)
    s = scope_for(sc, run, "remediate")
    prompt = (f"Execute the following remediation:\n\nAction: {action}\nNamespace: {sc.incident.namespace}\n"
              f"Resource: {sc.incident.resource}\n\nVerify the fix works and monitor for 60 seconds.\n")
    with Toolbox(fix, s, deadline=time.monotonic() + 120) as tb:
        r = RulesEngine().run(fix, prompt, toolbox=tb, scope=s, deadline=time.monotonic() + 120)
    return r.output, r.actions


def alert(sc: Scenario, run: str) -> tuple[dict, dict]:
    """One incident as the tutorial's flow handles it: diagnose, then remediate the recommended action."""
    d = diagnose(sc, run)
    return d, remediate(sc, run, d["recommended_action"])[0]


def test_twenty_alerts_for_one_deployment_make_at_most_the_budget_of_changes(sandbox, monkeypatch) -> None:
    """TEST001's leak in a cluster where a restart does not heal (the new pods fail the same way): 20 alerts
    within minutes, each auto-approving the diagnosis' restart. Three restarts are applied; the other seventeen
    are refused and escalated with the history of the three."""
    monkeypatch.setenv("AOF_RULES_VERIFY_WINDOW", "0")
    monkeypatch.setenv("AOF_REMEDIATION_BUDGET", "3")
    monkeypatch.setenv("AOF_REMEDIATION_BUDGET_WINDOW", "10m")
    sc = load_scenario("high-memory-api").model_copy(update={"on_action": {"rollout-restart": "still-failing"}})
    api = sandbox(sc)
    first = diagnose(sc, "pd-TEST001-0")
    assert first["recommended_action"].startswith("kubectl rollout restart deployment/api") and not first["requires_approval"]
    outcomes = [remediate(sc, f"pd-TEST001-{i}", first["recommended_action"])[0] for i in range(20)]
    restarts = [a for a in api.actions if a.action == "rollout-restart"]
    assert len(api.actions) == len(restarts) == 3  # the cluster saw three changes, no more
    applied = [r for r in outcomes if r["action_taken"].startswith("kubectl patch deployment/api")]
    refused = [r for r in outcomes if r["action_taken"].startswith("none (refused)")]
    assert len(applied) == 3 and len(refused) == 17
    assert all(r["result"] != "success" for r in outcomes)
    for r in refused:  # escalated: failed, nothing to roll back, the history quoted
        assert r["result"] == "failed" and r["rollback_needed"] is False
        assert "remediation budget spent: 3 change(s) to deployment/api in production" in r["verification"]
        assert all(f"run pd-TEST001-{i}" in r["verification"] for i in range(3))
    ledger = guards.history("production", "deployment/api")
    assert [row["run_id"] for row in ledger] == ["pd-TEST001-0", "pd-TEST001-1", "pd-TEST001-2"]
    deployment = api.store.get(kube.kr.BY_KIND["Deployment"], "production", "api")
    stamp = deployment["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"]
    assert stamp in applied[-1]["action_taken"]  # the last applied restart is the cluster's state


def test_the_budget_lets_a_run_undo_its_own_change(sandbox, monkeypatch) -> None:
    monkeypatch.setenv("AOF_REMEDIATION_BUDGET", "1")
    sc = load_scenario("high-memory-api")
    sandbox(sc)
    limits = guards.Limits.from_settings()
    mine = scope_for(sc, "run-a", "remediate")
    guards.record(mine, "production", ["deployment/api"], "kubectl rollout restart deployment/api", "applied")
    assert guards.refusal(limits, scope_for(sc, "run-a", "rollback"), "production", ["deployment/api"]) is None
    assert "budget spent" in guards.refusal(limits, scope_for(sc, "run-b", "remediate"), "production", ["deployment/api"])


def test_concurrent_remediations_are_capped_over_the_deployment(sandbox, monkeypatch) -> None:
    monkeypatch.setenv("AOF_MAX_CONCURRENT_REMEDIATIONS", "1")
    sc = load_scenario("high-memory-api")
    sandbox(sc)
    guards.record(scope_for(sc, "run-a", "remediate"), "shop", ["deployment/cart"], "kubectl rollout restart deployment/cart", "applied")
    why = guards.refusal(guards.Limits.from_settings(), scope_for(sc, "run-b", "remediate"), "production", ["deployment/api"])
    assert why and "1 mutating remediation(s) already running" in why and "run run-a" in why


def test_a_retry_that_finds_its_change_made_frees_the_dead_tries_slot(sandbox, monkeypatch) -> None:
    """A worker dies after `remediate` restarted the Deployment and before its Toolbox closed: the ledger still
    says that remediation is running. The retry (the same run and node) finds the workload healed and changes
    nothing, and when it ends the dead try's slot ends with it (before: it stayed taken for guards.LEASE,
    15 minutes, and counted against `max_concurrent_remediations` for every other incident; found by the
    distributed worker-crash test, whose next test's incidents were refused for it)."""
    monkeypatch.setenv("AOF_RULES_VERIFY_WINDOW", "0")
    monkeypatch.setenv("AOF_MAX_CONCURRENT_REMEDIATIONS", "1")
    sc = load_scenario("high-memory-api")
    api = sandbox(sc)
    action = diagnose(sc, "pd-CRASH")["recommended_action"]
    limits = guards.Limits.from_settings()
    other = scope_for(sc, "pd-OTHER", "remediate")
    with monkeypatch.context() as dead:
        dead.setattr(guards, "release", lambda ids: None)  # the process died: nothing released
        remediate(sc, "pd-CRASH", action)
    assert len(api.actions) == 1
    assert "run pd-CRASH (remediate)" in (guards.refusal(limits, other, "shop", ["deployment/cart"]) or "")
    remediate(sc, "pd-CRASH", action)  # the retry
    assert len(api.actions) == 1  # not applied twice
    assert guards.refusal(limits, other, "shop", ["deployment/cart"]) is None  # and the slot is free


def in_namespace(name: str, ns: str) -> Scenario:
    """A shipped scenario moved to another namespace (the same objects, as a webhook naming `ns` would find them)."""
    data = yaml.safe_load((SCENARIO_DIR / f"{name}.yaml").read_text())
    old = data["incident"]["namespace"]
    for key in ("logs", "metrics"):
        data[key] = {f"{ns}/{k.split('/', 1)[1]}": v for k, v in (data.get(key) or {}).items()}
    text = yaml.safe_dump(data).replace(f"namespace: {old}", f"namespace: {ns}").replace(f"_{old}(", f"_{ns}(")
    return Scenario.model_validate(yaml.safe_load(text))


def test_a_webhook_naming_a_denied_namespace_is_diagnosed_read_only_and_escalated(sandbox) -> None:
    """TEST001's objects in kube-system: the diagnosis still reads them, recommends no automated change (the
    deployment denies kube-system to automation); even a restart someone approves is refused by the toolbox."""
    from aof_airflow.agent.tools.toolbox import Toolbox

    sc = in_namespace("high-memory-api", "kube-system")
    api = sandbox(sc)
    d, r = alert(sc, "pd-KS-1")
    assert "oom-killed" in d["root_cause"]  # diagnosed
    assert d["recommended_action"].startswith("none: no automated action; namespace 'kube-system' is denied to automation")
    assert r["result"] == "failed" and r["action_taken"].startswith("none:")
    fix = seed_agent("remediation-agent", model=MODEL, memory=None)
    s = scope_for(sc, "pd-KS-1", "remediate-again")
    forced, _ = remediate(sc, "pd-KS-1b", "kubectl rollout restart deployment/api -n kube-system")
    with Toolbox(fix, s, deadline=time.monotonic() + 60) as tb:
        call = tb.shell("kubectl scale deployment/api --replicas=5 -n kube-system")
    assert forced["action_taken"].startswith("none (refused)") and "denied to automation" in forced["verification"]
    assert call.refused and "kube-system" in call.refused
    assert api.actions == []  # no change reached the cluster


def test_shadow_mode_on_the_demo_incidents_changes_nothing_and_records_what_would_have_run(sandbox, monkeypatch) -> None:
    """The tutorial's incidents in shadow mode: every proposed change runs as a server dry run and is recorded as
    "would have run"; the cluster sees no change. TEST003's diagnosis proposes no change (a restart would not fix
    an OOM soon after every start), so it records none."""
    from aof_airflow.agent.tools.toolbox import Toolbox

    monkeypatch.setenv("AOF_SHADOW_FLOWS", "incident-*")
    monkeypatch.setenv("AOF_RULES_VERIFY_WINDOW", "0")
    scs = [load_scenario(n) for n in DEMO_SCENARIOS]
    api = sandbox(*scs)
    fix = seed_agent("remediation-agent", model=MODEL, memory=None)
    with Toolbox(fix, scope_for(scs[0], "x", "remediate"), deadline=time.monotonic() + 5) as tb:
        assert tb.shadow  # the flow's name matches [aof] shadow_flows
    shadows, outputs = [], {}
    for sc in scs:
        d = diagnose(sc, f"pd-{sc.incident.id}")
        outputs[sc.incident.id], actions = remediate(sc, f"pd-{sc.incident.id}", d["recommended_action"])
        shadows += [(sc.incident.id, a) for a in actions if a.shadow]
    assert api.actions == []  # 0 changes in the sandbox cluster
    assert [i for i, _ in shadows] == ["TEST001", "TEST002"]
    for incident, a in shadows:
        assert a.result.startswith("SHADOW MODE: not applied. Would have run: kubectl patch")
        assert "--dry-run=server" in a.dry_run and "patched" in a.dry_run  # the server's dry-run answer
        assert outputs[incident]["action_taken"].startswith("shadow: would have run kubectl patch")
        assert outputs[incident]["result"] == "failed" and outputs[incident]["rollback_needed"] is False
    assert outputs["TEST003"]["action_taken"].startswith("none:")
    assert guards.count("shadow") == 2 and guards.count("applied") == 0


def llm_answer(action: str) -> AgentResult:
    out = {"severity": "high", "root_cause": "model says so", "affected_components": [], "impact": "-",
           "recommended_action": action, "requires_approval": False, "confidence": 0.85}
    return AgentResult(output=out, text="", model="anthropic:claude-test", source="llm")


def test_a_models_unsupported_restart_needs_approval_and_a_supported_one_does_not(sandbox) -> None:
    from aof_airflow.agent.tools.toolbox import Toolbox

    agent = seed_agent("diagnostic-agent", memory=None)
    sc = load_scenario("ext-readiness-wrong-port")
    sandbox(sc)
    res = llm_answer("kubectl rollout restart deployment/search-engine -n ext-search")
    with Toolbox(agent, scope_for(sc, "llm-1", "diagnose"), deadline=time.monotonic() + 60) as tb:
        action_guard.check(res, tb, scope_for(sc, "llm-1", "diagnose"))
    assert res.output["requires_approval"] is True
    reason = res.output["approval_reason"]  # the restart's own checks, whatever the model named as the cause
    assert reason.startswith("rollout-restart contraindicated") and "probe-misconfigured" in reason and "8081" in reason
    assert any(n.startswith("[aof guard] rollout-restart needs approval") for n in res.notes)

    sc = load_scenario("high-memory-api")
    sandbox(sc)
    res = llm_answer("Restart the api deployment: kubectl rollout restart deployment/api -n production")
    with Toolbox(agent, scope_for(sc, "llm-2", "diagnose"), deadline=time.monotonic() + 60) as tb:
        action_guard.check(res, tb, scope_for(sc, "llm-2", "diagnose"))
    assert res.output["requires_approval"] is False and "approval_reason" not in res.output

    # An undo the model proposes for the leak: the newest revision is 12 h old and the failures did not begin
    # with it -- not proven, so a human decides, whatever the model's confidence.
    res = llm_answer("kubectl rollout undo deployment/api -n production")
    with Toolbox(agent, scope_for(sc, "llm-3", "diagnose"), deadline=time.monotonic() + 60) as tb:
        action_guard.check(res, tb, scope_for(sc, "llm-3", "diagnose"))
    assert res.output["requires_approval"] is True and "failures-began-with-new-pods" in res.output["approval_reason"]


def test_the_demo_incidents_keep_their_outcomes(sandbox, monkeypatch) -> None:
    """The tutorial's incidents as the seed flow's branches see them: TEST001 auto-approved, restarted, healed;
    TEST002 critical, so it waits for a human, and the approved restart heals; TEST003 recommends no change (a
    restart would not fix an OOM ~40 s after every start), so remediation fails verification, the rollback has
    nothing to undo and the flow escalates -- with no change to the cluster."""
    monkeypatch.setenv("AOF_RULES_VERIFY_WINDOW", "5")
    scs = {sc.incident.id: sc for sc in (load_scenario(n) for n in DEMO_SCENARIOS)}
    api = sandbox(*scs.values())
    out = {}
    for incident, sc in scs.items():
        d = diagnose(sc, f"pd-{incident}")
        r, _ = remediate(sc, f"pd-{incident}", d["recommended_action"])
        out[incident] = (d, r)
    d1, r1 = out["TEST001"]
    assert (d1["severity"], d1["requires_approval"]) == ("high", False)  # is_critical false, needs_approval false
    assert r1["result"] == "success" and r1["action_taken"].startswith("kubectl patch deployment/api"), r1["verification"]
    d2, r2 = out["TEST002"]
    assert (d2["severity"], d2["requires_approval"]) == ("critical", True)  # request-approval
    assert r2["result"] == "success" and r2["action_taken"].startswith("kubectl patch statefulset/postgres"), r2["verification"]
    d3, r3 = out["TEST003"]
    assert (d3["severity"], d3["requires_approval"]) == ("high", False) and d3["recommended_action"].startswith("none:")
    assert r3["result"] == "failed" and "still failing" in r3["verification"]  # remediation-failed: true
    from aof_airflow.agent.tools.toolbox import Toolbox

    fix = seed_agent("remediation-agent", model=MODEL, memory=None)
    s = scope_for(scs["TEST003"], "pd-TEST003", "rollback")
    with Toolbox(fix, s, deadline=time.monotonic() + 60) as tb:
        rb = RulesEngine().run(fix, f"Rollback the failed remediation: {r3['action_taken']}", toolbox=tb, scope=s,
                               deadline=time.monotonic() + 60).output
    assert rb["action_taken"].startswith("none:") and "nothing to roll back" in rb["action_taken"]
    assert [(a.action, a.resource) for a in api.actions] == [("rollout-restart", "deployment/api"),
                                                            ("rollout-restart", "statefulset/postgres")]


def test_a_daemonsets_bad_release_is_undone_end_to_end_through_real_kubectl(sandbox, monkeypatch) -> None:
    """A DaemonSet's newest ControllerRevision crash-loops on one node: the diagnosis proves the undo, the remediation
    runs `kubectl rollout undo daemonset/...` (kubectl reads the ControllerRevisions and patches the template
    back) and the sandbox's DaemonSet controller replaces the pods with the previous template's."""
    from aof_lab import rules_eval

    monkeypatch.setenv("AOF_RULES_VERIFY_WINDOW", "0")
    path = rules_eval.__file__.rsplit("/", 2)[0] + "/eval_sets/fresh-2026-12/fr-logship-ds-bad-release.yaml"
    sc = load_scenario(path)
    api = sandbox(sc)
    d = diagnose(sc, "pd-ds-undo")
    assert d["recommended_action"].startswith("kubectl rollout undo daemonset/log-forwarder") and not d["requires_approval"]
    out, actions = remediate(sc, "pd-ds-undo", d["recommended_action"])
    assert [(a.action, a.resource, a.outcome) for a in api.actions] == [("rollout-undo", "daemonset/log-forwarder", "heal")]
    assert out["result"] == "success", out
