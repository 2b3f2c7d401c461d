"""What every detector shares: the Finding it returns and the quotes it builds from logs and events."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ..objects import Observation, events_for, pod_name
from ..revisions import revisions

ACTIONS = ("rollout-restart", "rollout-undo", "scale", "delete-pod", "none")
# The line a command-line parser prints when the process is started with an argument it does not know (glibc getopt,
# BSD getopt, Go's flag, pflag/cobra, argparse, click); the usage text printed after it says nothing of the cause.
ARG_ERROR = re.compile(r"unrecognized option|invalid option|illegal option|unknown (?:shorthand )?flag|flag provided but "
                       r"not defined|unrecognized arguments|no such option", re.I)


def argument_error(text: str | None) -> str | None:
    """The last line of a log that says the process refused one of its arguments."""
    hits = [ln.strip() for ln in (text or "").splitlines() if ARG_ERROR.search(ln)]
    return hits[-1][:200] if hits else None


@dataclass
class Finding:
    """One cause (or symptom) found in the observations, quoted. `action` is the change this cause calls for
    when it can be fixed by one (a candidate only: `actions.judge` decides from the preconditions whether it
    is proposed, and whether it needs a human)."""

    cls: str  # failure class, e.g. "crash-loop"
    summary: str  # one sentence, quoting the decisive fact
    evidence: list[str] = field(default_factory=list)  # verbatim quotes from objects, events, logs
    action: str = "none"  # the change that would remove this cause, one of ACTIONS (a candidate)
    command: str | None = None  # the kubectl command for `action` (None for "none")
    advice: str = ""  # what a human should do beyond the automated action
    confidence: float = 0.7
    affected: list[str] = field(default_factory=list)
    min_severity: str = "low"
    cause: bool = True  # False: a symptom (explained by another finding when one exists)
    rank: int = 100  # detector priority, set by run_all (lower = more specific)


# ------------------------------------------------------------------------------------------------ helpers

def workload_cmd(obs: Observation, verb: str) -> str | None:
    ref = obs.workload_ref
    if not ref:
        return None
    if verb == "rollout-restart":
        return f"kubectl rollout restart {ref} -n {obs.namespace}"
    if verb == "rollout-undo":
        return f"kubectl rollout undo {ref} -n {obs.namespace}"
    return None


def note_revision(obs: Observation, failing: list[dict[str, Any]], f: Finding) -> Finding:
    """Quote the revision history when the failing pods belong to the newest revision: whether an undo can
    help is judged by its preconditions (`actions.py`), not here."""
    rev = revisions(obs)
    if rev and rev.previous and failing and all(rev.owns(p) for p in failing):
        f.evidence.append(rev.quote() if rev.changes() else rev.only_restarted())
        probes = probe_changes(rev.previous, rev.newest)
        f.evidence += probes
        f.summary += "".join(f"; {p}" for p in probes[:1])
    notes = pod_setting_notes(obs, failing)
    f.evidence += notes
    f.summary += "".join(f"; {n}" for n in notes)
    return f


PROBE_FIELDS = ("timeoutSeconds", "periodSeconds", "failureThreshold", "initialDelaySeconds", "successThreshold")


def probe_changes(old_rs: dict[str, Any], new_rs: dict[str, Any]) -> list[str]:
    """The probe settings the newest revision changed, old -> new (a shorter timeout or delay than the process
    needs fails every new pod the same way), per container."""
    def probes(rs: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
        spec = rs.get("spec", {}).get("template", {}).get("spec", {})
        return {(c.get("name"), k): c.get(k) or {} for c in spec.get("containers") or []
                for k in ("livenessProbe", "readinessProbe", "startupProbe")}
    before, after = probes(old_rs), probes(new_rs)
    out = []
    for (cname, kind), new in sorted(after.items(), key=str):
        old = before.get((cname, kind)) or {}
        moved = [f"{k} {old.get(k, 'default')} -> {new.get(k, 'default')}" for k in PROBE_FIELDS
                 if old and new and old.get(k) != new.get(k)]
        if moved:
            out.append(f"container {cname} {kind}: {', '.join(moved)} in the newest revision")
    return out


# A write refused by the file system (the root file system mounted read-only refuses every write outside volumes)
WRITE_REFUSED = re.compile(r"read-only file system|EROFS|no usable temporary directory|cannot create temp|Permission denied", re.I)
LIMIT_RANGER = "kubernetes.io/limit-ranger"  # the API server's note on a pod whose resources a LimitRange filled in


def pod_setting_notes(obs: Observation, failing: list[dict[str, Any]]) -> list[str]:
    """Settings of the failing pods that the API server or the runtime imposed and that the failure points at:
    resources a LimitRange default filled in (the pod spec never asked for them), a read-only root file system
    when the logs show writes refused."""
    out: list[str] = []
    for p in failing[:1]:
        ann = (p.get("metadata", {}).get("annotations") or {}).get(LIMIT_RANGER)
        if ann:
            out.append(f"pod {pod_name(p)}: its resources were filled in by the namespace's LimitRange defaults "
                       f"(annotation {LIMIT_RANGER}: \"{ann[:160]}\")")
        logs = " ".join(t or "" for k, t in obs.logs.items() if k.split("/")[0] == pod_name(p))
        ro = [c["name"] for c in p.get("spec", {}).get("containers") or []
              if ((c.get("securityContext") or {}).get("readOnlyRootFilesystem"))]
        if ro and WRITE_REFUSED.search(logs):
            out.append(f"container {ro[0]} runs with securityContext.readOnlyRootFilesystem true and its log shows a "
                       f"write refused (\"{WRITE_REFUSED.search(logs).group(0)}\"): it can write only to mounted volumes")  # type: ignore[union-attr]
    return out





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


def human(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f}s"
    return f"{seconds / 60:.0f}min" if seconds < 7200 else f"{seconds / 3600:.1f}h"


_DEP_HOST = re.compile(r"(?:host=|connect(?:ing)? to |dial tcp |lookup |https?://)`?([A-Za-z0-9][A-Za-z0-9.-]*[A-Za-z0-9])(?::\d+)?")


def unread_dependency(obs: Observation, text: str) -> str | None:
    """The host a failed connection names (a DNS name, or an address when no name is given), when it is not a
    Service of this namespace (short name or its cluster DNS name): a dependency this engine does not read."""
    services = {s["metadata"]["name"] for s in obs.services or []}
    lines = [ln for ln in text.splitlines() if TRANSIENT.search(ln)]
    for ln in reversed(lines):
        hosts = _DEP_HOST.findall(ln)
        names = [h for h in hosts if not re.fullmatch(r"[\d.]+", h)] or hosts
        for h in names:
            first = h.split(".")[0]
            if first in services and (h == first or f".{obs.namespace}." in f"{h}." or h.endswith(".svc")):
                return None
        if names:
            return names[0]
    return None


TRANSIENT = re.compile(
    r"ECONNREFUSED|connection refused|could not connect|couldn't connect|no such host|temporary failure in name resolution"
    r"|dial tcp|connection reset|i/o timeout|timed out|ETIMEDOUT|EAI_AGAIN|service unavailable", re.I)
