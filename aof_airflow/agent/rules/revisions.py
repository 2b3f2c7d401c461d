"""A workload's revision history: the newest revision, the one before it, and what the pod template changed. A
Deployment keeps it in ReplicaSets; a DaemonSet or StatefulSet in ControllerRevisions (apps/v1: `.revision`, `.data`
holding the pod template, pods labelled `controller-revision-hash`), read here through the same `Revisions`.

WHY apart: whether a rollout undo can help is decided from these facts (the undo's preconditions in
`actions.py`), and detectors quote them; neither should have to import the other.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from .objects import RESTARTED_AT, REVISION, Observation, pod_ready

HASH_LABEL = "controller-revision-hash"  # a DaemonSet's/StatefulSet's pods: the ControllerRevision they run

# Pod-spec fields an undo really brings back; labels and annotations alone change nothing the process sees.
PROCESS_FIELDS = ("image", "command", "args", "env", "envFrom", "resources", "livenessProbe", "readinessProbe",
                  "startupProbe", "volumeMounts", "ports", "securityContext")


def rs_revision(rs: dict[str, Any]) -> int:
    """A ReplicaSet's revision annotation, or a ControllerRevision's own `.revision` field."""
    if "revision" in rs:
        try:
            return int(rs["revision"])
        except (TypeError, ValueError):
            return 0
    try:
        return int(rs["metadata"].get("annotations", {}).get(REVISION, "0"))
    except ValueError:
        return 0


def images(template_owner: dict[str, Any]) -> str:
    cs = template_owner.get("spec", {}).get("template", {}).get("spec", {}).get("containers", []) or []
    return ", ".join(c.get("image", "?") for c in cs)


@dataclass
class Revisions:
    """The newest revision of a workload and the one before it: the basis of 'a bad new revision'. `kind` says
    where they came from: ReplicaSets (a Deployment) or ControllerRevisions seen through `revision_view`."""

    newest: dict[str, Any]
    previous: dict[str, Any] | None
    kind: str = "ReplicaSet"

    def owns(self, pod: dict[str, Any]) -> bool:
        if self.kind == "ControllerRevision":
            return on_revision(pod, self.newest)
        return any(o.get("kind") == "ReplicaSet" and o.get("name") == self.newest["metadata"]["name"]
                   for o in pod["metadata"].get("ownerReferences", []) or [])

    def quote(self) -> str:
        n, p = self.newest, self.previous
        s = f"new revision {rs_revision(n)} ({self.kind.lower()} {n['metadata']['name']}, image {images(n)})"
        if p:
            s += f" replaced revision {rs_revision(p)} (image {images(p)})"
            changed = self.changes()
            s += f", changing {', '.join(changed)}" if changed else ""
        return s

    def changes(self) -> list[str]:
        """What the newest pod template changes against the previous one, ignoring what a `rollout restart`
        writes (the restartedAt annotation) and the controller's hash label: [] = the same pods again."""
        if not self.previous:
            return []
        return template_changes(self.previous.get("spec", {}).get("template", {}),
                                self.newest.get("spec", {}).get("template", {}))

    def only_restarted(self) -> str:
        """The evidence line when the revisions differ by nothing an undo would bring back."""
        n, p = self.newest, self.previous or {}
        return (f"revision {rs_revision(n)} differs from revision {rs_revision(p)} only by the {RESTARTED_AT} "
                f"annotation (same image {images(n)}): an undo would run the same pods")


def revisions(obs: Observation) -> Revisions | None:
    if (obs.statefulset or obs.daemonset) and not obs.deployment:
        return controller_revisions(obs)
    if not obs.deployment or not obs.replicasets:
        return None
    rss = sorted(obs.replicasets, key=rs_revision)
    newest = rss[-1]
    prev = rss[-2] if len(rss) > 1 else None
    return Revisions(newest, prev)

RECENT_ROLLOUT = timedelta(hours=6)  # "failures began with the new pods": within this of its creation


def on_revision(pod: dict[str, Any], cr: dict[str, Any]) -> bool:
    """The pod runs this ControllerRevision: its `controller-revision-hash` label is the revision's name (a
    StatefulSet's pods) or its hash (a DaemonSet's pods, the revision named <owner>-<hash>)."""
    h = (pod.get("metadata", {}).get("labels") or {}).get(HASH_LABEL)
    name = cr.get("metadata", {}).get("name") or ""
    return bool(h) and (h == name or h == (cr.get("metadata", {}).get("labels") or {}).get(HASH_LABEL)
                        or name.endswith(f"-{h}"))


def revision_view(cr: dict[str, Any], pods: list[dict[str, Any]]) -> dict[str, Any]:
    """A ControllerRevision with the fields the revision checks read of a ReplicaSet: `spec.template` (the
    controller stores the whole pod template in `.data` as a patch with `$patch: replace`) and
    `status.readyReplicas` (its Ready pods among those read)."""
    data = cr.get("data") or {}
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except ValueError:
            data = {}
    template = dict(((data.get("spec") or {}) if isinstance(data, dict) else {}).get("template") or {})
    template.pop("$patch", None)
    ready = sum(1 for p in pods if on_revision(p, cr) and pod_ready(p))
    return {**cr, "spec": {"template": template}, "status": {"readyReplicas": ready}}


def controller_revisions(obs: Observation) -> Revisions | None:
    """A DaemonSet's or StatefulSet's newest ControllerRevision (by `.revision`: a rollback renumbers the revision it
    returns to as the newest) and the one before it."""
    if not obs.controllerrevisions:
        return None
    crs = sorted((revision_view(c, obs.pods) for c in obs.controllerrevisions), key=rs_revision)
    return Revisions(crs[-1], crs[-2] if len(crs) > 1 else None, "ControllerRevision")


def update_revision(obs: Observation) -> dict[str, Any] | None:
    """The revision the controller brings pods to: a StatefulSet's `status.updateRevision`, else the newest
    ControllerRevision (a DaemonSet compares its pods' hash to it)."""
    rev = controller_revisions(obs)
    if rev is None:
        return None
    want = (obs.statefulset or {}).get("status", {}).get("updateRevision")
    named = [revision_view(c, obs.pods) for c in obs.controllerrevisions or [] if c["metadata"].get("name") == want]
    return named[0] if named else rev.newest

def template_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Names of what differs between two pod templates (per container: image, env, resources, probes, ...;
    pod level: volumes, serviceAccountName, ...), without the restartedAt annotation and controller labels."""
    def clean(t: dict[str, Any]) -> dict[str, Any]:
        t = json.loads(json.dumps(t or {}))
        meta = t.setdefault("metadata", {})
        (meta.get("labels") or {}).pop("pod-template-hash", None)
        (meta.get("labels") or {}).pop(HASH_LABEL, None)
        t.pop("$patch", None)
        (meta.get("annotations") or {}).pop(RESTARTED_AT, None)
        return t

    a, b = clean(old), clean(new)
    out: list[str] = []
    if (a["metadata"].get("labels") or {}) != (b["metadata"].get("labels") or {}):
        out.append("pod labels")
    if (a["metadata"].get("annotations") or {}) != (b["metadata"].get("annotations") or {}):
        out.append("pod annotations")
    sa, sb = a.get("spec", {}), b.get("spec", {})
    ca = {c.get("name"): c for c in (sa.get("containers") or []) + (sa.get("initContainers") or [])}
    cb = {c.get("name"): c for c in (sb.get("containers") or []) + (sb.get("initContainers") or [])}
    for name in sorted(set(ca) | set(cb)):
        x, y = ca.get(name), cb.get(name)
        if x is None or y is None:
            out.append(f"container {name} {'added' if x is None else 'removed'}")
            continue
        out += [f"container {name} {k}" for k in sorted(set(x) | set(y)) if k != "name" and x.get(k) != y.get(k)]
    out += [k for k in sorted(set(sa) | set(sb)) if k not in ("containers", "initContainers") and sa.get(k) != sb.get(k)]
    return out


def process_changes(rev: Revisions) -> list[str]:
    """The template changes a process can feel (image, command, args, env, resources, probes, volumes...)."""
    keep = [c for c in rev.changes() if not c.startswith("pod ")]
    return [c for c in keep if not c.startswith("container ") or c.split()[-1] in PROCESS_FIELDS
            or c.endswith(("added", "removed"))]
