"""Release detectors over a DaemonSet's or StatefulSet's ControllerRevisions: pods left on an outdated revision that
their controller will not replace by itself (`..outdated`)."""

from __future__ import annotations

import shlex

from ..objects import Observation, events_for, pod_name, quote_event, statuses
from ..outdated import outdated_pods, update_revision_serves
from .common import Finding


def detect_outdated_revision(obs: Observation) -> Finding | None:
    """Not-Ready pods on a revision other than the update revision, under an OnDelete strategy or an OrderedReady
    StatefulSet's blocked rolling update: deleting them lets the controller recreate them at the update revision."""
    stuck = outdated_pods(obs)
    if not stuck:
        return None
    names = [n for n, _ in stuck]
    by_name = {pod_name(p): p for p in obs.pods}
    ev = [why for _, why in stuck[:2]]
    for n in names[:2]:
        for cs in statuses(by_name[n]):
            w = (cs.get("state") or {}).get("waiting") or {}
            if w:
                ev.append(f"pod {n} container {cs['name']}: waiting {w.get('reason')} \"{w.get('message', '')}\", "
                          f"image {cs.get('image')}")
        ev += [quote_event(e) for e in events_for(obs, n, ("Failed", "BackOff"))[-1:]]
    st = (obs.statefulset or {}).get("status") or {}
    if st.get("updateRevision"):
        ev.append(f"{obs.workload_ref} status: currentRevision {st.get('currentRevision')}, updateRevision "
                  f"{st.get('updateRevision')}, readyReplicas {st.get('readyReplicas', 0)}")
    serves = update_revision_serves(obs)
    if serves:
        ev.append(serves)
    ns = shlex.quote(obs.namespace)
    return Finding(
        cls="outdated-revision",
        summary=f"{', '.join(names)} of {obs.workload_ref} stuck on an outdated revision, not replaced by the controller: "
                f"{stuck[0][1]}",
        evidence=ev, action="delete-pod",
        command=f"kubectl delete pod {' '.join(shlex.quote(n) for n in names)} -n {ns}",
        confidence=0.85, affected=[obs.workload_ref or "", *names], min_severity="medium",
        advice=(f"delete {', '.join(names)}: {obs.workload_ref} recreates {'it' if len(names) == 1 else 'them'} at its "
                "update revision; an undo would return the template to the revision they fail on"),
    )
