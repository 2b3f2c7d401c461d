"""Storage evidence: the claims a pending pod waits for, their StorageClasses and the zones of their volumes; a claim
whose file system resize waits for its pod to be started again."""

from __future__ import annotations

from typing import Any

from ..objects import Observation, events_for, quote_event
from ..podlocal import resize_pending
from .common import Finding


def claims_of(pod: dict[str, Any]) -> list[str]:
    return [c for c in ((v.get("persistentVolumeClaim") or {}).get("claimName") for v in pod.get("spec", {}).get("volumes", []) or []) if c]


def unbound_claims_evidence(obs: Observation, pod: dict[str, Any], pending: int) -> tuple[str, list[str], float]:
    """(summary, evidence, confidence) for pods waiting on claims: each claim's phase and class, a missing
    StorageClass when the cluster's list shows it is missing, the provisioner's last event."""
    claims = claims_of(pod)
    pvc_by_name = {c["metadata"]["name"]: c for c in obs.pvcs}
    sc_names = None if obs.storageclasses is None else {s["metadata"]["name"] for s in obs.storageclasses}
    ev: list[str] = []
    summary, conf = "", 0.8
    for cn in claims:
        pvc = pvc_by_name.get(cn)
        if pvc is None:
            ev.append(f"persistentvolumeclaim {cn}: not found")
            continue
        sc = pvc.get("spec", {}).get("storageClassName")
        ev.append(f"persistentvolumeclaim {cn}: phase {pvc.get('status', {}).get('phase')}, storageClassName {sc or '(default)'}")
        if sc and sc_names is not None and sc not in sc_names:
            ev.append(f"storageclass {sc}: does not exist (cluster has: {', '.join(sorted(sc_names)) or 'none'})")
            summary = f"{pending} pod(s) Pending: PVC {cn} is unbound because StorageClass {sc} does not exist"
            conf = 0.95
        for e in events_for(obs, cn, ("ProvisioningFailed", "FailedBinding"))[-1:]:
            ev.append(quote_event(e))
    if not summary:
        unbound = [cn for cn in claims if (pvc_by_name.get(cn) or {}).get("status", {}).get("phase") != "Bound"]
        summary = (f"{pending} pod(s) Pending on unbound PersistentVolumeClaim(s) {', '.join(unbound)}" if unbound
                   else f"{pending} pod(s) Pending on PersistentVolumeClaim(s) {', '.join(claims)} (Bound)")
    return summary, ev, conf


def volume_affinity_evidence(obs: Observation, pod: dict[str, Any]) -> list[str]:
    """The claims' volumes and the zones the nodes are in (a zonal volume no node can reach)."""
    pvc_by_name = {c["metadata"]["name"]: c for c in obs.pvcs}
    ev = [f"persistentvolumeclaim {cn}: phase {pvc.get('status', {}).get('phase')}, volume {pvc.get('spec', {}).get('volumeName') or '-'}"
          for cn in claims_of(pod) for pvc in [pvc_by_name.get(cn)] if pvc is not None]
    if obs.nodes is not None:
        zones = sorted({n["metadata"].get("labels", {}).get("topology.kubernetes.io/zone", "?") for n in obs.nodes})
        ev.append(f"nodes are in zone(s): {', '.join(zones)}")
    return ev


def detect_claim_unbound(obs: Observation) -> Finding | None:
    """The incident names a PersistentVolumeClaim that is not Bound: its provisioner's events say why."""
    pvc = obs.target if obs.kind == "persistentvolumeclaim" else None
    if not pvc or pvc.get("status", {}).get("phase") == "Bound":
        return None

    name = pvc["metadata"]["name"]
    sc_name = pvc.get("spec", {}).get("storageClassName")
    sc = next((c for c in obs.storageclasses or [] if c["metadata"]["name"] == sc_name), None)
    if pvc.get("status", {}).get("phase") == "Pending" and sc and sc.get("volumeBindingMode") == "WaitForFirstConsumer" \
            and obs.users_read and not obs.pods:
        # WaitForFirstConsumer delays binding until a pod using the claim is scheduled: Pending is its normal state
        return Finding(cls="no-fault-found",
                       summary=f"nothing wrong: persistentvolumeclaim/{name} is Pending because storageclass/{sc_name} binds "
                               "volumes WaitForFirstConsumer and no pod uses the claim yet; it binds when its first consumer "
                               "is scheduled",
                       evidence=[f"persistentvolumeclaim {name}: phase Pending, storageClassName {sc_name}",
                                 f"storageclass {sc_name}: volumeBindingMode WaitForFirstConsumer",
                                 f"no pod in {obs.namespace} mounts {name} (the namespace's pods were listed)"],
                       confidence=0.75, affected=[f"persistentvolumeclaim/{name}"],
                       advice="nothing to do unless a pod that should use it is missing")
    summary, ev, conf = unbound_claims_evidence(obs, {"spec": {"volumes": [{"persistentVolumeClaim": {"claimName": name}}]}}, 0)
    return Finding(cls="pvc-unbound", summary=f"persistentvolumeclaim/{name} is {pvc.get('status', {}).get('phase', 'not Bound')}",
                   evidence=ev, confidence=conf, affected=[f"persistentvolumeclaim/{name}"],
                   advice="create the StorageClass / a matching PersistentVolume, or fix storageClassName")


def detect_resize_pending(obs: Observation) -> Finding | None:
    """A pod whose disk is full on a claim that was expanded but whose file system the kubelet grows only when a pod
    mounts it again: deleting the pod lets its controller recreate it on the grown file system."""
    hits = resize_pending(obs)
    if not hits:
        return None
    pods = sorted({pod for pod, _, _ in hits})
    claims = sorted({why.split(":")[0] for _, why, _ in hits})
    ev = [why for _, why, _ in hits[:2]] + [quote_event(e) for c in claims for e in events_for(
        obs, c.split("/", 1)[1], ("FileSystemResizeRequired", "FileSystemResizeFailed", "VolumeResizeFailed"))[-1:]]
    return Finding(
        cls="filesystem-resize-pending",
        summary=f"the disk of pod(s) {', '.join(pods)} is full and the file system resize of {', '.join(claims)} waits "
                f"for a restart of the pod that mounts it (FileSystemResizePending): {hits[0][1]}",
        evidence=ev, action="delete-pod", command=f"kubectl delete pod {' '.join(pods)} -n {obs.namespace}",
        confidence=0.8, affected=[f"pod/{p}" for p in pods] + claims, min_severity="high",
        advice="delete the pod: its controller recreates it and the kubelet grows the file system when it mounts the "
               "volume; then check the claim's status capacity",
    )
