"""Action mapping (ours and a model's wording), rollback mapping, and the verification loop."""

from __future__ import annotations

import pytest

from aof_airflow.agent.rules import remediate as rx
from aof_airflow.agent.rules.detectors import Finding
from aof_airflow.agent.rules.diagnose import Diagnosis


def diag(cls: str = "crash-loop", affected: list[str] | None = None) -> Diagnosis:
    f = Finding(cls=cls, summary="s", evidence=["e"], action="none", affected=affected or [])
    return Diagnosis(primary=f, others=[], severity="high", ready=0, desired=1)


@pytest.mark.parametrize("text,action", [
    ("kubectl rollout restart deployment/api -n prod (raise the memory limit)", "rollout-restart"),
    ("kubectl rollout undo deployment/cart -n shop", "rollout-undo"),
    ("kubectl scale deployment/ledger --replicas=3 -n ledger", "scale"),
    ("kubectl delete pod profile-abc-s5t6k -n profile", "delete-pod"),
    ("none: no automated action; create configmap x", "none"),
    ("Restart the api pods to clear the leaked memory", "rollout-restart"),
    ("Roll back to the previous revision", "rollout-undo"),
    ("Scale the deployment to 5 replicas", "scale"),
    ("Increase the memory limit to 1Gi", "none"),  # a change the rules do not make
])
def test_classify(text: str, action: str) -> None:
    assert rx.classify(text)[0] == action


def test_plan_restart_is_the_dry_runnable_patch() -> None:
    p = rx.plan("kubectl rollout restart deployment/api -n prod", diag(), "deployment/api", "prod")
    assert p.action == "rollout-restart" and p.command.startswith("kubectl patch deployment/api -n prod --type=merge -p ")
    assert "kubectl.kubernetes.io/restartedAt" in p.command
    assert rx.classify(p.command) == ("rollout-restart", {"target": "deployment/api"})


def test_plan_refuses_another_target() -> None:
    p = rx.plan("kubectl rollout undo deployment/billing -n prod", diag(), "deployment/api", "prod")
    assert p.action == "none" and p.command is None and "not the incident's workload" in p.why


def test_plan_scale_needs_a_count() -> None:
    assert rx.plan("scale it up", diag(), "deployment/api", "prod").action == "none"
    assert rx.plan("Scale the deployment to 4 replicas", diag(), "deployment/api", "prod").command == \
        "kubectl scale deployment/api --replicas=4 -n prod"


def test_plan_delete_pod_uses_named_pods_else_affected() -> None:
    assert rx.plan("kubectl delete pod a-1 b-2 -n ns", diag(), "deployment/a", "ns").command == "kubectl delete pod a-1 b-2 -n ns"
    assert rx.plan("delete the stuck pod", diag(affected=["a-9"]), "deployment/a", "ns").command == "kubectl delete pod a-9 -n ns"


def test_plan_undo_for_workloads_with_revisions_only() -> None:
    assert rx.plan("kubectl rollout undo statefulset/pg", diag(), "statefulset/pg", "db").command == \
        "kubectl rollout undo statefulset/pg -n db"
    assert rx.plan("kubectl rollout undo daemonset/agent", diag(), "daemonset/agent", "ops").command == \
        "kubectl rollout undo daemonset/agent -n ops"
    assert rx.plan("roll back to the previous revision", diag(), "job/export", "ops").action == "none"


@pytest.mark.parametrize("failed,action", [
    ("kubectl rollout restart deployment/api -n prod", "rollout-undo"),
    (rx.restart_command("deployment/api", "prod"), "rollout-undo"),
    ("kubectl rollout undo deployment/api -n prod", "none"),
    ("kubectl scale deployment/api --replicas=3 -n prod", "none"),
    ("kubectl delete pod api-1 -n prod", "none"),
    ("none: the diagnosis recommends no automated action", "none"),
])
def test_rollback_plan(failed: str, action: str) -> None:
    assert rx.rollback_plan(failed, "deployment/api", "prod").action == action


def test_verify_stops_when_healthy_and_times_out_otherwise() -> None:
    seq = iter([diag("crash-loop"), diag("crash-loop"), diag("no-fault-found")])
    slept: list[float] = []
    healthy, d, rounds = rx.verify(lambda: next(seq), 60, interval=1, sleep=slept.append)
    assert healthy and rounds == 3 and d.cls == "no-fault-found" and slept == [1, 1]
    healthy, d, rounds = rx.verify(lambda: diag("crash-loop"), 0, interval=1, sleep=slept.append)
    assert not healthy and rounds == 1


def test_action_line_is_read_from_the_seed_prompt() -> None:
    prompt = "Execute the following remediation:\n\nAction: kubectl rollout undo deployment/x -n y\nNamespace: y\n"
    assert rx.parse_action_line(prompt) == "kubectl rollout undo deployment/x -n y"
