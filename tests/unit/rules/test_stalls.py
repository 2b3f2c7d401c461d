"""A process that stopped making progress while Kubernetes sees it Ready: its log went silent while the other
replicas of the same controller keep logging. Hand-built objects (tests/unit/rules/test_actions.py's builders)."""

from __future__ import annotations

from aof_airflow.agent.rules import actions as ax
from aof_airflow.agent.rules import facts as F
from aof_airflow.agent.rules.detectors import detect_resource_exhausted, detect_stalled_process
from aof_airflow.agent.rules.diagnose import diagnose

from .test_actions import at, deployment, obs, pod, without


def log(*hours_ago: float, text: str = "INFO batch done") -> str:
    return "\n".join(f"{at(h)} {text}" for h in hours_ago) + "\n"


def stalled():
    """Three Ready replicas; api-1 logged its last line 45 min ago (waiting on its pool), the others log each 5 min."""
    d = deployment(replicas=3, ready=3)
    pods = [pod(f"api-{i}", started=at(200)) for i in (1, 2, 3)]
    logs = {"api-1/api": log(1.0, 0.8) + f"{at(0.75)} DEBUG acquiring db connection (pool size 4, in use 4)\n",
            "api-2/api": log(0.5, 0.25, 0.08), "api-3/api": log(0.5, 0.25, 0.08)}
    return obs(deployment=d, target=d, pods=pods, logs=logs)


def test_the_silent_replica_is_stalled_and_its_last_line_quoted() -> None:
    o = stalled()
    assert [p for p, _ in F.stuck_pods(o)] == ["api-1"]
    f = detect_stalled_process(o)
    assert f is not None and f.cls == "process-stalled" and f.affected == ["api-1"]
    assert "pool size 4, in use 4" in f.summary
    d = ax.decide(o, f.action, f.command)
    assert d.action == "delete-pod" and d.proven and d.command == "kubectl delete pod api-1 -n shop", d.why
    assert diagnose(o).primary.cls == "process-stalled"


def test_a_quiet_workload_is_not_a_stall() -> None:
    """Every replica quiet for the same time (nothing to do): no sibling shows the clock moving on."""
    o = stalled()
    o.logs = {f"api-{i}/api": log(1.0, 0.75) for i in (1, 2, 3)}
    assert detect_stalled_process(o) is None and F.stuck_pods(o) == []


def test_a_replica_logging_like_its_siblings_is_not_a_stall() -> None:
    o = stalled()
    o.logs["api-1/api"] = log(0.5, 0.1)
    assert detect_stalled_process(o) is None and F.stuck_pods(o) == []


def exhausted(uptime_hours: float = 16 * 24):
    d = deployment(replicas=2, ready=2)
    pods = [pod(f"api-{i}", started=at(uptime_hours)) for i in (1, 2)]
    line = (f"{at(0.1)} info stats fds_open=65514 fds_limit=65536\n"
            f"{at(0.05)} error http: Accept error: accept4: too many open files; retrying in 1s\n")
    return obs(deployment=d, target=d, pods=pods, logs={"api-1/api": line, "api-2/api": line})


def test_descriptors_exhausted_after_days_of_uptime_prove_a_restart() -> None:
    o = exhausted()
    f = detect_resource_exhausted(o)
    assert f is not None and f.cls == "resource-exhausted" and f.action == "rollout-restart"
    assert "too many open files" in f.summary and "fds_limit=65536" in f.summary
    v = ax.verdict("rollout-restart", o)
    assert v.proven, v.summary()
    assert ax.verdict("rollout-restart", o, without("rollout-restart", "grows-with-uptime-or-stalled")).proven
    assert dict(v.held)["grows-with-uptime-or-stalled"].startswith("pod api-1 container api, up 16.0 days")


def test_exhaustion_soon_after_start_is_not_a_leak() -> None:
    """Out of descriptors one hour after start: the limit is too low for the load, a new process does the same."""
    o = exhausted(uptime_hours=1)
    assert detect_resource_exhausted(o) is None and F.exhausted_with_uptime(o) is None
    assert "grows-with-uptime-or-stalled" in [n for n, _ in ax.verdict("rollout-restart", o).unproven]


def crashing(line: str, services: list[str]):
    d = deployment(replicas=1, ready=0)
    last = {"reason": "Error", "exitCode": 1, "startedAt": at(0.05), "finishedAt": at(0.04)}
    p = pod("api-1", ready=False, waiting="CrashLoopBackOff", restarts=9, last=last)
    return obs(deployment=d, target=d, pods=[p], logs={"api-1/api/previous": line},
               services=[{"metadata": {"name": n}, "spec": {"selector": {"app": n}}} for n in services])


def test_a_crash_on_a_dependency_outside_what_was_read_is_said_not_examined() -> None:
    from aof_airflow.agent.rules.detectors import detect_crash_loop

    line = ("FATAL db: failed to connect to `host=orders.abc.eu-west-1.rds.amazonaws.com user=x`: dial error "
            "(dial tcp 10.20.4.17:5432: connect: connection timed out)")
    f = detect_crash_loop(crashing(line, ["api"]))
    assert f is not None and f.action == "none" and f.confidence <= 0.5
    assert "orders.abc.eu-west-1.rds.amazonaws.com" in f.summary and "not examined" in f.summary
    inside = detect_crash_loop(crashing("Error: connect ECONNREFUSED db:5432 (dial tcp db:5432: connection refused)", ["db"]))
    assert inside is not None and "not examined" not in inside.summary and inside.action == "rollout-restart"


def test_a_sidecar_that_logs_only_at_start_is_not_a_stall() -> None:
    """A mount sidecar logs once when it starts and is quiet since, in every pod; the main containers keep logging.
    Another pod's main container logging is no clock for this pod's sidecar: only the same container in a sibling is."""
    o = stalled()
    o.logs = {"api-1/api": log(0.5, 0.25, 0.08), "api-1/mounter": log(150, text="INFO mounted bucket at /data"),
              "api-2/api": log(0.5, 0.25, 0.08)}
    assert F.silent_logs(o) and F.stuck_pods(o) == [] and detect_stalled_process(o) is None
    o.logs["api-2/mounter"] = log(0.5, 0.1, text="INFO synced")  # the sibling's sidecar does log: this one stopped
    assert [p for p, _ in F.stuck_pods(o)] == ["api-1"]
