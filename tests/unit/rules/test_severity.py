"""Severity from impact: every replica behind a Service pinned at its CPU limit, or logging errors, is high (users
see it now); the same over the several replicas of a worker no Service fronts (its work fails whichever replica
takes it); a single worker replica's errors are not raised by this rule. Half the capacity or less is high; a
rollout held while the previous revision serves every desired replica is low; a schedule blocked by a Job far past
its history is high."""

from __future__ import annotations

from aof_airflow.agent.rules.diagnose import severity_for
from aof_airflow.agent.rules.inventory import inventory

from .test_actions import at, deployment, obs, pod

SERVICE = {"metadata": {"name": "api"}, "spec": {"selector": {"app": "api"}}}


def serving(errors: bool = False, cpu: int = 100, service: bool = True, replicas: int = 2):
    d = deployment(replicas=replicas, ready=replicas)
    pods = [pod(f"api-{i}", started=at(30)) for i in range(1, replicas + 1)]
    line = f"{at(0.05)} " + ("error upstream: x509: certificate has expired" if errors else "info served 120 requests")
    return obs(deployment=d, target=d, pods=pods, services=[SERVICE] if service else [],
               logs={"api-1/api": line, "api-2/api": line}, cpu_usage={"api-1": cpu, "api-2": cpu})


def sev(o) -> str:
    return severity_for(o, inventory(o))[0]


def test_errors_in_every_serving_replica_are_high() -> None:
    assert sev(serving()) == "low"
    assert sev(serving(errors=True)) == "high"
    assert sev(serving(errors=True, service=False)) == "high"
    assert sev(serving(errors=True, service=False, replicas=1)) == "medium"


def test_every_serving_replica_at_its_cpu_limit_is_high() -> None:
    assert sev(serving(cpu=995)) == "high"
    assert sev(serving(cpu=995, service=False)) == "high"
    assert sev(serving(cpu=995, service=False, replicas=1)) == "medium"


def test_half_the_capacity_or_less_is_high() -> None:
    d = deployment(replicas=4, ready=2)
    pods = [pod(f"api-{i}", ready=i <= 2) for i in range(1, 5)]
    assert sev(obs(deployment=d, target=d, pods=pods)) == "high"
    d = deployment(replicas=4, ready=3)
    assert sev(obs(deployment=d, target=d, pods=pods)) == "medium"


def test_a_rollout_held_while_the_previous_revision_serves_everything_is_low() -> None:
    from .test_actions import replicaset, template

    d = deployment(replicas=2, ready=2, rolling=True)
    new = replicaset("api-new", 2, template("shop/api:2"), created=at(0.5), ready=0)
    old = replicaset("api-old", 1, template("shop/api:1"), created=at(48), ready=2)
    pods = [pod("api-old-1", owner="api-old"), pod("api-old-2", owner="api-old"), pod("api-new-1", ready=False, phase="Pending")]
    o = obs(deployment=d, target=d, replicasets=[new, old], pods=pods)
    assert sev(o) == "low"
    o.pods[0] = pod("api-old-1", owner="api-old", ready=False, restarts=3)  # an old replica fails too: not held, degraded
    o.deployment["status"]["readyReplicas"] = 1
    assert sev(o) != "low"


def test_a_schedule_blocked_by_a_job_far_past_its_history_is_high() -> None:
    from .test_job_pod_hung import hung

    o = hung()
    assert sev(o) == "medium"
    o.events = [{"involvedObject": {"kind": "CronJob", "name": "import"}, "reason": "JobAlreadyActive", "type": "Normal",
                 "message": "Not starting job because prior execution is running and concurrency policy is Forbid"}]
    assert sev(o) == "high"
