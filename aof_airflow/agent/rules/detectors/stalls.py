"""Processes that fail while Kubernetes sees nothing wrong (Ready, no restarts, no Warning event): a log that went
silent while the other replicas of the same controller keep logging; a per-process resource (file descriptors,
threads, local ports) exhausted after a long uptime; state taken at start that changed since (environment or a
subPath file from a ConfigMap written later, a Service recreated with a new address, a token past its lifetime); one
pod failing among healthy siblings of the same template."""

from __future__ import annotations

from ..facts import (
    deadlock_in_every_pod,
    deadlocked,
    dependency_slots_full,
    exhausted_with_uptime,
    exhaustion_lines,
    siblings_progress,
    silent_logs,
    stale_since_start,
    workers_busy,
)
from ..objects import Observation, pod_name, pods_of
from ..podlocal import lone_failing_pod
from ..stale import writes_refused_as_read_only
from .common import Finding, log_signatures


def detect_stalled_process(obs: Observation) -> Finding | None:
    """A running pod whose log stopped long before its siblings' (a hung process, a leader that keeps its lease
    but does no work): deleting that pod lets the controller, or another replica, take over."""
    running = {pod_name(p) for p in pods_of(obs) if p.get("status", {}).get("phase") == "Running"}
    hits = [(pod, why) for pod, why in silent_logs(obs, running) if siblings_progress(obs, pod)]
    if not hits:
        return None
    pods = sorted({pod for pod, _ in hits})
    stuck = [p for p in pods_of(obs) if pod_name(p) in pods]
    ev = [f"pod {pod}: {why}" for pod, why in hits[:3]] + log_signatures(obs, stuck)
    return Finding(
        cls="process-stalled",
        summary=f"pod(s) {', '.join(pods)} stopped making progress (hung): {hits[0][1]}, while the other replicas "
                "keep logging; Kubernetes still sees the pod(s) Ready",
        evidence=ev, action="delete-pod", command=f"kubectl delete pod {' '.join(pods)} -n {obs.namespace}",
        confidence=0.65, affected=pods, min_severity="medium",
        advice="find what the process waits on (its last log line; a thread dump) and fix it: it will hang again",
    )


def detect_resource_exhausted(obs: Observation) -> Finding | None:
    """A long-running container whose log says a per-process resource is exhausted ('too many open files',
    'unable to create native thread'): leaked with uptime; new processes start with none held."""
    why = exhausted_with_uptime(obs)
    if not why:
        return None
    hit = sorted({k.split("/")[0] for k, t in obs.logs.items() if not k.endswith("/previous") and exhaustion_lines(t)})
    every = len(hit) >= len(pods_of(obs))
    return Finding(
        cls="resource-exhausted",
        summary=f"{len(hit)} of {len(pods_of(obs))} pod(s) exhausted a per-process resource after a long uptime "
                f"(a leak that grows with uptime): {why}",
        evidence=[why], action="rollout-restart" if every or not obs.workload_ref else "delete-pod",
        command=None if every else f"kubectl delete pod {' '.join(hit)} -n {obs.namespace}",
        confidence=0.75, affected=hit, min_severity="medium",
        advice="a restart buys time; find what is never closed (connections, files, threads) or raise the limit",
    )


def detect_stale_since_start(obs: Observation) -> Finding | None:
    """Running pods that fail with state they took at start and that changed since: a restart gives them the
    current values (a ConfigMap written later) or the current address (a Service recreated later)."""
    why = stale_since_start(obs)
    if not why:
        return None
    return Finding(
        cls="stale-since-start",
        summary=f"the running pods use state they took when they started, which has changed since: {why}",
        evidence=[why], action="rollout-restart", confidence=0.7, min_severity="medium",
        affected=[obs.workload_ref] if obs.workload_ref else [],
        advice="a restart makes the processes read it again; to stop it recurring, roll pods on configuration "
               "changes (a checksum annotation), mount ConfigMaps and Secrets without subPath, re-resolve names (a "
               "resolver with a short TTL), use a Kubernetes client that reloads its token",
    )


def detect_writes_refused_read_only(obs: Observation) -> Finding | None:
    """Long-running pods whose writes are refused as read-only: their pooled connections reach a demoted server.
    A restart reconnects to the current writer; it is proposed behind approval (a process given a reader's address
    from the start is refused the same way, and nothing read tells which)."""
    why = writes_refused_as_read_only(obs)
    if not why:
        return None
    return Finding(
        cls="stale-connections", summary=f"writes refused as read-only by the database the pods stay connected to: {why}",
        evidence=[why], action="rollout-restart", confidence=0.55, min_severity="medium",
        affected=[obs.workload_ref] if obs.workload_ref else [],
        advice="check the database's current writer (a recent failover) and the address the pods use; a restart reopens "
               "the pool; give the pool a max lifetime and a short DNS cache so it follows the next failover",
    )


def detect_workers_saturated(obs: Observation) -> Finding | None:
    """Every pod says all its request workers are taken while CPU is to spare and no dependency is named: the
    workload is short of concurrency for the load it gets; more replicas add workers (scale; whether the load
    rose, and whether an autoscaler owns the count, is for the scale's preconditions)."""
    why = workers_busy(obs)
    if not why:
        return None
    return Finding(
        cls="workers-saturated",
        summary=f"the pods are out of request workers, not CPU: {why}",
        evidence=[why], action="scale", confidence=0.65, min_severity="high",
        affected=[obs.workload_ref] if obs.workload_ref else [],
        advice="scale out now; then size the workers per pod to the CPU, or add an autoscaler on concurrency",
    )


def detect_dependency_slots_full(obs: Observation) -> Finding | None:
    """A server the pods depend on refuses new connections because all its slots are taken: the pods wait or fail
    readiness through no fault of their own. Restarting or scaling them opens more connections; the fix is with
    whoever holds the slots (a new or larger client: a batch Job, a leaking pool) or the server's limit."""
    why = dependency_slots_full(obs)
    if not why:
        return None
    return Finding(
        cls="dependency-connections-exhausted",
        summary=f"a dependency is out of connection slots (too many clients): {why}; restarting or scaling these "
                "pods would ask for more connections",
        evidence=[why], action="none", confidence=0.7, min_severity="high",
        affected=[obs.workload_ref] if obs.workload_ref else [],
        advice="find which clients hold the server's connections (e.g. pg_stat_activity by application or client "
               "address: a new batch Job, a leaking pool) and throttle them; put clients behind a connection pooler",
    )


def detect_lone_failing_pod(obs: Observation) -> Finding | None:
    """One pod of a template revision keeps failing while its siblings of the same revision are healthy: what fails
    is local to that pod (a mount whose daemon died, its node, its process state); a new pod starts without it. The
    delete is proven only by delete-pod's own preconditions (a Ready pod is not stuck: behind approval)."""
    hit = lone_failing_pod(obs)
    if not hit:
        return None
    pod, why = hit
    return Finding(
        cls="pod-local-fault", summary=f"one pod fails while its siblings are healthy: {why}", evidence=[why],
        action="delete-pod", command=f"kubectl delete pod {pod} -n {obs.namespace}", confidence=0.6,
        affected=[f"pod/{pod}"], min_severity="medium",
        advice="delete the pod (its controller recreates it); if it recurs, look at what this pod has that its siblings "
               "do not (its node, a sidecar that restarted, a mount)",
    )


def detect_deadlocked(obs: Observation) -> Finding | None:
    """A running process whose runtime reports that its own threads wait on each other (a lock-ordering deadlock):
    alive, often Ready (probes on another thread or port), doing no work until it is replaced."""
    hits = deadlocked(obs)
    if not hits:
        return None
    pods = sorted({pod for pod, _ in hits})
    every = deadlock_in_every_pod(obs) is not None
    return Finding(
        cls="process-deadlocked",
        summary=f"{len(pods)} of {len(pods_of(obs))} pod(s) deadlocked: their own threads wait on each other's locks "
                f"(\"{hits[0][1][:160]}\"); the process runs and does no work, whatever its probes say",
        evidence=[f"pod {pod}: \"{line[:200]}\"" for pod, line in hits[:3]],
        action="rollout-restart" if every and obs.workload_ref else "delete-pod",
        command=None if every else f"kubectl delete pod {' '.join(pods)} -n {obs.namespace}",
        confidence=0.75, affected=pods if not every else ([obs.workload_ref] if obs.workload_ref else pods), min_severity="high",
        advice="a restart clears it; take a thread dump first if you can, and fix the lock order: the same timing deadlocks again",
    )
