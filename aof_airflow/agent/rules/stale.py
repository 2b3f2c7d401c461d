"""State a running process took when it started and that has changed since: what a restart gives and nothing
else does. Each fact returns the quoted evidence, or None when the data do not show it.

- Environment variables from a ConfigMap or Secret (env valueFrom, envFrom) are resolved once, when the container
  starts; a later write reaches only new containers (a mounted volume is refreshed by the kubelet, env never is).
- A database that fails over turns the old writer into a replica; connections a pool opened before keep talking to
  it, and every write is refused as read-only, while a new connection resolves the writer's name to the new one.
  (Suspected, not proven: a process configured with a reader's address from the start is refused the same way.)
- A Service's ClusterIP is allocated when the Service is created; a Service deleted and created again gets a new
  one, and a process that resolved the name once at start (an nginx upstream, a JVM caching DNS forever) keeps
  connecting to the old address, where nothing answers.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from .objects import ERROR_LINE, Observation, observed_at, parse_time, pod_name, pods_of, statuses


def env_sources(pod: dict[str, Any]) -> set[tuple[str, str]]:
    """("configmap"|"secret", name) the containers' environment is read from (env valueFrom, envFrom): resolved
    once, when the container starts (unlike a mounted volume, which the kubelet refreshes)."""
    out: set[tuple[str, str]] = set()
    for c in pod.get("spec", {}).get("containers") or []:
        for ef in c.get("envFrom") or []:
            out |= {("configmap", ef["configMapRef"]["name"])} if ef.get("configMapRef") else set()
            out |= {("secret", ef["secretRef"]["name"])} if ef.get("secretRef") else set()
        for e in c.get("env") or []:
            vf = e.get("valueFrom") or {}
            out |= {("configmap", vf["configMapKeyRef"]["name"])} if vf.get("configMapKeyRef") else set()
            out |= {("secret", vf["secretKeyRef"]["name"])} if vf.get("secretKeyRef") else set()
    return out


ADDRESS = re.compile(r"\b((?:\d{1,3}\.){3}\d{1,3}):(\d{2,5})\b")
REFUSED = re.compile(r"connection refused|ECONNREFUSED|connect\(\) failed|no route to host|i/o timeout|timed out", re.I)


def _started(p: dict[str, Any]) -> datetime | None:
    """When the newest running container of a pod started (None when one is not running)."""
    starts = [parse_time(((cs.get("state") or {}).get("running") or {}).get("startedAt")) for cs in statuses(p)]
    return max(starts) if starts and all(starts) else None  # type: ignore[type-var]


def _error_lines(obs: Observation, pod: str, pattern: re.Pattern[str] = ERROR_LINE) -> list[str]:
    return [ln.strip() for k, t in sorted(obs.logs.items()) if k.split("/")[0] == pod and not k.endswith("/previous")
            for ln in (t or "").splitlines() if pattern.search(ln)]


def env_written_since_start(obs: Observation) -> str | None:
    """A ConfigMap or Secret the environment is read from was written after every running container reading it
    started, and those containers log errors: they run with the values from before the write."""
    running = [p for p in pods_of(obs) if p.get("status", {}).get("phase") == "Running" and _started(p)]
    for src, written in sorted(obs.config_written.items()):
        w = parse_time(written)
        readers = [p for p in running if tuple(src.split("/", 1)) in env_sources(p)]
        if not w or not readers or any(_started(p) >= w for p in readers):  # type: ignore[operator]
            continue
        erring = [(pod_name(p), lines[-1]) for p in readers for lines in [_error_lines(obs, pod_name(p))] if lines]
        if erring:
            first = min(readers, key=lambda p: _started(p))  # type: ignore[arg-type,return-value]
            return (f"{src} was last written {written}, after the {len(readers)} running pod(s) reading it into their "
                    f"environment started (pod {pod_name(first)} at {_started(first):%Y-%m-%dT%H:%M:%SZ}): their "  # type: ignore[str-format]
                    f"processes still use the environment variable values from before that write; log of {erring[0][0]}: \"{erring[0][1][:160]}\"")
    return None


def service_recreated_since_start(obs: Observation) -> str | None:
    """The running pods' logs fail to reach an address that is no Service's ClusterIP and no endpoint read, on the
    port of a Service that was created after those pods started: the Service was recreated, the processes still
    use the address they resolved at start."""
    current = {ip for s in obs.services or [] for ip in (s.get("spec") or {}).get("clusterIPs") or [(s.get("spec") or {}).get("clusterIP")]}
    current |= {a.get("ip") for e in (obs.endpoints_of or {}).values() for sub in (e or {}).get("subsets") or []
                for a in sub.get("addresses") or []}
    running = [p for p in pods_of(obs) if p.get("status", {}).get("phase") == "Running" and _started(p)]
    if not running:
        return None
    newest_start = max(_started(p) for p in running)  # type: ignore[type-var]
    for p in running:
        for ln in reversed(_error_lines(obs, pod_name(p), REFUSED)):
            for ip, port in ADDRESS.findall(ln):
                if ip in current:
                    continue
                for s in obs.services or []:
                    created = parse_time(s["metadata"].get("creationTimestamp"))
                    ports = {str(x.get(k)) for x in (s.get("spec") or {}).get("ports") or [] for k in ("port", "targetPort")}
                    if created and created > newest_start and port in ports:  # type: ignore[operator]
                        return (f"log of {pod_name(p)}: \"{ln[:160]}\" -- {ip}:{port} is no Service's ClusterIP and no "
                                f"endpoint; service/{s['metadata']['name']} (port {port}, ClusterIP "
                                f"{(s.get('spec') or {}).get('clusterIP')}) was created {s['metadata']['creationTimestamp']}, "
                                "after the pods started: they still use the address they resolved at start")
    return None


# A replica's refusal of a write: PostgreSQL, MySQL/MariaDB (--read-only / super-read-only), Redis (READONLY)
READ_ONLY = re.compile(r"cannot execute \w+ in a read-only transaction|running with the --(?:super-)?read-only option"
                       r"|READONLY You can't write against a read only replica", re.I)
LONG_UPTIME = 3600  # a process this old held its connections from before a failover that its errors follow


def writes_refused_as_read_only(obs: Observation) -> str | None:
    """Long-running pods (no restart, up for hours) whose current logs show their writes refused as read-only: the
    connections they hold reach a replica (a failover demoted their server)."""
    t = observed_at(obs)
    for p in pods_of(obs):
        started = _started(p)
        lines = _error_lines(obs, pod_name(p), READ_ONLY)
        if lines and started and t and (t - started).total_seconds() >= LONG_UPTIME and \
                not any(cs.get("restartCount") for cs in statuses(p)):
            return (f"pod {pod_name(p)}, up {(t - started).total_seconds() / 86400:.1f} days without restart, logs "
                    f"\"{lines[-1][:160]}\": its pooled connections reach a server that refuses writes as read-only "
                    "(a replica since a failover); new connections would resolve the current writer")
    return None


def stale_since_start(obs: Observation) -> str | None:
    return env_written_since_start(obs) or service_recreated_since_start(obs)
