"""PodDisruptionBudgets over pods (a pod two budgets select cannot be evicted, so a drain never moves it) and
servers out of request workers with CPU to spare (short of concurrency: scale, behind approval without a load
history)."""

from __future__ import annotations

from typing import Any

from aof_airflow.agent.rules import actions as ax
from aof_airflow.agent.rules import diagnose as dx
from aof_airflow.agent.rules import facts as F
from aof_airflow.agent.rules.objects import Observation

from .test_actions import deployment, node, obs, pod


def pdb(name: str, labels: dict[str, str], allowed: int = 1) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"selector": {"matchLabels": labels}},
            "status": {"disruptionsAllowed": allowed, "currentHealthy": 2, "desiredHealthy": 1, "expectedPods": 2}}


def drain_obs(*budgets: dict[str, Any]) -> Observation:
    canary = pod("api-canary-1", owner="api-canary", node="n1")
    canary["metadata"]["labels"] = {"app": "api", "track": "canary"}
    cordoned = node("n1")
    cordoned["spec"]["unschedulable"] = True
    d = deployment()
    return obs(deployment=d, target=d, pods=[canary, pod("api-2", node="n2")], nodes=[cordoned, node("n2")],
               pdbs=list(budgets))


def test_a_pod_two_budgets_select_on_a_cordoned_node_is_deleted_within_its_budgets() -> None:
    o = drain_obs(pdb("api", {"app": "api"}, 2), pdb("api-canary", {"track": "canary"}, 1))
    d = dx.diagnose(o)
    assert d.cls == "pdb-overlap-blocks-eviction", d.output["root_cause"]
    assert "more than one PodDisruptionBudget" in d.output["root_cause"]
    assert d.action == "delete-pod" and d.decision.proven and d.decision.command == "kubectl delete pod api-canary-1 -n shop"


def test_one_budget_or_an_uncordoned_node_is_no_overlap_and_a_budget_at_zero_asks_a_human() -> None:
    assert F.stuck_pods(drain_obs(pdb("api", {"app": "api"}, 2))) == []
    o = drain_obs(pdb("api", {"app": "api"}, 2), pdb("api-canary", {"track": "canary"}, 1))
    o.nodes[0]["spec"]["unschedulable"] = False
    assert F.stuck_pods(o) == []
    o = drain_obs(pdb("api", {"app": "api"}, 2), pdb("api-canary", {"track": "canary"}, 0))
    v = ax.verdict("delete-pod", o)
    assert [n for n, _ in v.unproven] == ["budgets-allow"], v.summary()


def gunicorn(pod_name: str, extra: str = "") -> str:
    return ("[2026-03-01 11:50:00 +0000] [1] [CRITICAL] WORKER TIMEOUT (pid:31)\n"
            "[2026-03-01 11:50:01 +0000] [44] [INFO] Booting worker with pid: 44\n" + extra)


def busy_obs(extra: str = "", cpu: int = 400) -> Observation:
    d = deployment()
    o = obs(deployment=d, target=d, pods=[pod("api-1"), pod("api-2")])
    o.logs = {"api-1/api": gunicorn("api-1", extra), "api-2/api": gunicorn("api-2")}
    o.cpu_usage = {"api-1": cpu, "api-2": 380}
    return o


def test_workers_all_taken_with_cpu_to_spare_call_for_a_scale_behind_approval() -> None:
    o = busy_obs()
    d = dx.diagnose(o)
    assert d.cls == "workers-saturated" and d.action == "scale" and not d.decision.proven, d.output["root_cause"]
    assert d.output["requires_approval"] is True


def test_workers_waiting_on_a_dependency_or_a_cpu_at_its_limit_are_not_short_of_workers() -> None:
    assert F.workers_busy(busy_obs()) is not None
    assert F.workers_busy(busy_obs("ERROR upstream db:5432 read timed out\n")) is None
    assert F.workers_busy(busy_obs(cpu=995)) is None
    o = busy_obs()
    o.logs["api-2/api"] = "[2026-03-01 11:50:00 +0000] [1] [INFO] GET /health 200\n"
    assert F.workers_busy(o) is None  # one pod has workers to spare: not the workload's capacity


def test_a_dependency_out_of_connection_slots_is_the_cause_and_no_change_adds_connections() -> None:
    d = deployment(ready=1)
    o = obs(deployment=d, target=d, pods=[pod("api-1", ready=False), pod("api-2")])
    o.logs = {"api-1/api": "2026-03-01T11:59:00Z ERROR readiness: database ping failed: pq: sorry, too many clients already"}
    dg = dx.diagnose(o)
    assert dg.cls == "dependency-connections-exhausted" and dg.action == "none", dg.output["root_cause"]
    o.logs = {"api-1/api": "2026-03-01T11:59:00Z ERROR readiness: database ping failed: context deadline exceeded"}
    assert F.dependency_slots_full(o) is None


def test_a_data_stores_own_refusals_are_not_a_dependencys() -> None:
    d = deployment(ready=1)
    o = obs(statefulset=dict(d, kind="StatefulSet"), target=d, pods=[pod("db-0", ready=False)])
    o.logs = {"db-0/db": "2026-03-01 11:59:00 UTC [88] FATAL:  sorry, too many clients already"}
    assert F.dependency_slots_full(o) is None
