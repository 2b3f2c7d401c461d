"""Pods a DaemonSet or StatefulSet left on an outdated revision and will not replace by itself: deleting them is the
change (the controller recreates a deleted pod at its update revision).

Two documented cases: `updateStrategy: OnDelete` (the controller replaces a pod only when someone deletes it), and a
StatefulSet with `podManagementPolicy: OrderedReady` under a RollingUpdate, which waits for every pod to be Running and
Ready before it touches the next: a pod of a broken revision that never becomes Ready blocks the update even after the
template was put right ("forced rollback" in the StatefulSet documentation: delete that pod by hand). Pods below a
RollingUpdate's partition are excluded: the controller recreates those at the current revision, not the update one.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta
from typing import Any, Callable

from .objects import Observation, condition, observed_at, parse_time, pod_name, pod_ready, pods_of
from .revisions import HASH_LABEL, images, on_revision, revision_view, rs_revision, update_revision

ORDINAL = re.compile(r"-(\d+)$")


def _ordinal(pod: dict[str, Any]) -> int | None:
    labels = pod["metadata"].get("labels") or {}
    raw = labels.get("apps.kubernetes.io/pod-index")
    if raw is None:
        m = ORDINAL.search(pod_name(pod))
        raw = m.group(1) if m else None
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def _why_not_replaced(obs: Observation, pod: dict[str, Any]) -> str | None:
    """Why the controller will not replace this pod itself, or None when it will (or it is not known)."""
    w = obs.statefulset or obs.daemonset or {}
    spec = w.get("spec", {})
    strategy = spec.get("updateStrategy") or {}
    if strategy.get("type") == "OnDelete":
        return "its updateStrategy is OnDelete: the controller replaces a pod only when it is deleted"
    if obs.statefulset is None or (spec.get("podManagementPolicy") or "OrderedReady") != "OrderedReady":
        return None  # a DaemonSet's RollingUpdate (or a Parallel StatefulSet) replaces unready old pods itself
    ordinal, partition = _ordinal(pod), (strategy.get("rollingUpdate") or {}).get("partition") or 0
    if ordinal is None or ordinal < partition:
        return None
    return ("podManagementPolicy OrderedReady: the rolling update waits for this pod to become Ready and never replaces "
            "it (a forced rollback: the pod must be deleted by hand)")


def outdated_pods(obs: Observation) -> list[tuple[str, str]]:
    """(pod, why) for not-Ready pods (Running or Pending, not being deleted) of a DaemonSet or StatefulSet whose
    `controller-revision-hash` is not the update revision, which their controller will not replace by itself."""
    if obs.deployment or not (obs.statefulset or obs.daemonset) or not obs.controllerrevisions:
        return []
    target = update_revision(obs)
    if target is None:
        return []
    ref, out = obs.workload_ref, []
    for p in pods_of(obs):
        if (pod_ready(p) or p["metadata"].get("deletionTimestamp") or on_revision(p, target)
                or p.get("status", {}).get("phase") not in ("Running", "Pending")
                or not (p["metadata"].get("labels") or {}).get(HASH_LABEL)):
            continue
        why = _why_not_replaced(obs, p)
        old = next((revision_view(c, obs.pods) for c in obs.controllerrevisions if on_revision(p, c)), None)
        if why is None or old is None:
            continue
        n = pod_name(p)
        out.append((n, f"pod {n} runs revision {rs_revision(old)} (controllerrevision {old['metadata']['name']}, image "
                       f"{images(old)}), not {ref}'s update revision {rs_revision(target)} (controllerrevision "
                       f"{target['metadata']['name']}, image {images(target)}); {why}; deleted, it is recreated at "
                       f"revision {rs_revision(target)}"))
    return out


def update_revision_serves(obs: Observation) -> str | None:
    """The update revision has Ready pods: what the controller recreates a deleted pod as is known to run."""
    target = update_revision(obs)
    ready = (target or {}).get("status", {}).get("readyReplicas") or 0
    return f"{ready} pod(s) of revision {rs_revision(target or {})} are Ready" if ready else None


UNREADY_FOR = timedelta(minutes=10)  # a pod not Ready this long is not merely starting or restarting once


def _unready_since(obs: Observation, name: str) -> str | None:
    """The Ready condition's last transition, when the pod has been not Ready for at least UNREADY_FOR."""
    pod = next((p for p in obs.pods if pod_name(p) == name), {})
    since, t = (condition(pod, "Ready") or {}).get("lastTransitionTime"), observed_at(obs)
    at = parse_time(since)
    return since if at and t and t - at >= UNREADY_FOR else None


def stuck_outdated(obs: Observation) -> list[str]:
    """The outdated pods' sentences when deleting them is proven to help: the update revision already serves, and each
    pod has been not Ready for a while (when that is not known, the delete waits for a human)."""
    pods, serves = outdated_pods(obs), update_revision_serves(obs)
    since = {n: _unready_since(obs, n) for n, _ in pods}
    if not pods or not serves or not all(since.values()):
        return []
    return [f"{why}; not Ready since {since[n]}; {serves}" for n, why in pods]


def on_update_revision(test: Callable[[Observation], str | None]) -> Callable[[Observation], str | None]:
    """A contraindication of deleting pods judged without the outdated ones: their failures come from a template the
    recreated pods will not run (they are recreated at the update revision)."""
    def judged(obs: Observation) -> str | None:
        gone = {n for n, _ in outdated_pods(obs)}
        if not gone:
            return test(obs)
        return test(dataclasses.replace(obs, pods=[p for p in obs.pods if pod_name(p) not in gone],
                                        events=[e for e in obs.events if e.get("involvedObject", {}).get("name") not in gone]))
    return judged
