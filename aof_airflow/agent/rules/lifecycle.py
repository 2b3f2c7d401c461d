"""Facts about how pods and Jobs end, quoted: a Job running far past its CronJob's history (and whether its
controller still replaces a pod), an eviction a recreated pod would meet again. Re-exported by `facts.py`.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from .objects import Observation, observed_at, parse_time, pod_name


def now(obs: Observation) -> datetime | None:
    return observed_at(obs)


LONG_JOB = 3.0  # a Job active this many times longer than its CronJob's longest successful run is far past its history


def job_runtimes(obs: Observation) -> tuple[float, list[float]] | None:
    """(seconds the active Job has run, seconds each earlier successful Job of the same CronJob took)."""
    job = obs.job
    if not job or not (job.get("status", {}).get("active") or 0):
        return None
    start, t = parse_time(job.get("status", {}).get("startTime")), now(obs)
    if not start or not t:
        return None
    done = [(parse_time(j.get("status", {}).get("completionTime")), parse_time(j.get("status", {}).get("startTime")))
            for j in obs.jobs if j is not job and j.get("status", {}).get("succeeded")]
    return (t - start).total_seconds(), [(c - s).total_seconds() for c, s in done if c and s]


def job_overdue(obs: Observation) -> str | None:
    """The active Job has run far longer than any earlier run of its CronJob took."""
    rt = job_runtimes(obs)
    if not rt or not rt[1] or rt[0] <= LONG_JOB * max(rt[1]):
        return None
    return (f"job/{obs.job['metadata']['name']} active {rt[0] / 3600:.1f} h, earlier runs took at most "  # type: ignore[index]
            f"{max(rt[1]) / 60:.0f} min")


def backoff_left(job: dict[str, Any]) -> bool:
    """The Job controller still replaces a failed (or deleted) pod: fewer failures than its backoffLimit."""
    return (job.get("status", {}).get("failed") or 0) < job.get("spec", {}).get("backoffLimit", 6)


# The kubelet's words for an eviction over the pod's own limit (not a node's pressure, which a new node may not
# have): "Pod ephemeral local storage usage exceeds the total limit of containers 2Gi.", "Usage of EmptyDir volume
# "x" exceeds the limit "1Gi".", "Container x exceeded its local ephemeral storage limit "1Gi"."
OWN_LIMIT_EVICTION = re.compile(r"exceed(?:s|ed) (?:the|its) (?:total )?(?:local ephemeral storage )?limit", re.I)


def recurring_evictions(obs: Observation) -> str | None:
    """An eviction a recreated pod would meet again: a pod evicted for its own usage over its own limit. Deleting
    the leftovers is housekeeping then, not a fix (a node's pressure is another matter: it may be gone)."""
    for p in obs.pods:
        st = p.get("status", {})
        if st.get("phase") == "Failed" and st.get("reason") == "Evicted" and OWN_LIMIT_EVICTION.search(st.get("message") or ""):
            return (f"pod {pod_name(p)} was evicted for its own usage over its limit: \"{st['message'].strip()}\" "
                    "(a new pod grows the same way)")
    return None
