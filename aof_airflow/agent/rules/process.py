"""Facts about the process inside a container that Kubernetes does not report: what its logs' timestamps say
(a log that stopped while its siblings go on), a per-process resource exhausted after a long uptime, a JVM heap
that fills its memory limit. Each returns the quoted evidence, or None when the data do not show it.

WHY apart from `facts.py`: these read logs and container settings, not object states; `facts.py` re-exports them
so the action table (`actions.py`) reads every fact from one place.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from .objects import (
    LOG_STAMP,
    Observation,
    container_limits,
    cpu_millis,
    mem_bytes,
    observed_at,
    parse_time,
    pod_name,
    pods_of,
    statuses,
)


def now(obs: Observation) -> datetime | None:
    return observed_at(obs)


SATURATED = 0.9  # usage at or above this share of the limit
# A log line that names a dependency which refused or did not answer (it may be back now).
DEPENDENCY_DOWN = re.compile(r"(?:ECONNREFUSED|connection refused|could not connect|couldn't connect|connection reset"
                             r"|i/o timeout|ETIMEDOUT|EAI_AGAIN|no such host)", re.I)
HEAP_FLAG = re.compile(r"-Xmx(\d+)([kmgt]?)\b", re.I)
RAM_PERCENT = re.compile(r"-XX:MaxRAMPercentage=(\d+(?:\.\d+)?)")
HEAP_SHARE = 0.9  # a JVM heap this share of the memory limit leaves too little for stacks, metaspace and buffers


def heap_fills_limit(obs: Observation) -> str | None:
    """A JVM whose maximum heap (-Xmx, or MaxRAMPercentage) is at or above 90% of its container's memory limit:
    the heap alone fills the limit, so the kernel kills the process under load whatever its uptime (a
    configuration-derived OOM, not a leak)."""
    for p in pods_of(obs)[:3]:
        for c in p.get("spec", {}).get("containers", []) or []:
            limit_s = (c.get("resources", {}).get("limits") or {}).get("memory")
            limit = mem_bytes(limit_s) if limit_s else None
            if not limit:
                continue
            texts = [str(e.get("value") or "") for e in c.get("env") or []] + [str(a) for a in (c.get("command") or []) + (c.get("args") or [])]
            for t in texts:
                m, pct = HEAP_FLAG.search(t), RAM_PERCENT.search(t)
                heap = int(m.group(1)) * {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}[m.group(2).lower()] if m else None
                if heap is not None and heap >= HEAP_SHARE * limit:
                    return (f"container {c.get('name')} runs a JVM with {m.group(0)} against a memory limit of {limit_s}: "  # type: ignore[union-attr]
                            "the heap alone fills the limit, off-heap memory pushes the process over it")
                if heap is None and pct and float(pct.group(1)) >= HEAP_SHARE * 100:
                    return (f"container {c.get('name')} runs a JVM with {pct.group(0)} of a {limit_s} memory limit: "
                            "the heap alone fills the limit, off-heap memory pushes the process over it")
    return None


SILENT_SECONDS = 900  # a running container whose last log line is this much older than the latest event or state


# The time at the head of a log line in the formats applications commonly print: RFC 3339 (kubectl --timestamps, most
# structured loggers), a logfmt/JSON `ts`/`time` field, and `2026-12-07 02:10:00,000` / `2026/12/07 02:10:00` (Python
# logging, Go's log package). A time without a zone is read as UTC (a container's default clock zone).
FIELD_STAMP = re.compile(r"\b(?:ts|time|timestamp)\"?[=:]\s*\"?(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?)")
PLAIN_STAMP = re.compile(r"^\s*\[?(\d{4})[-/](\d\d)[-/](\d\d)[ T](\d\d):(\d\d):(\d\d)")


def line_time(line: str) -> datetime | None:
    """When a log line says it was written (None when it carries no time in a known format)."""
    m = LOG_STAMP.match(line) or FIELD_STAMP.search(line)
    t = parse_time(m.group(1)) if m else None
    if t is None:
        p = PLAIN_STAMP.match(line)
        t = datetime(*map(int, p.groups())) if p else None  # type: ignore[arg-type]
    return t.replace(tzinfo=timezone.utc) if t is not None and t.tzinfo is None else t


def _last_stamp(text: str | None) -> tuple[datetime | None, str]:
    lines = [ln for ln in (text or "").splitlines() if ln.strip()]
    m = LOG_STAMP.match(lines[-1]) if lines else None
    return (parse_time(m.group(1)) if m else None), (lines[-1].strip() if lines else "")


def _silent(obs: Observation, pods: set[str] | None = None) -> list[tuple[str, str]]:
    """(log key, sentence) for each running container whose current log stopped (see `silent_logs`)."""
    current = {k: _last_stamp(t) for k, t in obs.logs.items() if not k.endswith("/previous")}
    t = now(obs)
    out = []
    for key, (last, line) in sorted(current.items()):
        if pods is not None and key.split("/")[0] not in pods:
            continue
        others = [s for k, (s, _) in current.items() if s and k.split("/")[0] != key.split("/")[0]]
        clock = max([x for x in [t, *others] if x], default=None)
        if clock and last and (clock - last).total_seconds() > SILENT_SECONDS:
            out.append((key, f"the log of {key} is silent since {last.strftime('%Y-%m-%dT%H:%M:%SZ')} "
                             f"({(clock - last).total_seconds() / 60:.0f} min), its last line: \"{line[:160]}\""))
    return out


def silent_logs(obs: Observation, pods: set[str] | None = None) -> list[tuple[str, str]]:
    """Running containers whose current log stopped: its last (timestamped) line is long before what the objects
    show as now, or before the latest line of the other logs read (fetched at the same moment: a sibling still
    logging shows the clock) -- a process that logged and then stopped making progress. (pod, sentence) each,
    quoting the last line (what it was doing when it stopped)."""
    return [(key.split("/")[0], why) for key, why in _silent(obs, pods)]


def siblings_progress(obs: Observation, pod: str) -> bool:
    """The same container in another pod of the same controller logs within the silence window: the workload runs,
    this pod's process stopped. (A container that is quiet by nature, a sidecar that logs only at start, is quiet in
    every pod: its silence is no stall.)"""
    silent = {key for key, _ in _silent(obs)}
    owner = next((controller_of(p) for p in obs.pods if pod_name(p) == pod), None)
    siblings = {pod_name(p) for p in obs.pods if controller_of(p) == owner and pod_name(p) != pod}
    mine = {k.split("/")[1] for k in silent if k.split("/")[0] == pod}
    return any(k.split("/")[0] in siblings and k.split("/")[1] in mine and k not in silent
               for k in obs.logs if not k.endswith("/previous"))


# A per-process resource that accumulates with uptime (descriptors, threads, ephemeral ports): a new process
# starts with none held. The server-side "too many connections" of a database is not one (it names another process).
EXHAUSTED = re.compile(r"too many open files|EMFILE|unable to create (?:new )?native thread|cannot assign requested address"
                       r"|EADDRNOTAVAIL|no buffer space available|ENOBUFS", re.I)
# A client-side connection pool is a per-process resource too: when its own leak detection reports connections
# checked out and never returned, a pool with none free has leaked them (a slow server would show no leak report).
POOL_EMPTY = re.compile(r"connection is not available|pool (?:is )?exhausted|unable to acquire (?:jdbc )?connection"
                        r"|timeout waiting for (?:an )?idle object|no (?:free|available) connections?", re.I)
POOL_LEAK = re.compile(r"connection leak|leak detect", re.I)
COUNTER = re.compile(r"\bfds?_\w+=|file.?descriptors?|open.?files|nofile|threads?_\w+=|ulimit", re.I)
EXHAUSTED_UPTIME = 6 * 3600  # a process this old that exhausts a per-process resource accumulated it


def exhaustion_lines(text: str | None) -> list[str]:
    """Lines of one log that say a per-process resource is exhausted (a pool only when the log reports its leak)."""
    lines = [ln.strip() for ln in (text or "").splitlines()]
    hits = [ln for ln in lines if EXHAUSTED.search(ln)]
    if not hits and any(POOL_LEAK.search(ln) for ln in lines):
        hits = [ln for ln in lines if POOL_EMPTY.search(ln)]
    return hits


# A runtime's own report that threads of the process wait on each other forever: the JVM's deadlock detection
# (jstack, ThreadMXBean.findDeadlockedThreads watchdogs). Nothing inside the process undoes it; a new process starts
# without it. A database's "deadlock detected" is not one: the server aborts a transaction and both sides go on.
DEADLOCK = re.compile(r"Java-level deadlock|\bdeadlocked threads?\b|\bthreads? (?:are |were )?deadlocked\b", re.I)


def deadlocked(obs: Observation) -> list[tuple[str, str]]:
    """(pod, log line) for each running container whose current log (this process's, not a previous one's)
    reports a deadlock of its own threads: the process is alive (probes may pass on another port), doing no work."""
    out = []
    for p in pods_of(obs):
        for cs in statuses(p):
            if "running" not in (cs.get("state") or {}):
                continue
            hits = [ln.strip() for ln in (obs.logs.get(f"{pod_name(p)}/{cs['name']}") or "").splitlines() if DEADLOCK.search(ln)]
            if hits:
                out.append((pod_name(p), hits[0]))
                break
    return out


def deadlock_in_every_pod(obs: Observation) -> str | None:
    """Every pod whose log was read reports the deadlock: the proof a restart needs (a fresh process has no locks held)."""
    hits = deadlocked(obs)
    read = {k.split("/")[0] for k in obs.logs if not k.endswith("/previous")}
    if hits and {pod for pod, _ in hits} >= read:
        return (f"{len(hits)} of {len(read)} pod(s) whose logs were read report a deadlock of their own threads, "
                f"e.g. {hits[0][0]}: \"{hits[0][1][:160]}\": the process runs and does no work; a new one holds no lock")
    return None


def exhausted_with_uptime(obs: Observation) -> str | None:
    """The current log of a container that has run without restart for hours says a per-process resource is
    exhausted (file descriptors, threads, local ports, a connection pool that reports its leak): it leaked with
    uptime, a fresh process starts empty."""
    t = now(obs)
    clock = max([x for x in [t, *(_last_stamp(v)[0] for v in obs.logs.values())] if x], default=None)
    for p in pods_of(obs):
        for cs in statuses(p):
            started = parse_time(((cs.get("state") or {}).get("running") or {}).get("startedAt"))
            text = obs.logs.get(f"{pod_name(p)}/{cs['name']}") or ""
            hits = exhaustion_lines(text)
            if not (started and clock and hits) or (clock - started).total_seconds() < EXHAUSTED_UPTIME:
                continue
            counters = [ln.strip() for ln in text.splitlines() if COUNTER.search(ln) and ln.strip() not in hits]
            days = (clock - started).total_seconds() / 86400
            return (f"pod {pod_name(p)} container {cs['name']}, up {days:.1f} days with {cs.get('restartCount', 0)} restart(s), "
                    f"logs \"{hits[-1][:160]}\"" + (f" and \"{counters[-1][:160]}\"" if counters else "")
                    + ": a per-process resource exhausted over uptime (a leak); a new process starts with none held")
    return None


def controller_of(pod: dict[str, Any]) -> str | None:
    o = next((o for o in pod["metadata"].get("ownerReferences") or [] if o.get("controller", True)), None)
    return f"{o.get('kind')}/{o.get('name')}" if o else None


def workload_of(pod: dict[str, Any], replicasets: Sequence[dict[str, Any]] = ()) -> str | None:
    """The workload a pod belongs to ("deployment/x"): a ReplicaSet's pods name their Deployment through the
    ReplicaSet read, or else by its name less the pod-template-hash suffix (the Deployment controller's naming)."""
    owner = controller_of(pod)
    if owner is None:
        return None
    kind, name = owner.split("/", 1)
    if kind == "ReplicaSet":
        rs = next((r for r in replicasets if r["metadata"]["name"] == name), None)
        dep = next((o for o in (rs or {}).get("metadata", {}).get("ownerReferences") or [] if o.get("kind") == "Deployment"), None)
        h = (pod["metadata"].get("labels") or {}).get("pod-template-hash")
        if dep:
            return f"deployment/{dep['name']}"
        if h and name.endswith("-" + h):
            return f"deployment/{name[: -len(h) - 1]}"
    return f"{kind.lower()}/{name}"


# A server that says every request worker (process, thread, connection slot) is taken: gunicorn, Tomcat, php-fpm,
# uWSGI, nginx, Jetty and Java executors print these when concurrency, not CPU, runs out.
WORKERS_BUSY = re.compile(r"WORKER TIMEOUT|All threads \(\d+\) are currently busy|reached (?:pm\.)?max_children setting"
                          r"|listen queue of socket .* full|worker_connections are not enough|RejectedExecutionException"
                          r"|thread pool (?:is )?(?:full|exhausted)|no (?:idle|available|free) workers?|all workers (?:are )?busy",
                          re.I)
# ...unless the workers are busy waiting on something else: a slow or refusing dependency fills any pool.
WAITING_ON_OTHERS = re.compile(DEPENDENCY_DOWN.pattern + r"|upstream timed out|read timed? ?out|deadline exceeded|lock wait"
                               r"|too many clients|remaining connection slots", re.I)


def workers_busy(obs: Observation) -> str | None:
    """Every pod whose current log was read says its request workers are all taken, none names a dependency it
    waits on, and (where usage was read) each runs below its CPU limit: the pods are out of concurrency, not CPU."""
    read = {k.split("/")[0]: t for k, t in obs.logs.items() if not k.endswith("/previous")}
    pods = [p for p in pods_of(obs) if pod_name(p) in read]
    if not pods:
        return None
    quotes = []
    for p in pods:
        lines = [ln.strip() for ln in (read[pod_name(p)] or "").splitlines()]
        hits = [ln for ln in lines if WORKERS_BUSY.search(ln)]
        if not hits or any(WAITING_ON_OTHERS.search(ln) for ln in lines):
            return None
        cpu, limits = obs.cpu_usage.get(pod_name(p)), [cpu_millis(x) for x in container_limits(p, "cpu")]
        if cpu is not None and limits and all(limits) and cpu >= SATURATED * sum(limits):  # type: ignore[arg-type]
            return None
        quotes.append(f"pod {pod_name(p)}: {len(hits)} line(s) like \"{hits[-1][:120]}\""
                      + (f", cpu {cpu}m of limit {sum(limits)}m" if cpu is not None and limits and all(limits) else ""))  # type: ignore[arg-type]
    return (f"every pod read ({len(pods)}) reports its request workers all taken, naming no dependency it waits on: "
            + "; ".join(quotes[:2]))


# A server that refuses a new connection because every slot it has is taken (PostgreSQL, MySQL, Redis, MongoDB):
# the slots are held by all its clients together, so more or fresh clients only ask for more.
SLOTS_FULL = re.compile(r"too many clients already|remaining connection slots are reserved|Too many connections"
                        r"|max number of clients reached|too many open connections|connection limit exceeded", re.I)


def dependency_slots_full(obs: Observation) -> str | None:
    """Pods whose logs say a server they depend on refuses new connections because its slots are all taken. A
    StatefulSet is taken for the data store itself (as the action table's no-state check does): its own refusals
    are its symptom, not a dependency's."""
    if obs.statefulset is not None:
        return None
    hits = [(k, ln.strip()) for k, t in sorted(obs.logs.items()) for ln in (t or "").splitlines() if SLOTS_FULL.search(ln)]
    if not hits:
        return None
    pods = sorted({k.split("/")[0] for k, _ in hits})
    return (f"{len(pods)} pod(s) log that a server they connect to has no free connection slot: "
            f"log of {hits[-1][0]}: \"{hits[-1][1][:160]}\"")
