"""A process that stopped making progress while Kubernetes sees it Ready: its log went silent while the other
replicas of the same controller keep logging. Hand-built objects (tests/unit/rules/test_actions.py's builders)."""

from __future__ import annotations

from aof_airflow.agent.rules import actions as ax
from aof_airflow.agent.rules import facts as F
from aof_airflow.agent.rules.detectors import detect_stalled_process
from aof_airflow.agent.rules.diagnose import diagnose

from .test_actions import at, deployment, obs, pod


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
