"""Faults that belong to one pod and that a new pod does not have. Each fact returns the quoted evidence, or None
(or []) when the data do not show it.

- A PersistentVolumeClaim expanded by its driver whose file system is grown only when a pod mounts the volume again
  (condition FileSystemResizePending: "Waiting for user to (re-)start a pod to finish file system resize of volume
  on node."): the running pod keeps the old, full file system until it is deleted and recreated.
- One pod failing while its siblings of the same controller and the same template revision are healthy: the
  template is fine, something local to that pod (a mount whose daemon died, its node, its process) is not.
"""

from __future__ import annotations

import re
from typing import Any

from .objects import ERROR_LINE, Observation, condition, pod_name, pod_ready, pods_of, statuses
from .process import controller_of, line_time

DISK_FULL = re.compile(r"no space left on device|ENOSPC|disk (?:is )?full", re.I)


def _log_lines(obs: Observation, pod: str, pattern: re.Pattern[str], previous: bool = True) -> list[str]:
    return [ln.strip() for k, t in sorted(obs.logs.items()) if k.split("/")[0] == pod and (previous or not k.endswith("/previous"))
            for ln in (t or "").splitlines() if pattern.search(ln)]


def _around(line: str, pattern: re.Pattern[str], width: int = 160) -> str:
    """The line, or the part of a long one that ends with what `pattern` matched."""
    m = pattern.search(line)
    if len(line) <= width or not m:
        return line[:width]
    return "..." + line[max(0, m.end() - width):m.end()]


def _claims(pod: dict[str, Any]) -> set[str]:
    return {(v.get("persistentVolumeClaim") or {}).get("claimName") for v in pod.get("spec", {}).get("volumes") or []} - {None}


def resize_pending(obs: Observation) -> list[tuple[str, str, bool]]:
    """(pod, evidence, a StatefulSet's pod) for each pod that mounts a claim whose file system waits for a pod to
    be started again (FileSystemResizePending True) and whose log says its disk is full."""
    out = []
    for pvc in obs.pvcs:
        c, name = condition(pvc, "FileSystemResizePending"), pvc["metadata"]["name"]
        if not c or c.get("status") != "True":
            continue
        for p in pods_of(obs):
            full = _log_lines(obs, pod_name(p), DISK_FULL) if name in _claims(p) else []
            if not full:
                continue
            st, spec = pvc.get("status") or {}, pvc.get("spec") or {}
            sizes = (f" (status capacity {(st.get('capacity') or {}).get('storage')}, requested "
                     f"{((spec.get('resources') or {}).get('requests') or {}).get('storage')})") if st.get("capacity") else ""
            out.append((pod_name(p), f"persistentvolumeclaim/{name}: condition FileSystemResizePending=True since "
                        f"{c.get('lastTransitionTime')}: \"{c.get('message', '').strip()}\"{sizes}; pod {pod_name(p)}, "
                        f"which mounts it, logs \"{_around(full[-1], DISK_FULL)}\": the volume was expanded, its file system is grown "
                        "only when a pod mounts it again", (controller_of(p) or "").startswith("StatefulSet/")))
    return out


def resize_stuck(obs: Observation) -> list[tuple[str, str]]:
    """Pods a delete clears because the kubelet finishes a pending file system resize when their replacement
    mounts the claim; a StatefulSet's pod is left to a human (its identity holds data: one writer at a time)."""
    return [(pod, why) for pod, why, stateful in resize_pending(obs) if not stateful and obs.statefulset is None]


def _revision(p: dict[str, Any]) -> str | None:
    labels = p["metadata"].get("labels") or {}
    return labels.get("pod-template-hash") or labels.get("controller-revision-hash")


# Errors a pod's own mounts give: a FUSE file system whose daemon has gone (ENOTCONN on a path), an NFS handle the
# server no longer knows (ESTALE)
LOCAL_SIGNS = ((re.compile(r"Transport endpoint is not connected|ENOTCONN", re.I),
                "ENOTCONN on a file path is what a FUSE file system answers once its daemon has gone"),
               (re.compile(r"Stale (?:NFS )?file handle|ESTALE", re.I), "ESTALE: the NFS server no longer knows the file handle"))


def _mount_note(p: dict[str, Any], line: str) -> str:
    mounts = {m.get("mountPath"): m.get("name") for c in p.get("spec", {}).get("containers") or [] for m in c.get("volumeMounts") or []}
    where = next((f" (under {path}, where volume {name} is mounted)" for path, name in mounts.items() if path and path in line), "")
    return "".join(f"; {why}{where}" for rx, why in LOCAL_SIGNS if rx.search(line))


def _restarted_beside(obs: Observation, p: dict[str, Any]) -> str:
    """Another container of the same pod that restarted (a sidecar that crashed), with its previous log's last line."""
    for cs in statuses(p):
        last = (cs.get("lastState") or {}).get("terminated") or {}
        prev = [ln.strip() for ln in (obs.logs.get(f"{pod_name(p)}/{cs['name']}/previous") or "").splitlines() if ln.strip()]
        if last and cs.get("restartCount"):
            return (f"; its container {cs['name']} restarted {cs['restartCount']} time(s), last ended "
                    f"{last.get('finishedAt')} ({last.get('reason')}, exit {last.get('exitCode')})"
                    + (f", its previous log ends \"{prev[-1][:160]}\"" if prev else ""))
    return ""


def lone_failing_pod(obs: Observation) -> tuple[str, str] | None:
    """(pod, evidence) for the one Running pod of a controller's template revision whose current log keeps
    failing (errors among its last lines) while its siblings of the same revision are Ready, at least one of
    them read without an error line up to the same moment."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for p in pods_of(obs):
        owner, rev = controller_of(p), _revision(p)
        if owner and rev and p.get("status", {}).get("phase") == "Running":
            groups.setdefault((owner, rev), []).append(p)

    def current(p: dict[str, Any]) -> list[str]:
        return [ln.strip() for k, t in sorted(obs.logs.items()) if k.split("/")[0] == pod_name(p) and not k.endswith("/previous")
                for ln in (t or "").splitlines() if ln.strip()]

    for (owner, rev), group in sorted(groups.items()):
        failing = [p for p in group if sum(bool(ERROR_LINE.search(ln)) for ln in current(p)) >= 2
                   and any(ERROR_LINE.search(ln) for ln in current(p)[-3:])]
        if len(failing) != 1 or len(group) < 2:
            continue
        bad, others = failing[0], [p for p in group if p is not failing[0]]
        errors = [ln for ln in current(bad) if ERROR_LINE.search(ln)]
        first = next((t for t in map(line_time, errors) if t), None)
        clean = [p for p in others if current(p) and not any(ERROR_LINE.search(ln) for ln in current(p))
                 and (first is None or any((t or first) >= first for t in map(line_time, current(p))))]
        if not clean or not all(pod_ready(p) for p in others):
            continue
        nodes = sorted({p.get("spec", {}).get("nodeName") or "?" for p in others})
        return (pod_name(bad), f"pod {pod_name(bad)} (node {bad.get('spec', {}).get('nodeName')}) alone fails among the "
                f"{len(group)} pods of {owner} with the same template ({rev}): {len(errors)} error line(s) in its log, "
                f"last \"{errors[-1][:200]}\"{_mount_note(bad, errors[-1])}{_restarted_beside(obs, bad)}; its "
                f"{len(others)} sibling(s) on node(s) {', '.join(nodes)} are Ready and the log read of "
                f"{', '.join(pod_name(p) for p in clean)} shows no error: the fault is local to this pod (or its node)")
    return None
