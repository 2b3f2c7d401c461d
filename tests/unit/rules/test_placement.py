"""Where a pod template may not run (taints against tolerations, nodeSelector), and a DaemonSet whose desired
count silently leaves such nodes out: reported as an anomaly and a cause, never as "nothing wrong"."""

from __future__ import annotations

from typing import Any

from aof_airflow.agent.rules import diagnose as dx
from aof_airflow.agent.rules.inventory import inventory
from aof_airflow.agent.rules.objects import Observation
from aof_airflow.agent.rules.placement import daemonset_left_out, tolerates

GPU = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}


def node(name: str, *taints: dict[str, str], labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": {"taints": list(taints)},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]}}


def agent_pod(n: str) -> dict[str, Any]:
    return {"metadata": {"name": f"agent-{n}", "labels": {"app": "agent"},
                         "ownerReferences": [{"kind": "DaemonSet", "name": "agent", "controller": True}]},
            "spec": {"nodeName": n, "containers": [{"name": "agent", "image": "agent:1"}]},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
                       "containerStatuses": [{"name": "agent", "ready": True, "restartCount": 0,
                                              "state": {"running": {"startedAt": "2026-03-01T10:00:00Z"}}}]}}


def ds_obs(tolerations: list[dict[str, str]] | None = None) -> Observation:
    ds = {"kind": "DaemonSet", "metadata": {"name": "agent", "namespace": "obs"},
          "spec": {"selector": {"matchLabels": {"app": "agent"}},
                   "template": {"metadata": {"labels": {"app": "agent"}},
                                "spec": {"containers": [{"name": "agent", "image": "agent:1"}],
                                         **({"tolerations": tolerations} if tolerations else {})}}},
          "status": {"desiredNumberScheduled": 2, "numberReady": 2, "currentNumberScheduled": 2}}
    nodes = [node("a"), node("b"), node("gpu-1", GPU), node("cp", {"key": "node-role.kubernetes.io/control-plane",
                                                                    "effect": "NoSchedule"})]
    return Observation(namespace="obs", kind="daemonset", name="agent", daemonset=ds, target=ds, nodes=nodes,
                       pods=[agent_pod("a"), agent_pod("b")], hpas=[], pdbs=[], quotas=[], services=[], events=[])


def test_the_schedulers_toleration_rule() -> None:
    assert tolerates([{"key": "nvidia.com/gpu", "operator": "Exists"}], GPU)
    assert tolerates([{"operator": "Exists"}], GPU)
    assert tolerates([{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}], GPU)
    assert not tolerates([{"key": "nvidia.com/gpu", "value": "absent"}], GPU)
    assert not tolerates([{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoExecute"}], GPU)
    assert not tolerates([], GPU)


def test_a_daemonset_left_off_a_tainted_pool_is_a_fault_not_nothing_wrong() -> None:
    o = ds_obs()
    assert daemonset_left_out(o) == [("gpu-1", ["taint nvidia.com/gpu=present:NoSchedule not tolerated"])]
    assert any(a.subject == "node/gpu-1" for a in inventory(o))
    d = dx.diagnose(o)
    assert d.cls == "daemonset-left-out" and "nvidia.com/gpu" in d.output["root_cause"], d.output["root_cause"]


def test_a_tolerated_taint_and_the_control_plane_role_leave_nothing_out() -> None:
    o = ds_obs([{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}])
    o.pods.append(agent_pod("gpu-1"))
    assert daemonset_left_out(o) == []
    o = ds_obs()
    o.nodes = [n for n in o.nodes if n["metadata"]["name"] != "gpu-1"]
    assert daemonset_left_out(o) == []  # only the control-plane node is without a pod: by design
    assert dx.diagnose(o).cls == "no-fault-found"
