"""Severity from impact: every replica behind a Service pinned at its CPU limit, or logging errors, is high (users
see it now); the same over the several replicas of a worker no Service fronts (its work fails whichever replica
takes it); a single worker replica's errors are not raised by this rule. A schedule blocked by a Job far past its
history is high."""

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


def test_a_schedule_blocked_by_a_job_far_past_its_history_is_high() -> None:
    from .test_job_pod_hung import hung

    o = hung()
    assert sev(o) == "medium"
    o.events = [{"involvedObject": {"kind": "CronJob", "name": "import"}, "reason": "JobAlreadyActive", "type": "Normal",
                 "message": "Not starting job because prior execution is running and concurrency policy is Forbid"}]
    assert sev(o) == "high"


def test_evictions_over_the_pods_own_limit_recur_and_are_not_low() -> None:
    from aof_airflow.agent.rules.detectors import detect_evicted

    o = serving()
    gone = pod("api-old1", ready=False)
    gone["status"].update(phase="Failed", reason="Evicted",
                          message="Pod ephemeral local storage usage exceeds the total limit of containers 2Gi.")
    o.pods.append(gone)
    assert sev(o) == "medium"
    f = detect_evicted(o)
    assert f is not None and "own ephemeral storage" in f.summary and f.action == "none"
    gone["status"]["message"] = "The node was low on resource: ephemeral-storage."
    assert "node low on" in detect_evicted(o).summary
