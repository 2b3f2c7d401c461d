"""Detectors by domain: each a pure function Observation -> Finding | None, quoting the objects it read.

Where to look: `workloads` (crashes, OOMKills, probes, rollouts, replicas, CPU), `scheduling` (pods that cannot
be placed), `storage` (claims and volumes, used by scheduling), `networking` (Services, NetworkPolicies),
`nodes` (lost nodes, evictions), `jobs` (Jobs and CronJobs), `configuration` (images, ConfigMaps/Secrets,
admission, permissions, application errors), `releases` (pods left on an outdated ControllerRevision). A Finding names a cause and the change it calls for; whether
that change is proposed is decided by the preconditions in `..actions`, never here.
"""

from __future__ import annotations

from typing import Callable

from ..objects import Observation
from .common import ACTIONS, Finding
from .configuration import (
    detect_admission_refused,
    detect_config_missing,
    detect_container_start_error,
    detect_errors_since_release,
    detect_image_pull,
    detect_log_errors,
)
from .disruptions import detect_pdb_blocking, detect_pdb_overlap
from .jobs import detect_cronjob_not_scheduling, detect_job_failed, detect_job_running_long
from .networking import (
    detect_ingress,
    detect_network_policy,
    detect_service_no_endpoints,
    detect_service_port_mismatch,
    detect_statefulset_service_missing,
)
from .nodes import (
    detect_clock_behind,
    detect_evicted,
    detect_node_not_ready,
    detect_node_pressure,
    detect_node_reports_problem,
)
from .releases import detect_outdated_revision
from .scheduling import detect_daemonset_left_out, detect_pending
from .stalls import (
    detect_deadlocked,
    detect_dependency_slots_full,
    detect_lone_failing_pod,
    detect_resource_exhausted,
    detect_stale_since_start,
    detect_stalled_process,
    detect_workers_saturated,
    detect_writes_refused_read_only,
)
from .storage import detect_claim_unbound, detect_resize_pending
from .workloads import (
    detect_cpu_saturated,
    detect_crash_loop,
    detect_hpa_not_scaling,
    detect_memory_near_limit,
    detect_oom,
    detect_probe_failures,
    detect_rollout_stuck,
    detect_scaled_to_zero,
    detect_statefulset_down,
)

# Order = priority when several causes are found: the most specific, most certain first.
DETECTORS: list[Callable[[Observation], Finding | None]] = [
    detect_node_not_ready,
    detect_node_reports_problem,
    detect_network_policy,
    detect_admission_refused,
    detect_outdated_revision,
    detect_config_missing,
    detect_image_pull,
    detect_container_start_error,
    detect_oom,
    detect_resize_pending,
    detect_crash_loop,
    detect_pending,
    detect_statefulset_service_missing,
    detect_service_port_mismatch,
    detect_hpa_not_scaling,
    detect_cpu_saturated,
    detect_probe_failures,
    detect_dependency_slots_full,
    detect_scaled_to_zero,
    detect_rollout_stuck,
    detect_memory_near_limit,
    detect_pdb_overlap,
    detect_pdb_blocking,
    detect_service_no_endpoints,
    detect_ingress,
    detect_evicted,
    detect_node_pressure,
    detect_claim_unbound,
    detect_statefulset_down,
    detect_job_running_long,
    detect_job_failed,
    detect_cronjob_not_scheduling,
    detect_deadlocked,
    detect_resource_exhausted,
    detect_stale_since_start,
    detect_writes_refused_read_only,
    detect_clock_behind,  # one pod's refusals explained by its node's clock: before any pod-local reading
    detect_lone_failing_pod,
    detect_stalled_process,
    detect_daemonset_left_out,
    detect_errors_since_release,
    detect_workers_saturated,
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


__all__ = ["ACTIONS", "DETECTORS", "Finding", "run_all"] + [d.__name__ for d in DETECTORS]
