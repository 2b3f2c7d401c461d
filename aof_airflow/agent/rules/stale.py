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
- A file mounted from a ConfigMap or Secret with `subPath` is bound once, when the container starts: "a container
  using a ConfigMap as a subPath volume mount will not receive ConfigMap updates" (Kubernetes docs); a renewed
  certificate never reaches it.
- A projected ServiceAccount token expires (expirationSeconds, 1 h by default; some API servers extend it up to a
  year) and the kubelet rewrites the file; a client that read it once at start is refused (401) once it expires.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from .objects import ERROR_LINE, Observation, observed_at, parse_time, pod_name, pods_of, statuses
from .process import line_time


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


def subpath_mounts(pod: dict[str, Any]) -> dict[tuple[str, str], list[str]]:
    """("configmap"|"secret", name) a pod's containers mount with subPath (or subPathExpr) -> the mount paths: the
    file is bound when the container starts and the kubelet never updates it (a whole-volume mount it refreshes)."""
    spec = pod.get("spec", {})
    sources: dict[str, list[tuple[str, str]]] = {}
    for v in spec.get("volumes") or []:
        refs = [("configmap", (v.get("configMap") or {}).get("name")), ("secret", (v.get("secret") or {}).get("secretName"))]
        for ps in (v.get("projected") or {}).get("sources") or []:
            refs += [("configmap", (ps.get("configMap") or {}).get("name")), ("secret", (ps.get("secret") or {}).get("name"))]
        sources[v.get("name")] = [(k, n) for k, n in refs if n]
    out: dict[tuple[str, str], list[str]] = {}
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        for m in c.get("volumeMounts") or []:
            if m.get("subPath") or m.get("subPathExpr"):
                for src in sources.get(m.get("name"), []):
                    out.setdefault(src, []).append(m.get("mountPath"))
    return out


def start_sources(pod: dict[str, Any]) -> set[tuple[str, str]]:
    """The ConfigMaps and Secrets whose content a container takes once, at start: its environment and its subPath
    mounts (when each was last written is worth reading)."""
    return env_sources(pod) | set(subpath_mounts(pod))


NOT_AFTER = re.compile(r"notAfter[=:]\s*\"?(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z)")


def _named_file(obs: Observation, pod: str, paths: list[str]) -> str:
    """A log line of the pod that names one of the mounted files (what the process read there), and, when it
    gives a certificate's notAfter already past, that it expired."""
    lines = [ln.strip() for k, t in sorted(obs.logs.items()) if k.split("/")[0] == pod and not k.endswith("/previous")
             for ln in (t or "").splitlines() if any(p and p in ln for p in paths)]
    if not lines:
        return ""
    out = f"; the log names the mounted file: \"{lines[0][:200]}\""
    m, t = NOT_AFTER.search(lines[0]), observed_at(obs)
    expiry = parse_time(m.group(1)) if m else None
    return out + (f" (that certificate expired at {m.group(1)})" if m and expiry and t and expiry <= t else "")  # type: ignore[union-attr]


def subpath_written_since_start(obs: Observation) -> str | None:
    """A ConfigMap or Secret the running pods mount with subPath was written after every one of them started, and
    the errors their logs show all come after that write: they still read the file from before it."""
    running = [p for p in pods_of(obs) if p.get("status", {}).get("phase") == "Running" and _started(p)]
    for src, written in sorted(obs.config_written.items()):
        w, key = parse_time(written), tuple(src.split("/", 1))
        readers = [p for p in running if key in subpath_mounts(p)]
        if not w or not readers or any(_started(p) >= w for p in readers):  # type: ignore[operator]
            continue
        erring = []
        for p in readers:
            stamped = [(t, ln) for ln in _error_lines(obs, pod_name(p)) for t in [line_time(ln)] if t]
            if stamped and all(t > w for t, _ in stamped):
                erring.append((pod_name(p), min(stamped)))
        if not erring:
            continue
        pod, (_, line) = min(erring, key=lambda e: e[1][0])
        paths = sorted({m for p in readers for m in subpath_mounts(p)[key]})  # type: ignore[index]
        first = min(readers, key=lambda p: _started(p))  # type: ignore[arg-type,return-value]
        return (f"{src} is mounted with subPath ({', '.join(paths)}) by the {len(readers)} running pod(s), which all "
                f"started before it was last written {written} (pod {pod_name(first)} at {_started(first):%Y-%m-%dT%H:%M:%SZ}): "  # type: ignore[str-format]
                "a file mounted with subPath never receives updates, so they still read the content from before that "
                f"write; the errors read in {len(erring)} of them all come after it, log of {pod}: \"{line[:160]}\""
                + _named_file(obs, pod, paths))
    return None


# The Kubernetes API server refusing a client's credentials: the Python client's ApiException (401), client-go's
# message for a 401 and its reflector's "Unauthorized", and an expired token named as such.
API_REFUSED = re.compile(r"kubernetes\.client\.(?:rest|exceptions)\.ApiException: \(401\)"
                         r"|the server has asked for the client to provide credentials|failed to (?:list|watch) \S+: Unauthorized"
                         r"|service ?account token (?:has )?expired", re.I)
REFUSED_401 = re.compile(r"\b401\b|Unauthorized|token (?:has )?expired|expired token", re.I)
API_SERVER = re.compile(r"kubernetes\.default|/api/v1/|/apis/[a-z]|kube-?apiserver|KUBERNETES_SERVICE_HOST", re.I)
CREDENTIALS_LOADED = re.compile(r"in-?cluster (?:config|configuration|credentials)|InClusterConfig|serviceaccount/token", re.I)
TOKEN_SECONDS = 3600  # a projected ServiceAccount token's default lifetime (the kubelet asks for 3607 s)


def token_lifetime(pod: dict[str, Any]) -> tuple[int, str] | None:
    """(seconds, how the data say it) a pod's ServiceAccount token is valid for; None when it mounts none."""
    spec = pod.get("spec", {})
    asked = [s["serviceAccountToken"].get("expirationSeconds") for v in spec.get("volumes") or []
             for s in (v.get("projected") or {}).get("sources") or [] if s.get("serviceAccountToken")]
    if asked and all(asked):
        return min(asked), f"the expirationSeconds of its projected token ({min(asked)} s)"
    if asked or spec.get("automountServiceAccountToken") is not False:
        return TOKEN_SECONDS, ("a projected ServiceAccount token's default lifetime (1 h; where the API server "
                               "extends it, up to a year)")
    return None


def _age(seconds: float) -> str:
    return f"{seconds / 86400:.0f} days" if seconds >= 2 * 86400 else f"{seconds / 3600:.1f} h"


def _healthy_until(lines: list[tuple[datetime | None, str]], started: datetime, life: int) -> str | None:
    """What shows the process ran without a refusal for longer than its token lives, from the log lines read
    before the first refusal (a contiguous tail): they reach back into the token's first lifetime, or one of them,
    written after that lifetime, is no error."""
    stamps = [t for t, _ in lines if t]
    if stamps and (min(stamps) - started).total_seconds() <= life:
        return f"its log read from {min(stamps):%Y-%m-%dT%H:%M:%SZ} shows no refusal before"
    ok = [t for t, ln in lines if t and (t - started).total_seconds() >= life and not ERROR_LINE.search(ln)]
    return f"it logged without error until {max(ok):%Y-%m-%dT%H:%M:%SZ}, and the first refusal read is" if ok else None


def token_outlived(obs: Observation, shown_healthy: bool = True) -> str | None:
    """A container that has run without restart for longer than its ServiceAccount token lives, whose log shows the
    API server refusing its credentials after that lifetime: it holds the token it read at start; a new pod reads
    a current one. shown_healthy: only when the log read shows no refusal within that lifetime (what proves a
    restart); without it, the refusals may have begun earlier than the lines read (the cause, behind approval)."""
    for p in pods_of(obs):
        life = token_lifetime(p)
        for cs in statuses(p) if life else []:
            started = parse_time(((cs.get("state") or {}).get("running") or {}).get("startedAt"))
            lines = [ln.strip() for ln in (obs.logs.get(f"{pod_name(p)}/{cs['name']}") or "").splitlines()]
            stamp, read, refused = None, [], []
            for i, ln in enumerate(lines):
                stamp = line_time(ln) or stamp  # a record's time is on its first line (a traceback's are not)
                if API_REFUSED.search(ln) or (REFUSED_401.search(ln) and API_SERVER.search(ln)):
                    nxt = lines[i + 1] if i + 1 < len(lines) and lines[i + 1].startswith("Reason:") else ""
                    refused.append((stamp, f"{ln} {nxt}".strip()))
                elif not refused:
                    read.append((line_time(ln), ln))
            first = refused[0][0] if refused else None
            if not (started and first and life) or (first - started).total_seconds() < life[0]:
                continue
            healthy = _healthy_until([r for r in read if r[0] is None or r[0] <= first], started, life[0])
            if shown_healthy and not healthy:
                continue
            loaded = next((ln for ln in lines if CREDENTIALS_LOADED.search(ln)), "")
            return (f"pod {pod_name(p)}: container {cs['name']} has run since {started:%Y-%m-%dT%H:%M:%SZ} "
                    f"({cs.get('restartCount', 0)} restart(s) before) and the Kubernetes API server refuses its "
                    f"credentials: \"{refused[-1][1][:200]}\"; "
                    + (healthy or "the first refusal read (the log read does not show when they began) is at")
                    + f" {first:%Y-%m-%dT%H:%M:%SZ}, {_age((first - started).total_seconds())} after it started, longer "
                    f"than {life[1]}" + (f"; at start it logged \"{loaded[:160]}\"" if loaded else "")
                    + ": a client that read its token once and does not reload the one the kubelet refreshes still "
                    "sends the expired token; a new pod reads a current one")
    return None


def stale_since_start(obs: Observation) -> str | None:
    return (env_written_since_start(obs) or subpath_written_since_start(obs) or service_recreated_since_start(obs)
            or token_outlived(obs, shown_healthy=False))
