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
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"

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


def template_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Names of what differs between two pod templates (per container: image, env, resources, probes, ...;
    pod level: volumes, serviceAccountName, ...), without the restartedAt annotation and controller labels."""
    def clean(t: dict[str, Any]) -> dict[str, Any]:
        t = json.loads(json.dumps(t or {}))
        meta = t.setdefault("metadata", {})
        (meta.get("labels") or {}).pop("pod-template-hash", None)
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


def bad_new_revision(obs: Observation, failing: list[dict[str, Any]]) -> Revisions | None:
    """The failing pods belong to the newest ReplicaSet, an older revision exists whose pod template really
    differs (not only by a restart's annotation), and either the rollout never finished (old pods still
    serving, or no NewReplicaSetAvailable) or it finished only recently (< 6 h before what the objects show as
    now): the new revision brought the failure, undo is the fix."""
    rev = revisions(obs)
    if not rev or not rev.previous or not failing:
        return None
    if not rev.changes():
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
        same = revisions(obs)
        if same and same.previous and not same.changes() and failing and all(same.owns(p) for p in failing):
            f.evidence.append(same.only_restarted())
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
    runs = [r for r in (_run_seconds(h[2]) for h in hits) if r is not None]
    longest = max(runs) if runs else None
    leak = longest is not None and longest >= LEAK_RUN_SECONDS
    if longest is not None:
        ev.append(f"longest run before an OOMKill: {_human(longest)} ({'memory grows until the limit: a leak' if leak else 'killed soon after start: the working set needs more than the limit'})")
    f = Finding(
        cls="oom-killed",
        summary=f"container {cs['name']} is OOMKilled (memory limit {limit or 'unset'}) in {len(pods)} pod(s)"
                + ("" if leak or longest is None else f", {_human(longest)} or less after each start"),
        evidence=ev, action="none", confidence=0.85, affected=pods, min_severity="medium",
        advice=(f"fix the leak (or raise resources.limits.memory above {limit}); a restart buys time" if leak else
                f"raise resources.limits.memory of container {cs['name']} above {limit} (or lower what it loads at start): "
                "a restart is killed the same way") if limit else "set a memory limit and fix the leak",
    )
    # A restart removes a leak's accumulated memory; it does nothing for a working set bigger than the limit.
    return _new_revision_action(obs, [h[0] for h in hits], f, "rollout-restart" if leak else "none")


LEAK_RUN_SECONDS = 600  # ran this long before the OOMKill: memory grew over time (a restart resets it)


def _run_seconds(terminated: dict[str, Any]) -> float | None:
    start, end = parse_time(terminated.get("startedAt")), parse_time(terminated.get("finishedAt"))
    return (end - start).total_seconds() if start and end else None


def _human(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f}s"
    return f"{seconds / 60:.0f}min" if seconds < 7200 else f"{seconds / 3600:.1f}h"


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


# A resource name as the scheduler writes it ("Insufficient cpu.", "Insufficient nvidia.com/gpu,"): the
# sentence's period or comma is not part of it.
_INSUFFICIENT = re.compile(r"Insufficient ([\w./-]*[\w/-])")
_SCHED = (
    ("pending-anti-affinity", re.compile(r"didn't match pod (?:anti-)?affinity rules|didn't satisfy existing pods anti-affinity", re.I)),
    ("pending-volume-node-affinity", re.compile(r"volume node affinity conflict", re.I)),
    ("pending-insufficient-resources", _INSUFFICIENT),
    ("pending-unbound-pvc", re.compile(r"unbound immediate PersistentVolumeClaims|persistentvolumeclaim \"[^\"]+\" not found", re.I)),
    ("pending-node-selector", re.compile(r"didn't match (?:Pod's )?node (?:affinity|selector)|node\(s\) didn't match Pod's node", re.I)),
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
        kinds = sorted(set(_INSUFFICIENT.findall(text)))
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
        unbound = [cn for cn in claims if (pvc_by_name.get(cn) or {}).get("status", {}).get("phase") != "Bound"]
        if not summary.endswith("does not exist"):
            summary = (f"{len(pending)} pod(s) Pending on unbound PersistentVolumeClaim(s) {', '.join(unbound)}" if unbound
                       else f"{len(pending)} pod(s) Pending on PersistentVolumeClaim(s) {', '.join(claims)} (Bound)")
        advice = "create the StorageClass / a matching PersistentVolume, or fix storageClassName"
    elif cls == "pending-volume-node-affinity":
        claims = [(v.get("persistentVolumeClaim") or {}).get("claimName") for v in p.get("spec", {}).get("volumes", []) or []]
        pvc_by_name = {c["metadata"]["name"]: c for c in obs.pvcs}
        for cn in (c for c in claims if c):
            pvc = pvc_by_name.get(cn)
            if pvc is not None:
                ev.append(f"persistentvolumeclaim {cn}: phase {pvc.get('status', {}).get('phase')}, volume {pvc.get('spec', {}).get('volumeName') or '-'}")
        if obs.nodes is not None:
            zones = sorted({n["metadata"].get("labels", {}).get("topology.kubernetes.io/zone", "?") for n in obs.nodes})
            ev.append(f"nodes are in zone(s): {', '.join(zones)}")
        summary = (f"{len(pending)} pod(s) Pending: volume node affinity conflict -- the claim is bound to a volume "
                   "that no schedulable node can reach (zone)")
        advice = "add a node in the volume's zone, or move the data to a volume in a zone with nodes"
        conf = 0.85
    elif cls == "pending-anti-affinity":
        aa = (p.get("spec", {}).get("affinity") or {}).get("podAntiAffinity") or {}
        for term in (aa.get("requiredDuringSchedulingIgnoredDuringExecution") or [])[:2]:
            ev.append(f"pod anti-affinity (required): no two pods matching {term.get('labelSelector', {}).get('matchLabels')} "
                      f"on the same {term.get('topologyKey')}")
        running = sum(1 for x in pods_of(obs) if x.get("spec", {}).get("nodeName"))
        if obs.nodes is not None:
            ev.append(f"{len(obs.nodes)} node(s) in the cluster, {running} pod(s) already placed, {len(pending)} waiting")
            conf = 0.9
        summary = f"{len(pending)} pod(s) Pending: required pod anti-affinity allows one pod per node and there are not enough nodes"
        advice = "make the anti-affinity preferred instead of required, lower the replicas, or add nodes"
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
    wrong = probe_port_mismatch(p0, "livenessProbe" if liveness else "readinessProbe")
    if wrong:
        # the probe asks where nothing listens: new pods fail it the same way
        f.cls, f.confidence = "probe-misconfigured", 0.9
        f.summary = f"{kind} probe is misconfigured: {wrong}; the probe is wrong, not the pods"
        f.evidence.append(wrong)
        f.advice = f"fix the {kind} probe's port in the pod template (a restart asks the same wrong port)"
        return _new_revision_action(obs, failing, f, "none")
    rev = bad_new_revision(obs, failing)
    if not rev and healthy and len(failing) == 1 and obs.workload_ref:
        # one stuck pod among healthy siblings (same template, same probe): replacing it is the smallest safe action
        f.action, f.command = "delete-pod", f"kubectl delete pod {pod_name(failing[0])} -n {obs.namespace}"
        f.summary += f" ({len(healthy)} sibling(s) healthy: pod {pod_name(failing[0])} is stuck)"
        return f
    probes = " ".join(e.get("message") or "" for _, evs in hits for e in evs)
    wedged = bool(sigs and any(k in " ".join(sigs) for k in ("connection slots exhausted", "lock contention"))) or bool(_WEDGED.search(probes))
    if not wedged:
        # the probe fails, but nothing says the process is stuck: a restart is not known to help
        f.confidence = 0.5
        f.summary += "; no sign of a stuck process (the probe is refused or its command fails)"
        f.advice = "check the probe's command/endpoint and what it needs; a restart is not known to help here"
        return _new_revision_action(obs, failing, f, "none")
    f.summary += "; the process answers late or with errors (stuck): new pods start clean"
    return _new_revision_action(obs, failing, f, "rollout-restart")


# A probe that reached the process and got an error or no answer in time: the process is up but stuck.
_WEDGED = re.compile(r"statuscode: 5\d\d|context deadline exceeded|Client\.Timeout|timed out|timeout", re.I)


def probe_port_mismatch(pod: dict[str, Any], probe: str) -> str | None:
    """'readinessProbe of container x asks port 8081; it listens on 8080' when the probe's port is none of the
    container's declared ports (None when it matches, or when the container declares no ports)."""
    for c in pod.get("spec", {}).get("containers", []) or []:
        pr = c.get(probe) or {}
        port = (pr.get("httpGet") or pr.get("tcpSocket") or pr.get("grpc") or {}).get("port")
        declared = c.get("ports") or []
        if port is None or not declared:
            continue
        numbers = {p.get("containerPort") for p in declared}
        names = {p.get("name") for p in declared if p.get("name")}
        if (isinstance(port, int) and port not in numbers) or (isinstance(port, str) and not port.isdigit() and port not in names) \
                or (isinstance(port, str) and port.isdigit() and int(port) not in numbers):
            listens = ", ".join(str(p.get("containerPort")) for p in declared)
            return f"{probe} of container {c.get('name')} asks port {port}; the container listens on {listens}"
    return None


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
    can_undo = bool(rev and rev.previous and rev.changes())
    if rev and rev.previous and not rev.changes():
        ev.append(rev.only_restarted())
    quota = next((m for m in (fail.get("message") if fail else "", *(e.get("message") or "" for e in obs.events))
                  if m and "exceeded quota" in m), None)
    return Finding(
        cls="rollout-stuck",
        summary=f"rollout of deployment/{d['metadata']['name']} is stuck with {st.get('unavailableReplicas', 0) or desired - (st.get('availableReplicas') or 0)} unavailable replica(s)",
        evidence=ev, action="rollout-undo" if can_undo else "none",
        command=workload_cmd(obs, "rollout-undo") if can_undo else None, confidence=0.8,
        affected=[f"deployment/{d['metadata']['name']}"], min_severity="medium", cause=True,
        advice=("the namespace's ResourceQuota refuses the new pods: raise the quota, lower the requests or maxSurge"
                if quota else "find why the new ReplicaSet's pods do not become ready before rolling forward again"),
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


def _node_ready(node: dict[str, Any]) -> dict[str, Any] | None:
    """The Ready condition of a node that is NOT ready (None when it is)."""
    c = condition(node, "Ready")
    return c if c is not None and c.get("status") != "True" else None


def detect_node_not_ready(obs: Observation) -> Finding | None:
    """A node that is NotReady / stopped reporting, with this workload's pods on it or unschedulable because of it
    (the unreachable / not-ready taints). The node is the cause; restarting the workload changes nothing there."""
    if not obs.nodes:
        return None
    bad = {n["metadata"]["name"]: c for n in obs.nodes for c in [_node_ready(n)] if c}
    if not bad:
        return None
    on_bad = [p for p in pods_of(obs) if p.get("spec", {}).get("nodeName") in bad]
    tainted = [p for p in pods_of(obs) if re.search(r"node\.kubernetes\.io/(?:unreachable|not-ready)",
                                                     " ".join([(condition(p, "PodScheduled") or {}).get("message") or ""]
                                                              + [e.get("message") or "" for e in events_for(obs, pod_name(p), ("FailedScheduling",))]))]
    if obs.kind != "node" and not (on_bad or tainted):
        return None
    ev = [f"node {n}: condition Ready={c.get('status')} reason {c.get('reason')}: \"{c.get('message', '')}\" (since {c.get('lastTransitionTime', '?')})"
          for n, c in sorted(bad.items())]
    ev += [f"pod {pod_name(p)} on node {p['spec']['nodeName']}: not ready" + (" (being deleted)" if p["metadata"].get("deletionTimestamp") else "")
           for p in on_bad[:3]]
    ev += [f"pod {pod_name(p)}: Pending, \"{(condition(p, 'PodScheduled') or {}).get('message', '')}\"" for p in tainted[:1]]
    names = ", ".join(sorted(bad))
    return Finding(
        cls="node-not-ready", summary=f"node {names} is not ready ({next(iter(bad.values())).get('reason')}); "
                                      f"{len(on_bad)} pod(s) on it, {len(tainted)} waiting to be scheduled elsewhere",
        evidence=ev, action="none", confidence=0.85, affected=[pod_name(p) for p in on_bad + tainted], min_severity="medium",
        advice=f"investigate node {names} (kubelet, network, the machine); the pods move once it is replaced or back "
               "-- restarting the workload does not bring a node back",
    )


_DNS_ERRORS = re.compile(r"no such host|EAI_AGAIN|ENOTFOUND|temporary failure in name resolution|:53: i/o timeout", re.I)
_TIMEOUTS = re.compile(r"i/o timeout|timed out|timeout|ETIMEDOUT", re.I)


def _policies_for(obs: Observation, labels: dict[str, str] | None, kind: str) -> list[dict[str, Any]]:
    """NetworkPolicies of the namespace that select pods with `labels` and restrict `kind` (Ingress/Egress)."""
    out = []
    for np in obs.networkpolicies or []:
        spec = np.get("spec", {})
        sel = spec.get("podSelector") or {}
        selects = not (sel.get("matchLabels") or sel.get("matchExpressions")) or selector_matches(sel, labels)
        types = spec.get("policyTypes") or (["Ingress"] + (["Egress"] if "egress" in spec else []))
        if selects and kind in types:
            out.append(np)
    return out


def _admits(rules: list[dict[str, Any]], key: str, labels: dict[str, str] | None, port: int | None = None) -> bool:
    """Whether any ingress `from` / egress `to` rule admits a peer with `labels` (and the port, when given)."""
    for r in rules or []:
        peers = r.get(key)
        ports = r.get("ports")
        port_ok = port is None or not ports or any(p.get("port") in (port, str(port)) for p in ports)
        if not port_ok:
            continue
        if not peers:
            return True
        for peer in peers:
            ps = peer.get("podSelector")
            if peer.get("ipBlock") or peer.get("namespaceSelector") and ps is None:
                return True
            if ps is not None and (not (ps.get("matchLabels") or ps.get("matchExpressions")) or selector_matches(ps, labels)):
                return True
    return False


def detect_network_policy(obs: Observation) -> Finding | None:
    """Logs show DNS failures or timeouts, and a NetworkPolicy explains them: an egress policy on these pods that
    does not allow DNS (port 53), or an ingress policy on the Service they call that does not admit them."""
    if not obs.networkpolicies:
        return None
    pods = pods_of(obs)
    if not pods:
        return None
    labels = pods[0]["metadata"].get("labels") or {}
    names = {pod_name(p) for p in pods}
    lines = [ln.strip() for key, text in sorted(obs.logs.items()) if key.split("/")[0] in names for ln in (text or "").splitlines()]
    dns = [ln for ln in lines if _DNS_ERRORS.search(ln)]
    slow = [ln for ln in lines if _TIMEOUTS.search(ln)]
    ev: list[str] = []
    blocking: list[str] = []
    if dns:
        for np in _policies_for(obs, labels, "Egress"):
            if not _admits(np.get("spec", {}).get("egress") or [], "to", {"k8s-app": "kube-dns"}, 53):
                blocking.append(np["metadata"]["name"])
                ev.append(f"networkpolicy/{np['metadata']['name']}: selects these pods (podSelector "
                          f"{np['spec'].get('podSelector') or {}}), policyTypes {np['spec'].get('policyTypes')}, "
                          f"egress {np['spec'].get('egress') or []}: DNS (port 53) is not allowed")
        what = "DNS lookups fail"
        quoted = dns
    else:
        quoted = slow
        what = "connections time out"
        for svc in obs.services or []:
            sname, ssel = svc["metadata"]["name"], svc.get("spec", {}).get("selector")
            if not ssel or not any(sname in ln for ln in slow):
                continue
            for np in _policies_for(obs, ssel, "Ingress"):
                if not _admits(np.get("spec", {}).get("ingress") or [], "from", labels):
                    allowed = [peer.get("podSelector", {}).get("matchLabels") for r in np["spec"].get("ingress") or [] for peer in r.get("from") or []]
                    allow = "; ".join(",".join(f"{k}={v}" for k, v in (a or {}).items()) for a in allowed) or "nothing"
                    blocking.append(np["metadata"]["name"])
                    ev.append(f"networkpolicy/{np['metadata']['name']}: selects the pods of service/{sname} ({ssel}) and admits "
                              f"ingress only from pods with {allow}; these pods carry "
                              + ",".join(f"{k}={v}" for k, v in sorted(labels.items())))
    if not blocking or not quoted:
        return None
    ev = [f"log: \"{ln[:200]}\"" for ln in quoted[-2:]] + ev
    return Finding(
        cls="network-policy-blocking",
        summary=f"{what}: NetworkPolicy {', '.join(dict.fromkeys(blocking))} blocks the traffic these pods need",
        evidence=ev, action="none", confidence=0.85, affected=sorted(names), min_severity="medium",
        advice=f"allow the traffic in NetworkPolicy {', '.join(dict.fromkeys(blocking))} (e.g. egress to kube-dns on port 53, "
               "or ingress from these pods' labels); restarting pods does not change a policy",
    )


_FORBIDDEN = re.compile(r"forbidden: User \"([^\"]+)\" cannot (\w+) resource \"([^\"]*)\"", re.I)
_APP_ERROR = re.compile(r"\b(?:ERROR|FATAL|CRITICAL|panic|Exception|Traceback)\b")


def detect_log_errors(obs: Observation) -> Finding | None:
    """Errors in the logs of pods whose status looks fine: RBAC refusals (the ServiceAccount lacks a verb) and, less
    precisely, repeated ERROR/FATAL lines. Never 'no fault' when the application says it is failing."""
    names = {pod_name(p) for p in pods_of(obs) if pod_ready(p) and not any(cs.get("restartCount", 0) for cs in statuses(p))}
    lines = [(key, ln.strip()) for key, text in sorted(obs.logs.items()) if key.split("/")[0] in names
             for ln in (text or "").splitlines() if ln.strip()]
    forbidden = [(k, ln, m) for k, ln in lines for m in [_FORBIDDEN.search(ln)] if m]
    if forbidden:
        k, ln, m = forbidden[-1]
        user, verb, res = m.groups()
        return Finding(
            cls="rbac-forbidden",
            summary=f"the API server refuses {user} to {verb} {res}: its Role/ClusterRole lacks the verb",
            evidence=[f"log of {k}: \"{ln[:240]}\"", f"{len(forbidden)} Forbidden line(s) in the last {len(lines)} log line(s) read"],
            action="none", confidence=0.9, affected=sorted({k.split('/')[0] for k, _, _ in forbidden}), min_severity="medium",
            advice=f"grant `{verb}` on `{res}` to {user} (Role + RoleBinding); a restart keeps the same permissions",
        )
    errors = [(k, ln) for k, ln in lines if _APP_ERROR.search(ln)]
    if not errors or len(errors) < 2:
        return None
    return Finding(
        cls="errors-in-logs",
        summary=f"the pods look healthy but log errors ({len(errors)} line(s)): the cause is in what they report",
        evidence=[f"log of {k}: \"{ln[:200]}\"" for k, ln in errors[-3:]], action="none", confidence=0.4,
        affected=sorted({k.split('/')[0] for k, _ in errors}), min_severity="medium",
        advice="read the application errors above; no automated action is known to fix them",
    )


def detect_job_failed(obs: Observation) -> Finding | None:
    """A Job with condition Failed (BackoffLimitExceeded, DeadlineExceeded), with its failed pods' last log lines."""
    job = obs.job
    if not job:
        return None
    failed = condition(job, "Failed")
    st = job.get("status", {})
    if not (failed and failed.get("status") == "True") and not (st.get("failed") and not st.get("active") and not st.get("succeeded")):
        return None
    name = job["metadata"]["name"]
    ev = [f"job/{name}: condition Failed reason {(failed or {}).get('reason', '?')}: \"{(failed or {}).get('message', '')}\", "
          f"failed pods {st.get('failed', 0)}, backoffLimit {job.get('spec', {}).get('backoffLimit', 6)}"]
    bad = [p for p in pods_of(obs) if p.get("status", {}).get("phase") == "Failed"]
    for p in bad[-1:]:
        for cs in statuses(p):
            t = (cs.get("state") or {}).get("terminated") or {}
            ev.append(f"pod {pod_name(p)} container {cs['name']}: terminated exit code {t.get('exitCode', '?')} ({t.get('reason', '?')})")
            ev += [f"log tail: \"{ln}\"" for ln in tail(obs.logs.get(f"{pod_name(p)}/{cs['name']}"), 2)]
    ev += log_signatures(obs, bad)
    owner = f"cronjob/{obs.name}" if obs.kind == "cronjob" else f"job/{name}"
    return Finding(
        cls="job-failed", summary=f"{owner}: job {name} failed ({(failed or {}).get('reason', 'pods failed')}) after {st.get('failed', 0)} failed pod(s)",
        evidence=ev, action="none", confidence=0.85 if bad else 0.7, affected=[f"job/{name}"] + [pod_name(p) for p in bad],
        min_severity="medium", advice="fix what the failed pods' logs report, then re-run the Job (a Job is not restarted by a rollout)",
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
    detect_node_not_ready,
    detect_network_policy,
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
    detect_job_failed,
    detect_log_errors,
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
