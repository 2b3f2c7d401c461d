"""Workload detectors: containers that crash, are OOMKilled or fail their probes; rollouts that stall;
workloads scaled to zero or with every replica down; memory and CPU against limits."""

from __future__ import annotations

import json
import re
from typing import Any

from ..facts import LONG_RUN_SECONDS as LEAK_RUN_SECONDS
from ..facts import (
    controller_of,
    cpu_saturated,
    heap_fills_limit,
    hpa_for,
    rollout_in_progress,
    run_seconds,
    silent_logs,
)
from ..objects import (
    Observation,
    condition,
    container_spec,
    events_for,
    mem_bytes,
    pod_name,
    pod_ready,
    pods_of,
    quote_event,
    statuses,
    tail,
)
from ..release import saturation_from_revision
from ..revisions import revisions
from .common import (
    TRANSIENT,
    Finding,
    argument_error,
    human,
    killed_by_liveness,
    log_signatures,
    note_revision,
    unread_dependency,
)


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
    limit = container_spec(p, cs["name"]).get("resources", {}).get("limits", {}).get("memory")
    ev = [f"pod {pod_name(p)} container {cs['name']}: last terminated reason OOMKilled, exit code {st.get('exitCode')}, "
          f"restartCount {cs.get('restartCount', 0)}, memory limit {limit or 'none'}"]
    ev += [f"previous log: \"{ln}\"" for ln in tail(obs.logs.get(f"{pod_name(p)}/{cs['name']}/previous"), 2)]
    pods = sorted({pod_name(h[0]) for h in hits})
    runs = [r for r in (run_seconds(h[2]) for h in hits) if r is not None]
    longest = max(runs) if runs else None
    heap = heap_fills_limit(obs)  # the configuration, not uptime, fills the limit: the run length proves no leak
    leak = longest is not None and longest >= LEAK_RUN_SECONDS and not heap
    if longest is not None and not heap:
        ev.append(f"longest run before an OOMKill: {human(longest)} ({'memory grows until the limit: a leak' if leak else 'killed soon after start: the working set needs more than the limit'})")
    f = Finding(
        cls="oom-killed",
        summary=f"container {cs['name']} is OOMKilled (memory limit {limit or 'unset'}) in {len(pods)} pod(s)"
                + ("" if leak or heap or longest is None else f", {human(longest)} or less after each start"),
        evidence=ev, action="none", confidence=0.85, affected=pods, min_severity="medium",
        advice=(f"fix the leak (or raise resources.limits.memory above {limit}); a restart buys time" if leak else
                f"raise resources.limits.memory of container {cs['name']} above {limit} (or lower what it loads at start): "
                "a restart is killed the same way") if limit else "set a memory limit and fix the leak",
    )
    if heap:
        f.evidence.append(heap)
        f.summary += f"; {heap}"
        f.advice = "lower the JVM heap (-Xmx / MaxRAMPercentage) to leave room for off-heap memory, or raise the limit"
    # A restart removes a leak's accumulated memory; it does nothing for a working set bigger than the limit.
    f.action = "rollout-restart" if leak else "none"
    return note_revision(obs, [h[0] for h in hits], f)


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
        evidence=ev, action="rollout-restart", confidence=0.7,
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
    text = obs.logs.get(f"{pn}/{cs['name']}/previous") or obs.logs.get(f"{pn}/{cs['name']}")
    log, refused = tail(text, 3), argument_error(text)
    ev += [f"log: \"{refused}\" (the process refuses an argument)"] if refused and refused not in log else []
    ev += [f"log tail: \"{ln}\"" for ln in log]
    ev += [quote_event(e) for e in events_for(obs, pn, ("BackOff",))[:1]]
    ev += log_signatures(obs, [h[0] for h in hits])
    pods = sorted({pod_name(h[0]) for h in hits})
    hint = f"; it refuses an argument: \"{refused}\"" if refused else f"; last log line \"{log[-1]}\"" if log else ""
    logs_all = " ".join(obs.logs.get(f"{pod_name(h[0])}/{h[1]['name']}/previous", "") for h in hits)
    transient = bool(TRANSIENT.search(logs_all))
    f = Finding(
        cls="crash-loop",
        summary=f"container {cs['name']} is in CrashLoopBackOff in {len(pods)} pod(s), last exit code {last.get('exitCode', '?')}{hint}",
        evidence=ev, action="none", confidence=0.85 if log else 0.75, affected=pods, min_severity="medium",
        advice=("the crash is a failed connection to a dependency: once it is back, a restart brings the pods up"
                if transient else "read the crash log above; fix the configuration or code it points to (a restart will crash the same way)"),
    )
    # A restart helps only when the crash is a dependency that is back; a configuration/code crash repeats.
    f.action = "rollout-restart" if transient else "none"
    outside = unread_dependency(obs, logs_all) if transient else None
    if outside:
        # nothing read says whether it is back: the cause lies in what was not examined, and no change is proven
        f.summary += f"; it cannot connect to {outside}, which is not a Service of {obs.namespace}: its state was not examined"
        f.evidence.append(f"dependency {outside}: not examined (outside what builtin:k8s-rules reads)")
        f.confidence, f.action = 0.45, "none"
        f.advice = f"check {outside} (its status, network path, credentials); the pods recover once it answers"
    return note_revision(obs, [h[0] for h in hits], f)


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
    # siblings share the template only under the same controller revision (a rollout's old pods run another)
    healthy = [p for p in pods_of(obs) if pod_ready(p) and p not in failing and controller_of(p) == controller_of(failing[0])]
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
        f.action = "none"
        return note_revision(obs, failing, f)
    if healthy and len(failing) == 1 and obs.workload_ref:
        # one stuck pod among healthy siblings (same template, same probe): replacing it is the smallest safe action
        f.action, f.command = "delete-pod", f"kubectl delete pod {pod_name(failing[0])} -n {obs.namespace}"
        f.summary += f" ({len(healthy)} sibling(s) healthy: pod {pod_name(failing[0])} is stuck)"
        return note_revision(obs, failing, f)
    probes = " ".join(e.get("message") or "" for _, evs in hits for e in evs)
    wedged = bool(sigs and any(k in " ".join(sigs) for k in ("connection slots exhausted", "lock contention"))) \
        or bool(_WEDGED.search(probes)) or bool(silent_logs(obs, {pod_name(p) for p in failing}))
    if not wedged:
        # the probe fails, but nothing says the process is stuck: a restart is not known to help
        f.confidence = 0.5
        f.summary += "; no sign of a stuck process (the probe is refused or its command fails)"
        f.advice = "check the probe's command/endpoint and what it needs; a restart is not known to help here"
        f.action = "none"
        return note_revision(obs, failing, f)
    f.summary += "; the probe reaches the process and gets an error or no answer in time"
    f.action = "rollout-restart"
    return note_revision(obs, failing, f)


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
    """A Deployment rollout that does not complete (ProgressDeadlineExceeded, ReplicaFailure, or new pods that
    never become ready while the rollout is under way). Said only when a rollout is in progress."""
    d = obs.deployment
    if not d or not rollout_in_progress(d):
        return None
    st, spec = d.get("status", {}), d.get("spec", {})
    prog, fail = condition(d, "Progressing"), condition(d, "ReplicaFailure")
    desired = spec.get("replicas", 1)
    if desired == 0:
        return None
    deadline = bool(prog and prog.get("status") == "False")
    refused = bool(fail and fail.get("status") == "True")
    rev = revisions(obs)
    new_unready = bool(rev and rev.previous and (rev.newest.get("status", {}).get("readyReplicas") or 0) < desired)
    if not (deadline or refused or new_unready):
        return None
    ev = []
    if prog:
        ev.append(f"deployment condition Progressing={prog.get('status')} reason {prog.get('reason')}: \"{prog.get('message', '')}\"")
    if refused:
        ev.append(f"deployment condition ReplicaFailure reason {fail.get('reason')}: \"{fail.get('message', '')}\"")
    ev.append(f"replicas {desired}, updated {st.get('updatedReplicas', 0)}, available {st.get('availableReplicas', 0)}, "
              f"unavailable {st.get('unavailableReplicas', 0)}")
    if rev:
        ev.append(rev.quote() if rev.changes() or not rev.previous else rev.only_restarted())
        for e in events_for(obs, rev.newest["metadata"]["name"], ("FailedCreate",))[-1:]:
            ev.append(quote_event(e))
    quota = next((m for m in (fail.get("message") if fail else "", *(e.get("message") or "" for e in obs.events))
                  if m and "exceeded quota" in m), None)
    name = d["metadata"]["name"]
    how = ("has exceeded its progress deadline" if deadline else "cannot create its new pods" if refused
           else "is in progress and its new pods are not ready")
    return Finding(
        cls="rollout-stuck",
        summary=f"the rollout of deployment/{name} {how}: {st.get('updatedReplicas', 0)} of {desired} replica(s) updated, "
                f"{st.get('availableReplicas', 0)} available",
        evidence=ev, action="rollout-undo", confidence=0.8,
        affected=[f"deployment/{name}"], min_severity="medium", cause=True,
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




def detect_cpu_saturated(obs: Observation) -> Finding | None:
    """Most running pods at their CPU limit (`kubectl top`, or the metrics history): the pods are throttled and
    answer late. Whether more replicas help depends on the load (rising: scale; steady: a hot loop)."""
    sat = cpu_saturated(obs)
    if not sat:
        return None
    h = obs.history
    load = (f"; load {h.load}" if h is not None and h.examined and h.load != "unknown" else
            "; whether load rose is not known (no metrics history)")
    pods = [pod_name(p) for p in pods_of(obs) if p.get("status", {}).get("phase") == "Running"]
    began = saturation_from_revision(obs)
    if began:
        return Finding(
            cls="cpu-saturated-since-release", summary=f"the pods run at their CPU limit since the newest revision{load}: "
            "the release, not the traffic, is the suspect (a busy loop or a costlier path)",
            evidence=[began] + [f"log of {k}: \"{ln}\"" for k, t in sorted(obs.logs.items())[:1]
                                if k.split("/")[0] in pods and not k.endswith("/previous") for ln in tail(t, 2)],
            action="rollout-undo", confidence=0.6, affected=pods, min_severity="medium",
            advice="undo the release and find what loops in it; more replicas would spin the same way",
        )
    return Finding(
        cls="cpu-saturated", summary=f"the pods run at their CPU limit{load}", evidence=[sat], action="scale",
        confidence=0.7, affected=pods,
        advice="add replicas (or raise the CPU limit) if load rose; if load is steady, find the hot loop; "
               "a restart removes serving capacity under load",
    )


def detect_hpa_not_scaling(obs: Observation) -> Finding | None:
    """The HorizontalPodAutoscaler of this workload cannot scale it (ScalingActive/AbleToScale False: metrics it
    cannot compute, a target it cannot read), so capacity does not follow load."""
    h = hpa_for(obs)
    if h is None:
        return None
    conds = h.get("status", {}).get("conditions") or []
    bad = [c for c in conds if c.get("type") in ("ScalingActive", "AbleToScale") and c.get("status") == "False"]
    capped = [c for c in conds if c.get("type") == "ScalingLimited" and c.get("status") == "True"
              and c.get("reason") == "TooManyReplicas"]
    if not bad and not capped:
        return None
    c = (bad or capped)[0]
    name = h["metadata"]["name"]
    st = h.get("status", {})
    if not bad:
        return Finding(
            cls="hpa-at-max", summary=f"HorizontalPodAutoscaler {name} wants more replicas than its maxReplicas "
                                      f"{h.get('spec', {}).get('maxReplicas', '?')}",
            evidence=[f"horizontalpodautoscaler/{name}: condition ScalingLimited=True reason TooManyReplicas: \"{c.get('message', '')}\"",
                      f"horizontalpodautoscaler/{name}: currentReplicas {st.get('currentReplicas', '?')}, desiredReplicas "
                      f"{st.get('desiredReplicas', '?')}, maxReplicas {h.get('spec', {}).get('maxReplicas', '?')}"],
            confidence=0.8, affected=[f"horizontalpodautoscaler/{name}", obs.workload_ref or ""],
            advice=f"raise maxReplicas of HorizontalPodAutoscaler {name} (a manual scale is overwritten by the HPA)",
        )
    return Finding(
        cls="hpa-not-scaling",
        summary=f"HorizontalPodAutoscaler {name} cannot scale {obs.workload_ref}: {c.get('type')}=False ({c.get('reason')})",
        evidence=[f"horizontalpodautoscaler/{name}: condition {c.get('type')}=False reason {c.get('reason')}: \"{c.get('message', '')}\"",
                  f"horizontalpodautoscaler/{name}: currentReplicas {st.get('currentReplicas', '?')}, desiredReplicas "
                  f"{st.get('desiredReplicas', '?')}, minReplicas {h.get('spec', {}).get('minReplicas', 1)}, maxReplicas "
                  f"{h.get('spec', {}).get('maxReplicas', '?')}"],
        confidence=0.85, affected=[f"horizontalpodautoscaler/{name}", obs.workload_ref or ""],
        advice="fix what the HPA reports (e.g. set resources.requests for the metric it scales on, or make the metrics "
               "API serve it); a manual scale is overwritten by the HPA",
    )
