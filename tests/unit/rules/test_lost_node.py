"""A StatefulSet pod on a lost node stays Terminating (its kubelet never confirms): the StatefulSet cannot recreate
it. Force-deleting it is the fix, behind a human's approval (at most one pod per identity)."""

from __future__ import annotations

from aof_airflow.agent.rules import actions as ax
from aof_airflow.agent.rules.detectors import detect_node_not_ready

from .test_actions import at, deployment, node, obs, pod


def lost_stateful(terminating: bool = True):
    s = dict(deployment(replicas=2, ready=1), kind="StatefulSet")
    meta = {"deletionTimestamp": at(0.3), "deletionGracePeriodSeconds": 30} if terminating else {}
    held = pod("cache-1", ready=False, node="n2", **meta)
    held["metadata"]["ownerReferences"] = [{"kind": "StatefulSet", "name": "api", "controller": True}]
    ok = pod("cache-0", node="n1")
    ok["metadata"]["ownerReferences"] = [{"kind": "StatefulSet", "name": "api", "controller": True}]
    return obs(statefulset=s, target=s, pods=[ok, held], nodes=[node(), node("n2", ready=False)])


def test_a_terminating_statefulset_pod_on_a_lost_node_is_force_deleted_with_approval() -> None:
    o = lost_stateful()
    f = detect_node_not_ready(o)
    assert f is not None and f.action == "delete-pod" and "stuck Terminating" in f.summary
    d = ax.decide(o, f.action)
    assert d.action == "delete-pod" and not d.proven
    assert d.command == "kubectl delete pod cache-1 -n shop --grace-period=0 --force"
    assert [n for n, _ in d.verdicts["delete-pod"].unproven] == ["at-most-one-writer"]


def test_a_pod_on_a_lost_node_not_being_deleted_calls_for_no_change() -> None:
    f = detect_node_not_ready(lost_stateful(terminating=False))
    assert f is not None and f.action == "none"


def cordoned(allowed: int = 0):
    n = dict(node("n2"), spec={"unschedulable": True, "taints": []})
    on = pod("proxy-1", node="n2")
    pdb = {"metadata": {"name": "proxy"}, "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "api"}}},
           "status": {"disruptionsAllowed": allowed, "currentHealthy": 2, "desiredHealthy": 2, "expectedPods": 2}}
    o = obs(target=n, pods=[on], nodes=[node(), n], pdbs=[pdb])
    o.kind, o.name = "node", "n2"
    return o


def test_a_cordoned_nodes_drain_held_by_a_budget_allowing_no_disruption_is_named() -> None:
    from aof_airflow.agent.rules.detectors import detect_pdb_blocking

    f = detect_pdb_blocking(cordoned())
    assert f is not None and f.cls == "pdb-blocks-disruptions" and "proxy-1" in f.summary and "'minAvailable': 2" in f.summary
    d = ax.decide(cordoned(), f.action, f.command)
    assert d.action == "delete-pod" and not d.proven  # bypasses the budget: a human decides
    assert detect_pdb_blocking(cordoned(allowed=1)) is None
