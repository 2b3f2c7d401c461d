"""A PersistentVolumeClaim named by the incident is judged with the pods that mount it: Pending on a
WaitForFirstConsumer StorageClass with no pod using it is its normal state (detectors/storage.detect_claim_unbound);
without the namespace's pods listed the engine says it did not examine the claim's users."""

from __future__ import annotations

from aof_airflow.agent.rules.detectors import detect_claim_unbound
from aof_airflow.agent.rules.diagnose import diagnose

from .test_actions import obs, pod

PVC = {"kind": "PersistentVolumeClaim", "metadata": {"name": "scratch"}, "spec": {"storageClassName": "gp3"},
       "status": {"phase": "Pending"}}


def claim(mode: str = "WaitForFirstConsumer", users_read: bool = True, pods: list | None = None):
    sc = {"metadata": {"name": "gp3"}, "volumeBindingMode": mode}
    return obs(kind="persistentvolumeclaim", name="scratch", target=PVC, pvcs=[PVC], storageclasses=[sc],
               users_read=users_read, pods=pods or [])


def test_a_claim_waiting_for_its_first_consumer_is_not_a_fault() -> None:
    f = detect_claim_unbound(claim())
    assert f is not None and f.cls == "no-fault-found" and "WaitForFirstConsumer" in f.summary
    assert diagnose(claim()).output["severity"] == "low"


def test_an_immediate_class_left_pending_is_a_fault() -> None:
    f = detect_claim_unbound(claim(mode="Immediate"))
    assert f is not None and f.cls == "pvc-unbound"


def test_a_consumer_waiting_on_it_is_a_fault() -> None:
    user = pod("job-1", ready=False, phase="Pending")
    user["spec"]["volumes"] = [{"persistentVolumeClaim": {"claimName": "scratch"}}]
    f = detect_claim_unbound(claim(pods=[user]))
    assert f is not None and f.cls == "pvc-unbound"


def test_users_not_listed_are_not_examined_rather_than_fine() -> None:
    f = detect_claim_unbound(claim(users_read=False))
    assert f is not None and f.cls == "pvc-unbound"


def test_a_claim_whose_users_were_not_read_is_not_examined_and_not_low() -> None:
    o = claim(users_read=False)
    o.target = dict(PVC, status={"phase": "Bound"})
    out = diagnose(o).output
    assert out["root_cause"].split("] ")[1].startswith("not-examined") and out["severity"] == "medium"
