"""Faults local to one pod (rules/podlocal.py): a claim whose file system resize waits for its pod to be started
again while that pod's disk is full (delete-pod, proven for a Deployment's pod, behind approval for a StatefulSet's),
and one pod failing among healthy siblings of the same template (delete-pod behind approval; the table's
contraindications still forbid it)."""

from __future__ import annotations

import copy

from aof_airflow.agent.rules import actions as ax
from aof_airflow.agent.rules import facts as F
from aof_airflow.agent.rules.detectors import detect_lone_failing_pod, detect_resize_pending
from aof_airflow.agent.rules.podlocal import lone_failing_pod, resize_pending

from .test_actions import at, deployment, event, obs, pod

FULL = f"{at(0.1)} level=error msg=\"compaction failed\" err=\"write /data/wal/0001: no space left on device\""
PENDING = {"type": "FileSystemResizePending", "status": "True", "lastTransitionTime": at(2),
           "message": "Waiting for user to (re-)start a pod to finish file system resize of volume on node."}


def claim(pending: bool = True) -> dict:
    return {"metadata": {"name": "data-api"}, "spec": {"resources": {"requests": {"storage": "100Gi"}}},
            "status": {"phase": "Bound", "capacity": {"storage": "50Gi"}, "conditions": [PENDING] if pending else []}}


def full_disk(pending: bool = True, log: str = FULL, stateful: bool = False):
    p = pod("api-1", started=at(200))
    p["spec"]["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": "data-api"}}]
    if stateful:
        p["metadata"]["ownerReferences"] = [{"kind": "StatefulSet", "name": "api", "controller": True}]
        sts = {"kind": "StatefulSet", "metadata": {"name": "api"}, "spec": {"replicas": 1}, "status": {"readyReplicas": 1}}
        return obs(statefulset=sts, target=sts, pods=[p], pvcs=[claim(pending)], logs={"api-1/api": log})
    d = deployment(replicas=1, ready=1)
    return obs(deployment=d, target=d, pods=[p], pvcs=[claim(pending)], logs={"api-1/api": log})


def test_a_pending_file_system_resize_under_a_full_disk_proves_deleting_a_deployments_pod() -> None:
    o = full_disk()
    f = detect_resize_pending(o)
    assert f is not None and f.action == "delete-pod" and "kubectl delete pod api-1" in (f.command or "")
    assert "FileSystemResizePending" in f.summary and "no space left on device" in f.summary
    d = ax.decide(o, f.action, f.command)
    assert d.action == "delete-pod" and d.proven, d.why
    assert "FileSystemResizePending" in dict(d.verdicts["delete-pod"].held)["pod-stuck"]


def test_without_the_condition_a_full_disk_is_not_cleared_by_a_delete() -> None:
    o = full_disk(pending=False)
    assert resize_pending(o) == [] and detect_resize_pending(o) is None
    assert not ax.verdict("delete-pod", o).proven


def test_without_a_full_disk_a_pending_resize_is_no_fault() -> None:
    assert detect_resize_pending(full_disk(log=f"{at(0.1)} level=info msg=ok")) is None


def test_a_statefulsets_pod_is_deleted_only_behind_approval() -> None:
    o = full_disk(stateful=True)
    f = detect_resize_pending(o)
    assert f is not None
    d = ax.decide(o, f.action, f.command)
    assert d.action == "delete-pod" and not d.proven
    assert [n for n, _ in d.verdicts["delete-pod"].unproven] == ["pod-stuck"]


# ------------------------------------------------------------------------------------- one pod among healthy ones
BROKEN = (f"{at(3)} INFO GET /img/a.webp 200 9ms\n"
          + "".join(f"{at(h)} ERROR GET /img/b.webp 500: [Errno 107] Transport endpoint is not connected: '/mnt/assets/b.webp'\n"
                    for h in (2.9, 1, 0.01)))
FINE = f"{at(0.01)} INFO GET /img/c.webp 200 8ms\n"


def replicas(**logs: str):
    """Three Ready pods of one ReplicaSet (same template hash) on three nodes; api-1's log fails."""
    d = deployment(replicas=3, ready=3)
    pods = [pod(f"api-{i}", node=f"n{i}", started=at(100)) for i in (1, 2, 3)]
    for p in pods:
        p["metadata"]["labels"]["pod-template-hash"] = "abc"
        p["spec"]["containers"][0]["volumeMounts"] = [{"name": "assets", "mountPath": "/mnt/assets"}]
    return obs(deployment=d, target=d, pods=pods, logs={"api-1/api": BROKEN, "api-2/api": FINE, **logs})


def test_one_pod_failing_among_healthy_siblings_calls_for_deleting_it_behind_approval() -> None:
    o = replicas()
    f = detect_lone_failing_pod(o)
    assert f is not None and f.action == "delete-pod" and f.command == "kubectl delete pod api-1 -n shop"
    assert "siblings" in f.summary and "Transport endpoint is not connected" in f.summary
    assert "FUSE" in f.summary and "/mnt/assets" in f.summary
    d = ax.decide(o, f.action, f.command)
    assert d.action == "delete-pod" and not d.proven  # a Ready pod is not proven stuck


def test_siblings_failing_too_is_not_a_pod_local_fault() -> None:
    assert lone_failing_pod(replicas(**{"api-2/api": BROKEN})) is None


def test_a_sibling_of_another_template_revision_says_nothing_about_this_one() -> None:
    o = replicas()
    for p in o.pods[1:]:
        p["metadata"]["labels"]["pod-template-hash"] = "def"
    assert lone_failing_pod(o) is None


def test_an_unready_sibling_leaves_the_fault_unproven_local() -> None:
    o = replicas()
    o.pods[2]["status"]["conditions"][0]["status"] = "False"
    assert lone_failing_pod(o) is None


def test_the_tables_contraindications_still_forbid_the_delete() -> None:
    o = replicas()
    o.pods[0]["spec"]["containers"][0]["readinessProbe"] = {"httpGet": {"path": "/", "port": 9999}}
    f = detect_lone_failing_pod(o)
    assert f is not None
    d = ax.decide(o, f.action, f.command)
    assert d.action == "none" and "probe-misconfigured" in d.why
    o = replicas()
    o.events = [event("api-9", "FailedScheduling", "0/3 nodes are available: 3 Insufficient cpu.")]
    o.pods.append(pod("api-9", phase="Pending", ready=False))
    d = ax.decide(o, "delete-pod", "kubectl delete pod api-1 -n shop")
    assert d.action == "none" and "scheduling-fails" in d.why


def test_a_full_disk_delete_still_obeys_the_config_contraindication() -> None:
    o = full_disk()
    o.pods.append(copy.deepcopy(o.pods[0]))
    o.pods[1]["metadata"]["name"] = "api-2"
    o.pods[1]["status"]["containerStatuses"][0]["state"] = {"waiting": {"reason": "CreateContainerConfigError"}}
    d = ax.decide(o, "delete-pod", "kubectl delete pod api-1 -n shop")
    assert d.action == "none" and "config-error" in d.why
    assert F.stuck_pods(full_disk())[0][0] == "api-1"


def test_a_pending_file_system_resize_is_an_anomaly_of_its_claim() -> None:
    from aof_airflow.agent.rules.inventory import inventory

    assert any(str(a).startswith("persistentvolumeclaim/data-api: condition FileSystemResizePending=True")
               for a in inventory(full_disk()))
    assert not any(a.subject.startswith("persistentvolumeclaim/") for a in inventory(full_disk(pending=False)))


def test_the_diagnosis_deletes_a_deployments_pod_on_its_own_and_asks_for_a_statefulsets() -> None:
    from aof_airflow.agent.rules.diagnose import diagnose

    out = diagnose(full_disk()).output
    assert "] filesystem-resize-pending: " in out["root_cause"]
    assert out["recommended_action"].startswith("kubectl delete pod api-1") and out["requires_approval"] is False
    out = diagnose(full_disk(stateful=True)).output
    assert out["recommended_action"].startswith("kubectl delete pod api-1") and out["requires_approval"] is True
