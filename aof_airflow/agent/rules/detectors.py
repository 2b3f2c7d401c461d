"""One pure function per failure class: Observation -> Finding | None.

WHY pure functions: each detector reads only the Kubernetes objects (pods' containerStatuses and conditions,
events, ReplicaSets, nodes, PVCs, ...) so it can be tested from dicts and never invents a result; the
evidence it returns is quoted from those objects. Ranking and severity live in `diagnose`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable

from .gather import Observation, config_refs, pod_ready, selector_matches

REVISION = "deployment.kubernetes.io/revision"

# Remediation classes the remediation side knows how to execute.
ACTIONS = ("rollout-restart", "rollout-undo", "scale", "delete-pod", "none")


@dataclass
class Finding:
    cls: str  # failure class, e.g. "crash-loop"
    summary: str  # one sentence, quoting the decisive fact
    evidence: list[str]  # verbatim quotes from objects, events, logs
    action: str  # one of ACTIONS
    command: str | None = None  # the kubectl command for `action` (None for "none")
    advice: str = ""  # what a human should do beyond the automated action
    confidence: float = 0.7
    affected: list[str] = field(default_factory=list)
    min_severity: str = "low"
    cause: bool = True  # False: a symptom (explained by another finding when one exists)
    rank: int = 100  # detector priority, set by run_all (lower = more specific)


# ------------------------------------------------------------------------------------------------ helpers


def pods_of(obs: Observation) -> list[dict[str, Any]]:
    return [p for p in obs.pods if p.get("status", {}).get("reason") != "Evicted"]


def pod_name(pod: dict[str, Any]) -> str:
    return pod["metadata"]["name"]


def condition(obj: dict[str, Any] | None, ctype: str) -> dict[str, Any] | None:
    for c in (obj or {}).get("status", {}).get("conditions", []) or []:
        if c.get("type") == ctype:
            return c
    return None


def statuses(pod: dict[str, Any]) -> list[dict[str, Any]]:
    st = pod.get("status", {})
    return (st.get("initContainerStatuses") or []) + (st.get("containerStatuses") or [])


def events_for(obs: Observation, name: str | None = None, reasons: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    out = []
    for e in obs.events:
        if name and e.get("involvedObject", {}).get("name") != name:
            continue
        if reasons and e.get("reason") not in reasons:
            continue
        out.append(e)
    return out


def quote_event(e: dict[str, Any]) -> str:
    count = e.get("count")
    times = f" (x{count})" if count and count > 1 else ""
    return f"event {e.get('reason')} on {e.get('involvedObject', {}).get('kind', '').lower()}/{e.get('involvedObject', {}).get('name')}{times}: \"{(e.get('message') or '').strip()}\""


def tail(text: str | None, n: int = 3, width: int = 200) -> list[str]:
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
    return [ln[:width] for ln in lines[-n:]]


def mem_bytes(q: str | None) -> int | None:
    """Kubernetes quantity ('512Mi', '1G', '1.5Gi', '1048576') -> bytes."""
    if not q:
        return None
    m = re.fullmatch(r"([0-9.]+)([KMGTPE]i?|[kmMGTPE]|)", str(q).strip())
    if not m:
        return None
    num, unit = float(m.group(1)), m.group(2)
    mult = {"": 1, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
            "Ki": 1024, "Mi": 1024**2, "Gi": 1024**3, "Ti": 1024**4, "Pi": 1024**5, "Ei": 1024**6, "m": 1e-3}
    return int(num * mult[unit])


def workload_cmd(obs: Observation, verb: str) -> str | None:
    ref = obs.workload_ref
    if not ref:
        return None
    if verb == "rollout-restart":
        return f"kubectl rollout restart {ref} -n {obs.namespace}"
    if verb == "rollout-undo":
        return f"kubectl rollout undo {ref} -n {obs.namespace}"
    return None


def rs_revision(rs: dict[str, Any]) -> int:
    try:
        return int(rs["metadata"].get("annotations", {}).get(REVISION, "0"))
    except ValueError:
        return 0


def images(template_owner: dict[str, Any]) -> str:
    cs = template_owner.get("spec", {}).get("template", {}).get("spec", {}).get("containers", []) or []
    return ", ".join(c.get("image", "?") for c in cs)


@dataclass
class Revisions:
    """The newest ReplicaSet of a Deployment and the one before it: the basis of 'a bad new revision'."""

    newest: dict[str, Any]
    previous: dict[str, Any] | None

    def owns(self, pod: dict[str, Any]) -> bool:
        return any(o.get("kind") == "ReplicaSet" and o.get("name") == self.newest["metadata"]["name"]
                   for o in pod["metadata"].get("ownerReferences", []) or [])

    def quote(self) -> str:
        n, p = self.newest, self.previous
        s = f"new revision {rs_revision(n)} (replicaset {n['metadata']['name']}, image {images(n)})"
        if p:
            s += f" replaced revision {rs_revision(p)} (image {images(p)})"
        return s


def revisions(obs: Observation) -> Revisions | None:
    if not obs.deployment or not obs.replicasets:
        return None
    rss = sorted(obs.replicasets, key=rs_revision)
    newest = rss[-1]
    prev = rss[-2] if len(rss) > 1 else None
    return Revisions(newest, prev)


RECENT_ROLLOUT = timedelta(hours=6)


def parse_time(v: Any) -> datetime | None:
    if not isinstance(v, str) or not v:
        return None
    try:
        return datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        return None


def observed_at(obs: Observation) -> datetime | None:
    """'Now' as the objects tell it (latest event / container state / condition time): stable for recorded data."""
    stamps: list[Any] = [e.get("lastTimestamp") or e.get("eventTime") for e in obs.events]
    for p in obs.pods:
        stamps += [c.get("lastTransitionTime") for c in p.get("status", {}).get("conditions", []) or []]
        for cs in statuses(p):
            for st in ((cs.get("state") or {}).values(), ((cs.get("lastState") or {}).values())):
                for v in st:
                    if isinstance(v, dict):
                        stamps += [v.get("startedAt"), v.get("finishedAt")]
    times = [t for t in map(parse_time, stamps) if t]
    return max(times) if times else None


def bad_new_revision(obs: Observation, failing: list[dict[str, Any]]) -> Revisions | None:
    """The failing pods belong to the newest ReplicaSet, an older revision exists, and either the rollout never
    finished (old pods still serving, or no NewReplicaSetAvailable) or it finished only recently (< 6 h before
    what the objects show as now): the new revision brought the failure, undo is the fix."""
    rev = revisions(obs)
    if not rev or not rev.previous or not failing:
        return None
    if not all(rev.owns(p) for p in failing):
        return None
    prev_ready = (rev.previous.get("status", {}).get("readyReplicas") or 0) > 0
    prog = condition(obs.deployment, "Progressing")
    finished = bool(prog and prog.get("reason") == "NewReplicaSetAvailable")
    created, now = parse_time(rev.newest["metadata"].get("creationTimestamp")), observed_at(obs)
    recent = bool(created and now and now - created < RECENT_ROLLOUT)
    return rev if (prev_ready or not finished or recent) else None


def _new_revision_action(obs: Observation, failing: list[dict[str, Any]], f: Finding, otherwise: str) -> Finding:
    """Choose undo when a new revision introduced the failure, else `otherwise`; quote the revision change."""
    rev = bad_new_revision(obs, failing)
    if rev:
        f.action, f.command = "rollout-undo", workload_cmd(obs, "rollout-undo")
        f.advice = f"roll back first, then fix the new revision before rolling forward ({f.advice})" if f.advice else "roll back first"
        f.evidence.append(rev.quote())
        f.summary += f" after {rev.quote()}"
        f.confidence = min(0.95, f.confidence + 0.05)
    else:
        f.action = otherwise
        f.command = workload_cmd(obs, otherwise) if otherwise.startswith("rollout") else None
        if otherwise != "none" and f.command is None:
            f.action = "none"  # a bare pod: no controller to restart
    return f


# ------------------------------------------------------------------------------------------------ detectors


def liveness_failures(obs: Observation) -> bool:
    pods = {pod_name(p) for p in obs.pods}
    return any("liveness probe" in (e.get("message") or "").lower() for e in obs.events
               if e.get("reason") in ("Unhealthy", "Killing") and e.get("involvedObject", {}).get("name") in pods)


def killed_by_liveness(obs: Observation, pod: dict[str, Any], last: dict[str, Any]) -> bool:
    """This pod's own liveness kills, or a SIGKILL/SIGTERM exit (137/143, not OOM) while its siblings' liveness
    probes fail: the kubelet, not the program, ended the container."""
    own = any("liveness probe" in (e.get("message") or "").lower() for e in events_for(obs, pod_name(pod), ("Unhealthy", "Killing")))
    return own or (last.get("exitCode") in (137, 143) and last.get("reason") != "OOMKilled" and liveness_failures(obs))


_SIGNATURES = (
    (re.compile(r"too many clients|remaining connection slots are reserved|connection pool exhausted|pool exhausted", re.I), "connection slots exhausted"),
    (re.compile(r"AccessExclusiveLock|lock wait timeout|deadlock detected|waiting for .*lock", re.I), "lock contention"),
    (re.compile(r"heap out of memory|OutOfMemoryError|Cannot allocate memory|out of memory", re.I), "out of memory"),
    (re.compile(r"ECONNREFUSED|connection refused", re.I), "a dependency refuses connections"),
    (re.compile(r"no space left on device", re.I), "disk full"),
    (re.compile(r"permission denied|EACCES", re.I), "permission denied"),
)


def log_signatures(obs: Observation, pods: list[dict[str, Any]]) -> list[str]:
    """Known log lines that name the cause more precisely, quoted: 'sorry, too many clients already' etc."""
    found: dict[str, str] = {}
    names = {pod_name(p) for p in pods}
    for key, text in sorted(obs.logs.items()):
        if key.split("/")[0] not in names:
            continue
        for line in (text or "").splitlines():
            for rx, label in _SIGNATURES:
                if label not in found and rx.search(line):
                    found[label] = line.strip()[:200]
    return [f"log signature ({label}): \"{line}\"" for label, line in found.items()]


def detect_oom(obs: Observation) -> Finding | None:
    """Containers whose current or last state was terminated with reason OOMKilled (exit 137)."""
    hits: list[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = []
    for p in pods_of(obs):
        for cs in statuses(p):
            for st in ((cs.get("lastState") or {}).get("terminated"), (cs.get("state") or {}).get("terminated")):
                if st and st.get("reason") == "OOMKilled":
                    hits.append((p, cs, st))
                    break
    if not hits:
        return None
    p, cs, st = hits[0]
    limit = _container_spec(p, cs["name"]).get("resources", {}).get("limits", {}).get("memory")
    ev = [f"pod {pod_name(p)} container {cs['name']}: last terminated reason OOMKilled, exit code {st.get('exitCode')}, "
          f"restartCount {cs.get('restartCount', 0)}, memory limit {limit or 'none'}"]
    ev += [f"previous log: \"{ln}\"" for ln in tail(obs.logs.get(f"{pod_name(p)}/{cs['name']}/previous"), 2)]
    pods = sorted({pod_name(h[0]) for h in hits})
    f = Finding(
        cls="oom-killed",
        summary=f"container {cs['name']} is OOMKilled (memory limit {limit or 'unset'}) in {len(pods)} pod(s)",
        evidence=ev, action="rollout-restart", confidence=0.85, affected=pods, min_severity="medium",
        advice=f"raise resources.limits.memory above {limit} or fix the leak" if limit else "set a memory limit and fix the leak",
    )
    return _new_revision_action(obs, [h[0] for h in hits], f, "rollout-restart")


def detect_memory_near_limit(obs: Observation) -> Finding | None:
    """Running containers using >= 90% of their memory limit (from `kubectl top`, when metrics are served)."""
    usage = obs.memory_usage
    hits = []
    for p in pods_of(obs):
        used = usage.get(pod_name(p))
        if used is None:
            continue
        limit = sum(mem_bytes(c.get("resources", {}).get("limits", {}).get("memory")) or 0
                    for c in p.get("spec", {}).get("containers", []) or [])
        if limit and used >= 0.9 * limit:
            hits.append((p, used, limit))
    if not hits:
        return None
    ev = [f"pod {pod_name(p)}: memory {used // 2**20}Mi of limit {limit // 2**20}Mi ({100 * used // limit}%)" for p, used, limit in hits]
    return Finding(
        cls="memory-near-limit", summary=f"{len(hits)} pod(s) use >= 90% of their memory limit",
        evidence=ev, action="rollout-restart", command=workload_cmd(obs, "rollout-restart"), confidence=0.7,
        affected=[pod_name(h[0]) for h in hits], min_severity="medium",
        advice="raise the memory limit or find the leak; a restart only buys time",
    )


def detect_crash_loop(obs: Observation) -> Finding | None:
    """CrashLoopBackOff (or repeated non-zero exits) not explained by OOM or a liveness probe."""
    hits = []
    for p in pods_of(obs):
        for cs in statuses(p):
            waiting = (cs.get("state") or {}).get("waiting") or {}
            last = (cs.get("lastState") or {}).get("terminated") or {}
            if last.get("reason") == "OOMKilled" or killed_by_liveness(obs, p, last):
                continue
            if waiting.get("reason") == "CrashLoopBackOff" or (cs.get("restartCount", 0) >= 3 and last.get("exitCode", 0) != 0):
                hits.append((p, cs, waiting, last))
    if not hits:
        return None
    p, cs, waiting, last = hits[0]
    pn = pod_name(p)
    ev = [f"pod {pn} container {cs['name']}: state waiting {waiting.get('reason', '-')} \"{waiting.get('message', '')}\", "
          f"restartCount {cs.get('restartCount', 0)}, last exit code {last.get('exitCode', '?')} ({last.get('reason', '?')})"]
    log = tail(obs.logs.get(f"{pn}/{cs['name']}/previous") or obs.logs.get(f"{pn}/{cs['name']}"), 3)
    ev += [f"log tail: \"{ln}\"" for ln in log]
    ev += [quote_event(e) for e in events_for(obs, pn, ("BackOff",))[:1]]
    ev += log_signatures(obs, [h[0] for h in hits])
    pods = sorted({pod_name(h[0]) for h in hits})
    hint = f"; last log line \"{log[-1]}\"" if log else ""
    logs_all = " ".join(obs.logs.get(f"{pod_name(h[0])}/{h[1]['name']}/previous", "") for h in hits)
    transient = bool(_TRANSIENT.search(logs_all))
    f = Finding(
        cls="crash-loop",
        summary=f"container {cs['name']} is in CrashLoopBackOff in {len(pods)} pod(s), last exit code {last.get('exitCode', '?')}{hint}",
        evidence=ev, action="none", confidence=0.85 if log else 0.75, affected=pods, min_severity="medium",
        advice=("the crash is a failed connection to a dependency: once it is back, a restart brings the pods up"
                if transient else "read the crash log above; fix the configuration or code it points to (a restart will crash the same way)"),
    )
    # A restart helps only when the crash is a dependency that is back; a configuration/code crash repeats.
    return _new_revision_action(obs, [h[0] for h in hits], f, "rollout-restart" if transient else "none")


_TRANSIENT = re.compile(
    r"ECONNREFUSED|connection refused|could not connect|couldn't connect|no such host|temporary failure in name resolution"
    r"|dial tcp|connection reset|i/o timeout|timed out|ETIMEDOUT|EAI_AGAIN|service unavailable", re.I)

_PULL_CAUSES = (
    (re.compile(r"unauthorized|authentication required|pull access denied|denied|403 forbidden|no basic auth", re.I), "registry authentication failed (imagePullSecrets)"),
    (re.compile(r"manifest unknown|manifest for .* not found|tag .* not found|not found: manifest|failed to resolve reference \"[^\"]+:[^\"/]+\": .*not found", re.I), "the image tag does not exist"),
    (re.compile(r"repository .* not found|repository does not exist|name unknown|no such host", re.I), "the image repository does not exist or is unreachable"),
)


def detect_image_pull(obs: Observation) -> Finding | None:
    """ImagePullBackOff / ErrImagePull / InvalidImageName, with the registry's reason (tag, repository, auth)."""
    hits = []
    for p in pods_of(obs):
        for cs in statuses(p):
            w = (cs.get("state") or {}).get("waiting") or {}
            if w.get("reason") in ("ImagePullBackOff", "ErrImagePull", "InvalidImageName"):
                hits.append((p, cs, w))
    if not hits:
        return None
    p, cs, w = hits[0]
    evs = [e for e in events_for(obs, pod_name(p), ("Failed",)) if "pull" in (e.get("message") or "").lower()]
    text = " ".join([w.get("message", "")] + [e.get("message", "") for e in evs])
    why = next((label for rx, label in _PULL_CAUSES if rx.search(text)), "the image could not be pulled")
    ev = [f"pod {pod_name(p)} container {cs['name']}: waiting {w.get('reason')} \"{w.get('message', '')}\", image {cs.get('image')}"]
    ev += [quote_event(e) for e in evs[:2]]
    pods = sorted({pod_name(h[0]) for h in hits})
    f = Finding(
        cls="image-pull", summary=f"image {cs.get('image')} cannot be pulled: {why}", evidence=ev,
        action="none", confidence=0.9 if evs or w.get("message") else 0.75, affected=pods, min_severity="medium",
        advice="push the image / fix the tag, or add the registry credentials to imagePullSecrets",
    )
    return _new_revision_action(obs, [h[0] for h in hits], f, "none")


_SCHED = (
    ("pending-insufficient-resources", re.compile(r"Insufficient ([\w./-]+)")),
    ("pending-unbound-pvc", re.compile(r"unbound immediate PersistentVolumeClaims|persistentvolumeclaim \"[^\"]+\" not found|volume node affinity conflict", re.I)),
    ("pending-node-selector", re.compile(r"didn't match (?:Pod's )?node (?:affinity|selector)|node\(s\) didn't match", re.I)),
    ("pending-taint", re.compile(r"untolerated taint|had taint|taint\(s\) that the pod didn't tolerate", re.I)),
)


def detect_pending(obs: Observation) -> Finding | None:
    """Unschedulable pods: the scheduler's FailedScheduling message, cross-checked with nodes, PVCs, StorageClasses."""
    pending = [p for p in pods_of(obs) if p.get("status", {}).get("phase") == "Pending" and not any(
        (cs.get("state") or {}).get("waiting", {}).get("reason") not in (None, "ContainerCreating", "PodInitializing")
        for cs in statuses(p))]
    pending = [p for p in pending if (condition(p, "PodScheduled") or {}).get("status") != "True"]
    if not pending:
        return None
    p = pending[0]
    msgs = [(condition(p, "PodScheduled") or {}).get("message") or ""]
    evs = events_for(obs, pod_name(p), ("FailedScheduling",))
    msgs += [e.get("message") or "" for e in evs]
    text = " ".join(msgs)
    cls, detail = "pending-unschedulable", ""
    for c, rx in _SCHED:
        m = rx.search(text)
        if m:
            cls = c
            detail = m.group(1) if m.groups() else m.group(0)
            break
    ev = [f"pod {pod_name(p)}: phase Pending, PodScheduled False \"{msgs[0]}\""] if msgs[0] else [f"pod {pod_name(p)}: phase Pending"]
    ev += [quote_event(e) for e in evs[-1:]]
    summary, advice, conf = f"{len(pending)} pod(s) cannot be scheduled", "", 0.8
    if cls == "pending-insufficient-resources":
        kinds = sorted(set(re.findall(r"Insufficient ([\w./-]+)", text)))
        summary = f"{len(pending)} pod(s) Pending: no node has enough {', '.join(kinds)}"
        req = _requests(p)
        ev.append("pod requests " + ", ".join(f"{k}={v}" for k, v in sorted(req.items())) if req else "pod has no requests")
        if obs.nodes is not None:
            for n in obs.nodes[:4]:
                alloc = n.get("status", {}).get("allocatable", {})
                ev.append(f"node {n['metadata']['name']} allocatable " + ", ".join(f"{k}={alloc.get(k, '0')}" for k in kinds))
            conf = 0.9
        advice = "add capacity (node pool) or lower the pod's requests"
    elif cls == "pending-unbound-pvc":
        claims = [(v.get("persistentVolumeClaim") or {}).get("claimName") for v in p.get("spec", {}).get("volumes", []) or []]
        claims = [c for c in claims if c]
        pvc_by_name = {c["metadata"]["name"]: c for c in obs.pvcs}
        sc_names = None if obs.storageclasses is None else {s["metadata"]["name"] for s in obs.storageclasses}
        for cn in claims:
            pvc = pvc_by_name.get(cn)
            if pvc is None:
                ev.append(f"persistentvolumeclaim {cn}: not found")
                continue
            sc = pvc.get("spec", {}).get("storageClassName")
            ev.append(f"persistentvolumeclaim {cn}: phase {pvc.get('status', {}).get('phase')}, storageClassName {sc or '(default)'}")
            if sc and sc_names is not None and sc not in sc_names:
                ev.append(f"storageclass {sc}: does not exist (cluster has: {', '.join(sorted(sc_names)) or 'none'})")
                summary = f"{len(pending)} pod(s) Pending: PVC {cn} is unbound because StorageClass {sc} does not exist"
                conf = 0.95
            for e in events_for(obs, cn, ("ProvisioningFailed", "FailedBinding"))[-1:]:
                ev.append(quote_event(e))
        if not summary.endswith("does not exist"):
            summary = f"{len(pending)} pod(s) Pending on unbound PersistentVolumeClaim(s) {', '.join(claims)}"
        advice = "create the StorageClass / a matching PersistentVolume, or fix storageClassName"
    elif cls == "pending-node-selector":
        sel = p.get("spec", {}).get("nodeSelector")
        ev.append(f"pod nodeSelector {sel}" if sel else "pod has required node affinity")
        if obs.nodes is not None and sel:
            matching = [n["metadata"]["name"] for n in obs.nodes if all(n["metadata"].get("labels", {}).get(k) == v for k, v in sel.items())]
            ev.append(f"nodes matching the selector: {', '.join(matching) or 'none'}")
            conf = 0.9
        summary = f"{len(pending)} pod(s) Pending: no node matches the pod's node selector/affinity"
        advice = "fix the nodeSelector/affinity or label a node accordingly"
    elif cls == "pending-taint":
        if obs.nodes is not None:
            for n in obs.nodes[:4]:
                for t in n.get("spec", {}).get("taints", []) or []:
                    ev.append(f"node {n['metadata']['name']} taint {t.get('key')}={t.get('value', '')}:{t.get('effect')}")
            conf = 0.9
        summary = f"{len(pending)} pod(s) Pending: every node has a taint the pod does not tolerate"
        advice = "add the toleration or remove the taint"
    f = Finding(cls=cls, summary=summary, evidence=ev, action="none", confidence=conf,
                affected=[pod_name(x) for x in pending], min_severity="medium", advice=advice)
    return _new_revision_action(obs, pending, f, "none")


def detect_config_missing(obs: Observation) -> Finding | None:
    """CreateContainerConfigError or FailedMount: a ConfigMap / Secret (or key) the pod needs is missing."""
    hits = []
    for p in pods_of(obs):
        for cs in statuses(p):
            w = (cs.get("state") or {}).get("waiting") or {}
            if w.get("reason") == "CreateContainerConfigError":
                hits.append((p, f"pod {pod_name(p)} container {cs['name']}: waiting CreateContainerConfigError \"{w.get('message', '')}\""))
                break
        else:
            for e in events_for(obs, pod_name(p), ("FailedMount",)):
                if re.search(r"(configmap|secret) \"[^\"]+\" not found", e.get("message") or "", re.I):
                    hits.append((p, quote_event(e)))
                    break
    if not hits:
        return None
    p = hits[0][0]
    ev = [hits[0][1]]
    cms, secs = config_refs(p)
    missing = [f"configmap {n}" for n in sorted(cms) if obs.configmaps.get(n) is False]
    missing += [f"secret {n}" for n in sorted(secs) if obs.secrets.get(n) is False]
    if not missing:
        m = re.findall(r"(configmap|secret) \"([^\"]+)\" not found", " ".join(h[1] for h in hits), re.I)
        missing = sorted({f"{k.lower()} {n}" for k, n in m})
    else:
        ev.append("kubectl get: " + ", ".join(missing) + " NotFound")
    what = ", ".join(missing) if missing else "a referenced ConfigMap/Secret key"
    f = Finding(
        cls="config-missing", summary=f"pods cannot start: {what} missing (CreateContainerConfigError)",
        evidence=ev, action="none", confidence=0.95 if missing else 0.8, affected=sorted({pod_name(h[0]) for h in hits}),
        min_severity="medium", advice=f"create {what} (or fix the reference in the pod template)",
    )
    return _new_revision_action(obs, [h[0] for h in hits], f, "none")


def detect_probe_failures(obs: Observation) -> Finding | None:
    """Readiness / liveness probes failing (Unhealthy events) on running containers."""
    hits = []
    for p in pods_of(obs):
        evs = [e for e in events_for(obs, pod_name(p), ("Unhealthy",)) if "probe failed" in (e.get("message") or "").lower()]
        if evs and (not pod_ready(p) or any(cs.get("restartCount", 0) > 0 for cs in statuses(p))):
            hits.append((p, evs))
    if not hits:
        return None
    named = {pod_name(h[0]) for h in hits}
    for p in pods_of(obs):  # siblings killed the same way whose own events have aged out
        if pod_name(p) not in named and not pod_ready(p) and any(
                killed_by_liveness(obs, p, (cs.get("lastState") or {}).get("terminated") or {}) for cs in statuses(p)):
            hits.append((p, []))
    liveness = any("liveness" in (e.get("message") or "").lower() for _, evs in hits for e in evs)
    kind = "liveness" if liveness else "readiness"
    ev = [quote_event(hits[0][1][-1])]
    p0 = hits[0][0]
    for cs in statuses(p0):
        ev.append(f"pod {pod_name(p0)} container {cs['name']}: ready {cs.get('ready')}, restartCount {cs.get('restartCount', 0)}")
        ev += [f"log tail: \"{ln}\"" for ln in tail(obs.logs.get(f"{pod_name(p0)}/{cs['name']}"), 2)]
    failing = [h[0] for h in hits]
    healthy = [p for p in pods_of(obs) if pod_ready(p) and p not in failing]
    sigs = log_signatures(obs, failing)
    ev += sigs
    why = f"; logs show {', '.join(s.split('(')[1].split(')')[0] for s in sigs)}" if sigs else ""
    f = Finding(
        cls="probe-failing", summary=f"{kind} probe failing on {len(failing)} of {len(pods_of(obs))} pod(s){why}",
        evidence=ev, action="rollout-restart", confidence=0.75, affected=[pod_name(p) for p in failing],
        min_severity="medium", advice="check what the probe endpoint depends on; fix the probe or the dependency",
    )
    rev = bad_new_revision(obs, failing)
    if not rev and healthy and len(failing) == 1 and obs.workload_ref:
        # one stuck pod among healthy siblings: replacing it is the smallest safe action
        f.action, f.command = "delete-pod", f"kubectl delete pod {pod_name(failing[0])} -n {obs.namespace}"
        f.summary += f" ({len(healthy)} sibling(s) healthy: pod {pod_name(failing[0])} is stuck)"
        return f
    return _new_revision_action(obs, failing, f, "rollout-restart")


def detect_rollout_stuck(obs: Observation) -> Finding | None:
    """A Deployment whose new revision does not become available (ProgressDeadlineExceeded, ReplicaFailure)."""
    d = obs.deployment
    if not d:
        return None
    st, spec = d.get("status", {}), d.get("spec", {})
    prog, fail = condition(d, "Progressing"), condition(d, "ReplicaFailure")
    desired = spec.get("replicas", 1)
    stuck = bool(prog and prog.get("status") == "False")
    unavailable = (st.get("unavailableReplicas") or 0) > 0 or (st.get("updatedReplicas") or 0) < desired
    rev = revisions(obs)
    if not (stuck or (fail and fail.get("status") == "True") or (unavailable and rev and rev.previous and
                                                                    (rev.newest.get("status", {}).get("readyReplicas") or 0) < desired)):
        return None
    if desired == 0:
        return None
    ev = []
    if prog:
        ev.append(f"deployment condition Progressing={prog.get('status')} reason {prog.get('reason')}: \"{prog.get('message', '')}\"")
    if fail and fail.get("status") == "True":
        ev.append(f"deployment condition ReplicaFailure reason {fail.get('reason')}: \"{fail.get('message', '')}\"")
    ev.append(f"replicas {desired}, updated {st.get('updatedReplicas', 0)}, available {st.get('availableReplicas', 0)}, unavailable {st.get('unavailableReplicas', 0)}")
    if rev:
        ev.append(rev.quote())
        for e in events_for(obs, rev.newest["metadata"]["name"], ("FailedCreate",))[-1:]:
            ev.append(quote_event(e))
    can_undo = bool(rev and rev.previous)
    return Finding(
        cls="rollout-stuck",
        summary=f"rollout of deployment/{d['metadata']['name']} is stuck with {st.get('unavailableReplicas', 0) or desired - (st.get('availableReplicas') or 0)} unavailable replica(s)",
        evidence=ev, action="rollout-undo" if can_undo else "none",
        command=workload_cmd(obs, "rollout-undo") if can_undo else None, confidence=0.8,
        affected=[f"deployment/{d['metadata']['name']}"], min_severity="medium", cause=True,
        advice="find why the new ReplicaSet's pods do not become ready before rolling forward again",
    )


def detect_scaled_to_zero(obs: Observation) -> Finding | None:
    """A Deployment/StatefulSet scaled to 0 replicas while its last applied configuration asked for more."""
    w = obs.workload
    if not w or w.get("spec", {}).get("replicas", 1) != 0:
        return None
    want = None
    raw = w["metadata"].get("annotations", {}).get("kubectl.kubernetes.io/last-applied-configuration")
    if raw:
        try:
            want = json.loads(raw).get("spec", {}).get("replicas")
        except ValueError:
            want = None
    want = want if isinstance(want, int) and want > 0 else 1
    ref = obs.workload_ref
    ev = [f"{ref}: spec.replicas 0, status.readyReplicas {w.get('status', {}).get('readyReplicas', 0)}"]
    if raw:
        ev.append(f"last-applied-configuration has replicas {want}")
    ev += [quote_event(e) for e in events_for(obs, w["metadata"]["name"], ("ScalingReplicaSet",))[-1:]]
    return Finding(
        cls="scaled-to-zero", summary=f"{ref} is scaled to 0 replicas (last applied: {want})", evidence=ev,
        action="scale", command=f"kubectl scale {ref} --replicas={want} -n {obs.namespace}", confidence=0.85,
        affected=[ref], min_severity="high", advice="find who scaled it down (audit log) before it happens again",
    )


def detect_service_no_endpoints(obs: Observation) -> Finding | None:
    """A Service with no ready endpoint: selector matching nothing, or every backing pod unready."""
    svc = obs.service
    if not svc or not svc.get("spec", {}).get("selector"):
        return None
    subsets = (obs.endpoints or {}).get("subsets") or []
    ready = sum(len(s.get("addresses") or []) for s in subsets)
    not_ready = sum(len(s.get("notReadyAddresses") or []) for s in subsets)
    if ready > 0:
        return None
    name, sel = svc["metadata"]["name"], svc["spec"]["selector"]
    ev = [f"service/{name} selector {','.join(f'{k}={v}' for k, v in sel.items())}: endpoints have 0 ready addresses, {not_ready} not ready"]
    pods = pods_of(obs)
    if not pods and not obs.workload:
        near = obs.namespace_labels
        if near:
            ev.append("pods in the namespace carry labels: " + "; ".join(near[:3]))
        return Finding(
            cls="service-selector-mismatch", summary=f"service/{name} selects no pods: its selector matches nothing in {obs.namespace}",
            evidence=ev, action="none", confidence=0.85, affected=[f"service/{name}"], min_severity="high",
            advice="fix the Service selector (or the pod template labels) so that they match",
        )
    ev.append(f"{len(pods)} pod(s) match, {sum(pod_ready(p) for p in pods)} ready")
    return Finding(
        cls="service-no-endpoints", summary=f"service/{name} has no ready endpoints: none of its {len(pods)} pod(s) is ready",
        evidence=ev, action="none", confidence=0.6, affected=[f"service/{name}"], min_severity="high", cause=False,
    )


def detect_evicted(obs: Observation) -> Finding | None:
    """Pods in phase Failed with reason Evicted (node pressure); leftovers to clean, and a pressure to explain."""
    ev_pods = [p for p in obs.pods if p.get("status", {}).get("reason") == "Evicted"]
    if not ev_pods:
        return None
    msg = ev_pods[0].get("status", {}).get("message", "")
    m = re.search(r"low on resource: (\S+?)\.?(?:\s|$)", msg)
    res = m.group(1) if m else "resources"
    ev = [f"pod {pod_name(p)}: phase Failed reason Evicted \"{p.get('status', {}).get('message', '')}\" (node {p.get('spec', {}).get('nodeName', '?')})" for p in ev_pods[:3]]
    ev += [quote_event(e) for e in obs.events if e.get("reason") == "Evicted"][:1]
    names = [pod_name(p) for p in ev_pods]
    return Finding(
        cls="evicted", summary=f"{len(ev_pods)} pod(s) evicted: node low on {res}", evidence=ev,
        action="delete-pod", command=f"kubectl delete pod {' '.join(names)} -n {obs.namespace}", confidence=0.8,
        affected=names, min_severity="low",
        advice=f"set {res} requests/limits so the scheduler accounts for them; check node {res} pressure",
    )


def detect_statefulset_down(obs: Observation) -> Finding | None:
    """Every replica of a StatefulSet is unready: a data store is down; severity critical, approval required."""
    s = obs.statefulset
    if not s:
        return None
    desired = s.get("spec", {}).get("replicas", 1)
    pods = pods_of(obs)
    ready = sum(pod_ready(p) for p in pods) if pods else (s.get("status", {}).get("readyReplicas") or 0)
    if desired == 0 or ready > 0:
        return None
    return Finding(
        cls="statefulset-down", summary=f"all {desired} replica(s) of statefulset/{s['metadata']['name']} are down",
        evidence=[f"statefulset/{s['metadata']['name']}: replicas {desired}, readyReplicas {s.get('status', {}).get('readyReplicas', 0)}"],
        action="none", confidence=0.9, affected=[f"statefulset/{s['metadata']['name']}"], min_severity="critical", cause=False,
    )


def _container_spec(pod: dict[str, Any], name: str) -> dict[str, Any]:
    spec = pod.get("spec", {})
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        if c.get("name") == name:
            return c
    return {}


def _requests(pod: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for c in pod.get("spec", {}).get("containers", []) or []:
        for k, v in (c.get("resources", {}).get("requests") or {}).items():
            out[k] = v if k not in out else f"{out[k]}+{v}"
        for k, v in (c.get("resources", {}).get("limits") or {}).items():
            if "gpu" in k and k not in out:
                out[k] = v
    return out


# Order = priority when several causes are found: the most specific, most certain first.
DETECTORS: list[Callable[[Observation], Finding | None]] = [
    detect_config_missing,
    detect_image_pull,
    detect_oom,
    detect_crash_loop,
    detect_pending,
    detect_probe_failures,
    detect_scaled_to_zero,
    detect_rollout_stuck,
    detect_memory_near_limit,
    detect_service_no_endpoints,
    detect_evicted,
    detect_statefulset_down,
]


def run_all(obs: Observation) -> list[Finding]:
    out = []
    for i, d in enumerate(DETECTORS):
        f = d(obs)
        if f is not None:
            f.rank = i
            out.append(f)
    return out


__all__ = ["ACTIONS", "DETECTORS", "Finding", "run_all", "selector_matches"] + [d.__name__ for d in DETECTORS]
