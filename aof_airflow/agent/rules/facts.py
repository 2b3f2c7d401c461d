"""Facts proven from the raw observations, each with the sentence that quotes it: what the action
preconditions (`actions.py`) are made of.

WHY apart from the detectors: a precondition must hold or fail on the objects themselves, whatever the
detectors concluded. Each function returns the quoted evidence when the fact holds and None (or []) when the
observations do not show it -- "not shown" is never "shown false": the caller decides what unproven means.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from .budgets import unevictable_on_cordoned
from .lifecycle import (  # noqa: F401 (re-exported, as above)
    LONG_JOB,
    backoff_left,
    job_overdue,
    job_runtimes,
    recurring_evictions,
)
from .objects import (
    Observation,
    condition,
    container_limits,
    cpu_millis,
    mem_bytes,
    observed_at,
    parse_time,
    pod_name,
    pod_ready,
    pods_of,
    quote_event,
    statuses,
)
from .podlocal import resize_stuck
from .process import (  # noqa: F401 (re-exported: the action table reads every fact from here)
    DEPENDENCY_DOWN,
    EXHAUSTED,
    SATURATED,
    controller_of,
    deadlock_in_every_pod,
    deadlocked,
    dependency_slots_full,
    exhausted_with_uptime,
    exhaustion_lines,
    heap_fills_limit,
    siblings_progress,
    silent_logs,
    workers_busy,
)
from .stale import service_recreated_since_start, stale_since_start, token_outlived  # noqa: F401 (re-exported, as above)

LONG_RUN_SECONDS = 600  # a container that ran this long before failing had been healthy (and grew over time)
ADMISSION = re.compile(r"admission webhook \S+ denied|failed calling webhook|exceeded quota|violates PodSecurity"
                       r"|is forbidden: |forbidden: unable to validate against any", re.I)
QUOTA = re.compile(r"exceeded quota", re.I)
CONFIG_WAITING = ("CreateContainerConfigError", "CreateContainerError", "InvalidImageName", "ErrImagePull",
                  "ImagePullBackOff", "RunContainerError", "ContainerCannotRun", "StartError")
HOST = re.compile(r"\b(?:dial tcp |connect(?:ing)? to |host[= ]|ECONNREFUSED |to )?([a-z][a-z0-9-]*)(?:\.[a-z0-9.-]+)?:(\d{2,5})\b")
STALLED = re.compile(r"too many clients|remaining connection slots are reserved|pool exhausted|AccessExclusiveLock"
                     r"|lock wait timeout|deadlock detected|waiting for .*lock|goroutine .* blocked|thread starvation"
                     r"|event loop blocked", re.I)
PROBE_REACHED = re.compile(r"statuscode: 5\d\d|context deadline exceeded|Client\.Timeout|timed out|timeout", re.I)


def now(obs: Observation) -> datetime | None:
    return observed_at(obs)


def failing_pods(obs: Observation) -> list[dict[str, Any]]:
    """Pods not Ready (and not finished), or whose containers restarted or wait for a reason other than starting."""
    out = []
    for p in pods_of(obs):
        phase = p.get("status", {}).get("phase")
        if phase == "Succeeded":
            continue
        waiting = [(cs.get("state") or {}).get("waiting", {}).get("reason") for cs in statuses(p)]
        if not pod_ready(p) or any(w not in (None, "ContainerCreating", "PodInitializing") for w in waiting) or \
                any(cs.get("restartCount", 0) for cs in statuses(p)):
            out.append(p)
    return out


def run_seconds(terminated: dict[str, Any]) -> float | None:
    start, end = parse_time(terminated.get("startedAt")), parse_time(terminated.get("finishedAt"))
    return (end - start).total_seconds() if start and end else None


def longest_run(obs: Observation) -> tuple[float, str] | None:
    """The longest a container of these pods ran (a finished run, or the current one), with the quote."""
    best: tuple[float, str] | None = None
    t = now(obs)
    for p in pods_of(obs):
        for cs in statuses(p):
            last = (cs.get("lastState") or {}).get("terminated") or {}
            r = run_seconds(last)
            if r is not None and (best is None or r > best[0]):
                best = (r, f"pod {pod_name(p)} container {cs['name']} ran {r / 60:.0f} min before it was ended ({last.get('reason')})")
            started = parse_time(((cs.get("state") or {}).get("running") or {}).get("startedAt"))
            if started and t and cs.get("ready"):
                r = (t - started).total_seconds()
                if best is None or r > best[0]:
                    best = (r, f"pod {pod_name(p)} container {cs['name']} has run ready for {r / 60:.0f} min")
    return best


def oom_runs(obs: Observation) -> list[float]:
    """How long each OOMKilled run lasted (seconds)."""
    return [r for p in pods_of(obs) for cs in statuses(p)
            for st in ((cs.get("lastState") or {}).get("terminated"), (cs.get("state") or {}).get("terminated"))
            if st and st.get("reason") == "OOMKilled" for r in [run_seconds(st)] if r is not None]


def grows_with_uptime(obs: Observation) -> str | None:
    """Memory that grows until the limit: OOMKills only after long runs, or the history's verdict."""
    said = history_says(obs, "memory", "grows-with-uptime", "memory grows with uptime")
    if said:
        return said
    runs = oom_runs(obs)
    if runs and max(runs) >= LONG_RUN_SECONDS:
        return f"OOMKilled after running up to {max(runs) / 60:.0f} min: memory grows with uptime until the limit"
    return None


def killed_soon_after_start(obs: Observation) -> str | None:
    said = history_says(obs, "memory", "flat-near-limit", "memory flat near the limit from the start")
    if said:
        return said
    runs = oom_runs(obs)
    if runs and max(runs) < LONG_RUN_SECONDS:
        return f"every OOMKill came at most {max(runs):.0f}s after start: the working set needs more than the limit"
    return None


def stalled_process(obs: Observation) -> str | None:
    """A process that stopped making progress: probes reach it and time out or get 5xx, and its logs show it
    waiting on locks or exhausted connection slots."""
    names = {pod_name(p) for p in failing_pods(obs)}
    probes = [e for e in obs.events if e.get("reason") == "Unhealthy" and e.get("involvedObject", {}).get("name") in names
              and PROBE_REACHED.search(e.get("message") or "")]
    lines = [ln.strip() for key, text in sorted(obs.logs.items()) if key.split("/")[0] in names
             for ln in (text or "").splitlines() if STALLED.search(ln)]
    if probes and lines:
        return f"{quote_event(probes[-1])}; log: \"{lines[-1][:160]}\""
    silent = silent_logs(obs, names)
    if probes and silent:
        return f"{quote_event(probes[-1])}; {silent[0][1]}"
    return None


def _dependency_services(obs: Observation) -> list[tuple[str, str, int]]:
    """(log line, Service, its ready endpoints) for crash-log lines naming a Service of this namespace that
    refused or did not answer."""
    names = {pod_name(p) for p in failing_pods(obs)}
    lines = [ln for key, text in obs.logs.items() if key.split("/")[0] in names
             for ln in (text or "").splitlines() if DEPENDENCY_DOWN.search(ln)]
    services = {s["metadata"]["name"] for s in obs.services or []}
    out = []
    for ln in reversed(lines):
        for host, _port in HOST.findall(ln):
            if host in services:
                eps = obs.endpoints_of.get(host) or {}
                out.append((ln.strip()[:140], host, sum(len(s.get("addresses") or []) for s in eps.get("subsets") or [])))
    return out


def dependency_back(obs: Observation) -> str | None:
    """Crashes on a dependency that refused or did not answer, and that dependency (a Service of this namespace)
    has ready endpoints now: new containers will find it."""
    for ln, host, ready in _dependency_services(obs):
        if ready:
            return f"the crash log says \"{ln}\"; service/{host} now has {ready} ready endpoint(s)"
    return None


def dependency_down(obs: Observation) -> str | None:
    """The dependency the crash log names is still down (its Service has no ready endpoint): new pods fail the same way."""
    for ln, host, ready in _dependency_services(obs):
        if not ready:
            return f"the crash log says \"{ln}\"; service/{host} has no ready endpoint"
    return None


def admission_refusals(obs: Observation) -> list[str]:
    """FailedCreate events and ReplicaFailure conditions where the API server refused pods (webhook, quota, policy)."""
    out = [quote_event(e) for e in obs.events if e.get("reason") == "FailedCreate" and ADMISSION.search(e.get("message") or "")]
    for w in (obs.deployment, obs.statefulset, obs.daemonset, obs.job):
        c = condition(w, "ReplicaFailure")
        if c and c.get("status") == "True" and ADMISSION.search(c.get("message") or "") and not out:
            out.append(f"condition ReplicaFailure: \"{c.get('message')}\"")
    return out


def refused_creations(obs: Observation, owner: str) -> list[str]:
    """FailedCreate events (or a ReplicaFailure on the Deployment) saying `owner`'s pods could not be created."""
    out = [quote_event(e) for e in obs.events if e.get("reason") == "FailedCreate"
           and e.get("involvedObject", {}).get("name") == owner]
    for rs in obs.replicasets:
        c = condition(rs, "ReplicaFailure")
        if rs["metadata"]["name"] == owner and c and c.get("status") == "True" and not out:
            out.append(f"replicaset/{owner}: condition ReplicaFailure: \"{c.get('message')}\"")
    return out


def quota_full(obs: Observation) -> list[str]:
    """ResourceQuotas whose used equals or exceeds hard for pods, CPU or memory: a new pod would be refused."""
    out = []
    for q in obs.quotas or []:
        hard, used = q.get("status", {}).get("hard") or {}, q.get("status", {}).get("used") or {}
        for k, h in hard.items():
            if not re.search(r"pods|cpu|memory", k) or k not in used:
                continue
            hv, uv = (cpu_millis(h), cpu_millis(used[k])) if "cpu" in k else (mem_bytes(h), mem_bytes(used[k]))
            if hv is not None and uv is not None and uv >= hv:
                out.append(f"resourcequota/{q['metadata']['name']}: {k} used {used[k]} of hard {h}")
    return out


def scheduling_failures(obs: Observation) -> list[str]:
    pending = {pod_name(p) for p in pods_of(obs) if p.get("status", {}).get("phase") == "Pending"}
    return [quote_event(e) for e in obs.events if e.get("reason") == "FailedScheduling"
            and e.get("involvedObject", {}).get("name") in pending][-2:]


def config_errors(obs: Observation) -> list[str]:
    """Containers that cannot start because of their configuration (missing ConfigMap/Secret, image, command)."""
    out = []
    for p in pods_of(obs):
        for cs in statuses(p):
            w = (cs.get("state") or {}).get("waiting") or {}
            if w.get("reason") in CONFIG_WAITING:
                out.append(f"pod {pod_name(p)} container {cs['name']}: waiting {w.get('reason')} \"{(w.get('message') or '')[:160]}\"")
    out += [quote_event(e) for e in obs.events if e.get("reason") == "FailedMount"
            and re.search(r"(configmap|secret) \"[^\"]+\" not found", e.get("message") or "", re.I)]
    return out[:3]


def crashes_soon_after_start(obs: Observation) -> str | None:
    """Non-OOM crashes within a minute of every start, with no dependency named in the crash log: the program
    rejects its configuration or code, a new container does the same."""
    runs, quote = [], ""
    for p in pods_of(obs):
        for cs in statuses(p):
            last = (cs.get("lastState") or {}).get("terminated") or {}
            if last and last.get("reason") != "OOMKilled" and last.get("exitCode", 0) != 0:
                r = run_seconds(last)
                if r is not None:
                    runs.append(r)
                    quote = quote or f"pod {pod_name(p)} container {cs['name']} exited {last.get('exitCode')} after {r:.0f}s"
    crash_logs = " ".join(t for k, t in obs.logs.items() if k.endswith("/previous"))
    if runs and max(runs) < 60 and not DEPENDENCY_DOWN.search(crash_logs):
        return quote
    return None


def probe_misconfigured(obs: Observation) -> str | None:
    """A probe asking a port the container does not declare: every new pod fails it the same way."""
    for p in pods_of(obs)[:3]:
        for c in p.get("spec", {}).get("containers", []) or []:
            declared = c.get("ports") or []
            for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
                pr = c.get(probe) or {}
                port = (pr.get("httpGet") or pr.get("tcpSocket") or pr.get("grpc") or {}).get("port")
                if port is None or not declared:
                    continue
                numbers = {d.get("containerPort") for d in declared}
                names = {d.get("name") for d in declared}
                if (str(port).isdigit() and int(port) not in numbers) or (not str(port).isdigit() and port not in names):
                    return f"{probe} of container {c.get('name')} asks port {port}; it declares {', '.join(str(n) for n in sorted(numbers, key=str))}"
    return None


def cpu_saturated(obs: Observation) -> str | None:
    """Most running pods at >= 90% of their CPU limit (kubectl top), or the history says saturated."""
    said = history_says(obs, "cpu", "saturated", "CPU saturated")
    if said:
        return said
    hot, seen = [], 0
    for p in pods_of(obs):
        used = obs.cpu_usage.get(pod_name(p))
        limits = [cpu_millis(x) for x in container_limits(p, "cpu")]
        if used is None or not limits or any(x is None for x in limits):
            continue
        seen += 1
        limit = sum(x for x in limits if x)
        if limit and used >= SATURATED * limit:
            hot.append(f"pod {pod_name(p)}: cpu {used}m of limit {limit}m")
    return "; ".join(hot[:3]) if hot and len(hot) * 2 > seen else None


def history_says(obs: Observation, verdict: str, value: str, what: str) -> str | None:
    """The metrics history's `verdict` (memory, cpu, load) when it was read and is `value`, quoted with its figures."""
    h = obs.history
    if h is not None and h.examined and getattr(h, verdict) == value:
        return f"metrics history: {what} (" + "; ".join(h.evidence[:2]) + ")"
    return None


def load_rising(obs: Observation) -> str | None:
    return history_says(obs, "load", "rising", "load rising")


def load_steady(obs: Observation) -> str | None:
    return history_says(obs, "load", "steady", "load steady")


def rollout_in_progress(d: dict[str, Any]) -> bool:
    """A rollout is under way: not every replica runs the newest template yet, old replicas remain, or the
    controller has not reported the new ReplicaSet available."""
    st, desired = d.get("status", {}), d.get("spec", {}).get("replicas", 1)
    prog = condition(d, "Progressing")
    return ((st.get("updatedReplicas") or 0) < desired or (st.get("replicas") or 0) > (st.get("updatedReplicas") or 0)
            or bool(prog and prog.get("reason") not in ("NewReplicaSetAvailable", None)))


def hpa_for(obs: Observation) -> dict[str, Any] | None:
    w = obs.workload
    if not w:
        return None
    kind, name = w.get("kind") or ("Deployment" if obs.deployment else "StatefulSet"), w["metadata"]["name"]
    for h in obs.hpas or []:
        ref = h.get("spec", {}).get("scaleTargetRef") or {}
        if ref.get("name") == name and ref.get("kind", kind) == kind:
            return h
    return None


def node_ready(node: dict[str, Any]) -> bool:
    c = condition(node, "Ready")
    return bool(c and c.get("status") == "True")


def lost_nodes(obs: Observation) -> dict[str, str]:
    """Nodes (that the pods sit on, or all read) whose Ready condition is not True -> the quoted condition."""
    return {n["metadata"]["name"]: f"node {n['metadata']['name']}: Ready={c.get('status')} ({c.get('reason')})"
            for n in obs.nodes or [] if not node_ready(n) for c in [condition(n, "Ready") or {}]}


def schedulable_nodes(obs: Observation) -> list[str]:
    out = []
    for n in obs.nodes or []:
        taints = [t for t in n.get("spec", {}).get("taints") or [] if t.get("effect") in ("NoSchedule", "NoExecute")]
        if node_ready(n) and not n.get("spec", {}).get("unschedulable") and not taints:
            out.append(n["metadata"]["name"])
    return out


def stuck_pods(obs: Observation) -> list[tuple[str, str]]:
    """(pod, why) for pods stuck in a way a delete clears: Terminating past their grace period, on a node that is
    not Ready, Evicted/Failed leftovers of a controller, left on a cordoned node no drain can evict them from, or the one unready replica among Ready siblings of the
    same ReplicaSet (the template is fine, this pod is not)."""
    out: list[tuple[str, str]] = []
    t, lost = now(obs), lost_nodes(obs)
    pods = pods_of(obs)
    for p in obs.pods:
        meta, st = p["metadata"], p.get("status", {})
        name = pod_name(p)
        deleted = parse_time(meta.get("deletionTimestamp"))
        grace = meta.get("deletionGracePeriodSeconds") or p.get("spec", {}).get("terminationGracePeriodSeconds") or 30
        if deleted and t and (t - deleted).total_seconds() > grace:
            out.append((name, f"pod {name}: Terminating since {meta['deletionTimestamp']}, past its {grace}s grace period"))
        elif p.get("spec", {}).get("nodeName") in lost:
            out.append((name, f"pod {name} is on {lost[p['spec']['nodeName']]}"))
        elif st.get("phase") == "Failed" and st.get("reason") == "Evicted":
            out.append((name, f"pod {name}: phase Failed reason Evicted (a leftover; its controller already replaced it)"))
    if not out:
        out += unevictable_on_cordoned(obs)
    if not out:
        by_rs: dict[str, list[dict[str, Any]]] = {}
        for p in pods:
            rs = next((o.get("name") for o in p["metadata"].get("ownerReferences") or [] if o.get("kind") in ("ReplicaSet", "StatefulSet")), None)
            if rs:
                by_rs.setdefault(rs, []).append(p)
        for rs, group in by_rs.items():
            unready = [p for p in group if not pod_ready(p) and p.get("status", {}).get("phase") == "Running"
                       and all("running" in (cs.get("state") or {}) for cs in statuses(p))
                       and not any(((cs.get("lastState") or {}).get("terminated") or {}).get("reason") == "OOMKilled"
                                   for cs in statuses(p))]
            if len(unready) == 1 and len(group) >= 2 and all(pod_ready(p) for p in group if p is not unready[0]):
                n = pod_name(unready[0])
                out.append((n, f"pod {n} is the only unready one of {len(group)} pods of {rs} (same template; its siblings are Ready)"))
    overdue = job_overdue(obs)
    if not out and overdue:
        # a Job's pod whose log stopped, in a Job running far past its history: the process hangs (a read that never
        # returns); the Job controller replaces a deleted pod while its backoffLimit allows
        job_pods = {pod_name(p) for p in obs.pods if (controller_of(p) or "").startswith("Job/")
                    and p.get("status", {}).get("phase") == "Running"}
        out += [(pod, f"pod {pod}: {why}; {overdue}") for pod, why in silent_logs(obs, job_pods)]
    out = out or resize_stuck(obs)  # a claim's file system grows when a new pod mounts it
    if not out:
        # a running process that stopped making progress while its siblings (same controller) go on: a new pod
        # starts where the others are (a leader that holds its lease but does no work hands over when deleted)
        running = {pod_name(p) for p in pods if p.get("status", {}).get("phase") == "Running"}
        out += [(pod, f"pod {pod}: {why}; its siblings keep logging") for pod, why in silent_logs(obs, running)
                if siblings_progress(obs, pod)]
    if not out and not deadlock_in_every_pod(obs):
        # some replicas deadlocked, the others not: the deadlocked pods are replaced with fresh processes
        out += [(pod, f"pod {pod} reports a deadlock of its own threads: \"{line[:160]}\"") for pod, line in deadlocked(obs)]
    return out
