"""Facts about the newest revision of a workload (a Deployment's ReplicaSet, a DaemonSet's or StatefulSet's
ControllerRevision), quoted: what it changed for the process, whether the failing
pods are its own, whether a missing configuration is needed by the previous revision too, whether a saturation
began with it. What the undo's checks (`actions.py`) and the release-aware detectors read.
"""

from __future__ import annotations

import re
from typing import Any

from .facts import cpu_saturated, failing_pods, now, rollout_in_progress
from .objects import ERROR_LINE, Observation, config_key_refs, config_refs, parse_time, pod_name, pods_of, statuses
from .revisions import RECENT_ROLLOUT, on_revision, process_changes, revisions, rs_revision, update_revision


def revision_facts(obs: Observation) -> dict[str, Any]:
    """What the undo's checks read: the revisions, what the newest changed for the process, whether the failing
    pods are the newest revision's and when it was created."""
    rev = revisions(obs)
    if not rev or not rev.previous:
        return {"rev": rev}
    failing = failing_pods(obs)
    created, t = parse_time(rev.newest["metadata"].get("creationTimestamp")), now(obs)
    before = parse_time(rev.previous["metadata"].get("creationTimestamp"))
    served = (created - before).total_seconds() / 3600 if created and before else 0.0
    return {"rev": rev, "changes": process_changes(rev), "failing": failing, "served_hours": served,
            "owned": bool(failing) and all(rev.owns(p) for p in failing),
            "recent": bool(created and t and t - created < RECENT_ROLLOUT),
            "prev_ready": rev.previous.get("status", {}).get("readyReplicas") or 0}


def rolling(obs: Observation) -> bool:
    """A rollout is under way: a Deployment's (`rollout_in_progress`), a DaemonSet with fewer pods updated than
    scheduled, a StatefulSet whose current revision is not yet its update revision or not every replica updated."""
    if obs.deployment:
        return rollout_in_progress(obs.deployment)
    st = (obs.statefulset or obs.daemonset or {}).get("status", {})
    if obs.daemonset:
        return (st.get("updatedNumberScheduled") or 0) < (st.get("desiredNumberScheduled") or 0)
    if obs.statefulset:
        want = obs.statefulset.get("spec", {}).get("replicas", 1)
        return st.get("currentRevision") != st.get("updateRevision") or (st.get("updatedReplicas") or 0) < want
    return False


def desired(obs: Observation) -> int:
    """The pods the workload wants: a DaemonSet's desiredNumberScheduled, else spec.replicas."""
    if obs.daemonset and not obs.deployment:
        return obs.daemonset.get("status", {}).get("desiredNumberScheduled") or 0
    return (obs.deployment or obs.statefulset or {}).get("spec", {}).get("replicas", 1)


def failing_on_previous(obs: Observation) -> str | None:
    """Every failing pod runs the revision before the newest, and the newest is what the controller rolls out (the
    template was already put back): an undo returns to the very revision they fail on."""
    rev, failing = revisions(obs), failing_pods(obs)
    if not rev or not rev.previous or not failing or rev.kind != "ControllerRevision":
        return None
    target = update_revision(obs)
    if target is None or target["metadata"]["name"] != rev.newest["metadata"]["name"]:
        return None
    if not all(on_revision(p, rev.previous) for p in failing):
        return None
    return (f"the {len(failing)} failing pod(s) run revision {rs_revision(rev.previous)} ({rev.kind.lower()} "
            f"{rev.previous['metadata']['name']}); the newest revision {rs_revision(rev.newest)} is already the one rolled out: "
            "an undo would bring back the revision they fail on")


def missing_config_in_both(obs: Observation) -> str | None:
    """A ConfigMap/Secret the pods need is missing, and the previous revision references it too."""
    rev = revisions(obs)
    if not rev or not rev.previous:
        return None
    prev_cms, prev_secs = config_refs({"spec": rev.previous.get("spec", {}).get("template", {}).get("spec", {})})
    missing = [f"configmap {n}" for n, ok in obs.configmaps.items() if ok is False and n in prev_cms]
    missing += [f"secret {n}" for n, ok in obs.secrets.items() if ok is False and n in prev_secs]
    prev_keys = config_key_refs({"spec": rev.previous.get("spec", {}).get("template", {}).get("spec", {})})
    missing += [f"key {k} of {kind} {n}" for kind, n, k in sorted(missing_keys(obs) & prev_keys)]
    return f"{', '.join(missing)} missing, and the previous revision needs it too" if missing else None


MISSING_KEY = re.compile(r"couldn't find key (\S+) in (ConfigMap|Secret) (?:[^/\s\"']+/)?([^\s\"']+)", re.I)


def missing_keys(obs: Observation) -> set[tuple[str, str, str]]:
    """(kind, name, key) the kubelet reports it could not find (CreateContainerConfigError, FailedMount): the object
    exists but lacks the key."""
    texts = [((cs.get("state") or {}).get("waiting") or {}).get("message") or "" for p in pods_of(obs) for cs in statuses(p)]
    texts += [e.get("message") or "" for e in obs.events if e.get("reason") in ("Failed", "FailedMount")]
    return {(kind.lower(), name, key) for t in texts for key, kind, name in MISSING_KEY.findall(t)}


def saturation_from_revision(obs: Observation) -> str | None:
    """Every pod at its CPU limit belongs to the newest revision, created less than 6 h ago, which changed what the
    process runs with, and the previous revision served for hours: the saturation began with the release (a busy
    loop, a costlier code path), so more replicas would spin the same way."""
    sat, rf = cpu_saturated(obs), revision_facts(obs)
    if not sat or not rf.get("changes") or not rf.get("recent") or rf.get("served_hours", 0) < 1:
        return None
    rev = rf["rev"]
    hot = [p for p in pods_of(obs) if (obs.cpu_usage.get(pod_name(p)) or 0) > 0]
    if not hot or not all(rev.owns(p) for p in hot):
        return None
    return f"{sat}; every such pod is the newest revision's: {rev.quote()}, created less than 6 h ago"


def errors_began_with_revision(obs: Observation) -> str | None:
    """No pod fails in Kubernetes' terms, but the pods whose current logs carry error lines are all the newest
    revision's, which is recent and changed what the process runs with (image, env, args...), and the previous
    revision served for hours before it: the errors point at the release. Whether the previous revision logged the
    same errors is not in a snapshot (its pods are gone), so this names the release without proving its undo."""
    rf = revision_facts(obs)
    if failing_pods(obs) or not rf.get("changes") or not rf.get("recent") or rf.get("served_hours", 0) < 1:
        return None
    read = {k.split("/")[0] for k in obs.logs if not k.endswith("/previous")}
    erring = [p for p in pods_of(obs) if pod_name(p) in read and any(
        ERROR_LINE.search(ln) for k, t in obs.logs.items() if k.split("/")[0] == pod_name(p) and not k.endswith("/previous")
        for ln in (t or "").splitlines())]
    rev = rf["rev"]
    if not erring or not all(rev.owns(p) for p in erring):
        return None
    return (f"the {len(erring)} pod(s) logging errors all run the newest revision: {rev.quote()}, created less than 6 h "
            f"ago, changing {', '.join(rf['changes'])}; the previous revision was live for {rf['served_hours']:.0f} h")
