"""A change is dry-run on the server, its target snapshotted, then applied -- and never applied twice in a run."""

from __future__ import annotations

from aof_airflow.agent.tools import Toolbox
from aof_airflow.agent.types import AgentScope
from tests.unit.agent.helpers import make_agent, seed_agent, shell_tool

RECORDING_KUBECTL = r"""
case "$*" in
  *--dry-run=server*) case "$*" in *broken*) echo "Error: deployments.apps broken not found"; exit 1;; esac
                      echo "deployment.apps/api scaled (server dry run)";;
  "get "*"-o yaml"*) printf 'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  replicas: 2\n';;
  *) echo "deployment.apps/api scaled";;
esac
"""
SCOPE = AgentScope(flow="incident-response", run_id="run-1", node_id="remediate", service="api", namespace="prod")


def test_mutating_call_runs_dry_run_and_snapshot_then_change(canary_bin):
    canary_bin.add("kubectl", RECORDING_KUBECTL)
    box = Toolbox(seed_agent("remediation"), SCOPE)  # the seed's remediation agent, as written: purpose remediation
    call = box.shell("kubectl scale deployment/api --replicas=3")
    assert call.ok, call.output
    ran = canary_bin.ran()
    assert sorted(ran[:2]) == [  # both only read: run together
        "kubectl get deployment/api -o yaml --namespace=prod",
        "kubectl scale deployment/api --replicas=3 --namespace=prod --dry-run=server",
    ]
    assert ran[2:] == ["kubectl scale deployment/api --replicas=3 --namespace=prod"]  # the change comes last
    [action] = box.actions
    assert action.command == "kubectl scale deployment/api --replicas=3 --namespace=prod"
    assert "server dry run" in action.dry_run
    assert "replicas: 2" in action.snapshot  # the state BEFORE the change
    assert action.ok and "scaled" in action.result


def test_type_and_name_targets_and_selectors_are_snapshotted(canary_bin):
    canary_bin.add("kubectl", RECORDING_KUBECTL)
    box = Toolbox(make_agent(labels={"purpose": "remediation"}, tools=[shell_tool("kubectl")]), SCOPE)
    assert box.shell("kubectl rollout restart deployment api").ok  # dry run: the equivalent patch
    assert box.shell("kubectl delete pod -l app=api").ok
    gets = [r for r in canary_bin.ran() if r.startswith("kubectl get")]
    assert gets == ["kubectl get deployment api -o yaml --namespace=prod", "kubectl get pod -l app=api -o yaml --namespace=prod"]


def test_failed_dry_run_stops_the_change(canary_bin):
    canary_bin.add("kubectl", RECORDING_KUBECTL)
    box = Toolbox(seed_agent("remediation"), SCOPE)
    call = box.shell("kubectl scale deployment/broken --replicas=3")
    assert not call.ok and "NOT made" in call.output
    assert sorted(canary_bin.ran()) == ["kubectl get deployment/broken -o yaml --namespace=prod",  # a read
                                        "kubectl scale deployment/broken --replicas=3 --namespace=prod --dry-run=server"]
    assert box.actions == []


def test_a_retried_task_does_not_apply_the_same_change_twice(canary_bin):
    canary_bin.add("kubectl", RECORDING_KUBECTL)
    first = Toolbox(seed_agent("remediation"), SCOPE)
    assert first.shell("kubectl scale deployment/api --replicas=3").ok
    runs = len(canary_bin.ran())
    retry = Toolbox(seed_agent("remediation"), SCOPE)  # the task's second try: same run, same node
    call = retry.shell("kubectl scale deployment/api --replicas=3")
    assert call.ok and "already applied" in call.output
    assert len(canary_bin.ran()) == runs  # nothing ran again
    assert retry.actions[0].snapshot == first.actions[0].snapshot
    other_run = Toolbox(seed_agent("remediation"), AgentScope(**{**SCOPE.__dict__, "run_id": "run-2"}))
    assert other_run.shell("kubectl scale deployment/api --replicas=3").ok
    assert len(canary_bin.ran()) == runs + 3


def test_the_seed_diagnostic_agent_is_read_only(canary_bin):
    box = Toolbox(seed_agent("diagnostic"), SCOPE)
    assert box.shell("kubectl scale deployment/api --replicas=3").refused
    assert box.shell("kubectl get deployment/api").ok
    assert canary_bin.ran() == ["kubectl get deployment/api --namespace=prod"]
    box.close()


def test_a_retried_restart_is_the_same_change_whatever_its_timestamp(canary_bin):
    """`rollout restart` travels as a patch stamped with the time: the retry's stamp differs, the change does not."""
    from aof_airflow.agent.rules.remediate import restart_command

    canary_bin.add("kubectl", RECORDING_KUBECTL)
    first = Toolbox(seed_agent("remediation"), SCOPE)
    assert first.shell(restart_command("deployment/api", "prod", now="2026-11-27T20:40:00Z")).ok
    runs = len(canary_bin.ran())
    retry = Toolbox(seed_agent("remediation"), SCOPE)
    call = retry.shell(restart_command("deployment/api", "prod", now="2026-11-27T20:41:01Z"))
    assert call.ok and "already applied" in call.output
    assert len(canary_bin.ran()) == runs
    assert retry.shell(restart_command("deployment/web", "prod", now="2026-11-27T20:41:02Z")).ok  # another target
    assert len(canary_bin.ran()) > runs
