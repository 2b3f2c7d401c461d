"""The sandbox cluster's metrics as Prometheus scrapes them from a real cluster: cAdvisor's container series and
kube-state-metrics' object series, read from the simulated cluster at each scrape.

WHY one exporter for both: on a cluster they are two targets (the kubelet's `/metrics/cadvisor` and the
kube-state-metrics Service), but what the alert rules and the product's Prometheus reader query are the metric
*names and labels*, which are the real ones here (`container_memory_working_set_bytes{namespace,pod,container}`,
`kube_pod_container_status_waiting_reason{reason}`, ...). Each sample carries `job` as the real target would
(`kubelet` / `kube-state-metrics`), so the scrape keeps them with `honor_labels`.

The working set and CPU come from the scenario's `metrics` (what `kubectl top` shows), so the live series and the
`kubectl` picture agree; `cpu_usage_seconds_total` is a counter growing at that rate since the container started.
"""

from __future__ import annotations

import re
import time
from typing import Any, Iterable

from aof_lab.sandbox.httpserver import HTTPService, Request, Response
from aof_lab.sandbox.kube_sim import POD, ClusterSim
from aof_lab.sandbox.kube_store import parse_ts

CADVISOR, KSM = "kubelet", "kube-state-metrics"
EXPOSITION = "text/plain; version=0.0.4; charset=utf-8"
_UNITS = {"": 1, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "m": 1e-3,
          "Ki": 1024, "Mi": 1024 ** 2, "Gi": 1024 ** 3, "Ti": 1024 ** 4}

# name -> (type, help); the order in which families are written
FAMILIES = {
    "container_memory_working_set_bytes": ("gauge", "Current working set of the container in bytes"),
    "container_cpu_usage_seconds_total": ("counter", "Cumulative cpu time consumed in seconds"),
    "container_start_time_seconds": ("gauge", "Start time of the container since unix epoch in seconds"),
    "kube_pod_container_status_restarts_total": ("counter", "The number of container restarts per container"),
    "kube_pod_container_status_waiting_reason": ("gauge", "Describes the reason the container is waiting"),
    "kube_pod_container_status_last_terminated_reason": ("gauge", "Describes the last reason the container was terminated"),
    "kube_pod_container_status_ready": ("gauge", "Describes whether the container's readiness check succeeded"),
    "kube_pod_container_resource_limits": ("gauge", "The number of requested limit resource by a container"),
    "kube_pod_container_resource_requests": ("gauge", "The number of requested request resource by a container"),
    "kube_pod_owner": ("gauge", "Information about the Pod's owner"),
    "kube_replicaset_owner": ("gauge", "Information about the ReplicaSet's owner"),
    "kube_deployment_spec_replicas": ("gauge", "Number of desired pods for a deployment"),
    "kube_deployment_status_replicas_available": ("gauge", "The number of available replicas per deployment"),
    "kube_statefulset_replicas": ("gauge", "Number of desired pods for a StatefulSet"),
    "kube_statefulset_status_replicas_ready": ("gauge", "The number of ready replicas per StatefulSet"),
}
JOBS = {name: (CADVISOR if name.startswith("container_") else KSM) for name in FAMILIES}


def quantity(q: Any) -> float | None:
    """A Kubernetes quantity ('512Mi', '250m', '2') as a number (bytes, cores)."""
    m = re.fullmatch(r"([0-9.]+)([KMGT]i|[kKMGTm]?)", str(q).strip()) if q not in (None, "") else None
    return float(m.group(1)) * _UNITS[m.group(2)] if m else None


def _escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def sample_line(name: str, labels: dict[str, str], value: float, ts: float | None = None) -> str:
    """One exposition line; `ts` in seconds (written as OpenMetrics does, seconds with a fraction)."""
    body = ",".join(f'{k}="{_escape(str(v))}"' for k, v in sorted(labels.items()))
    text = f"{name}{{{body}}} {value:.17g}"
    return text if ts is None else f"{text} {ts:.3f}"


def cluster_samples(sim: ClusterSim, now: float | None = None) -> Iterable[tuple[str, dict[str, str], float]]:
    """(metric, labels, value) for every pod, container and workload in the simulated cluster."""
    from aof_lab.sandbox import kube_resources as kr

    now = time.time() if now is None else now
    for pod in sim.store.list(POD):
        meta, spec, st = pod["metadata"], pod.get("spec") or {}, pod.get("status") or {}
        ns, name = meta.get("namespace", ""), meta["name"]
        base = {"namespace": ns, "pod": name}
        for ref in meta.get("ownerReferences") or []:
            if ref.get("controller"):
                yield "kube_pod_owner", {**base, "owner_kind": ref["kind"], "owner_name": ref["name"],
                                         "owner_is_controller": "true"}, 1
        usage = sim.metrics.get((ns, name), {})
        statuses = {cs["name"]: cs for cs in st.get("containerStatuses") or []}
        for c in spec.get("containers") or []:
            cname, lab = c["name"], {**base, "container": c["name"]}
            cs = statuses.get(cname, {})
            for kind, family in (("limits", "kube_pod_container_resource_limits"),
                                 ("requests", "kube_pod_container_resource_requests")):
                for res, q in ((c.get("resources") or {}).get(kind) or {}).items():
                    v = quantity(q)
                    if v is not None:
                        unit = "byte" if res == "memory" else "core" if res == "cpu" else "integer"
                        yield family, {**lab, "resource": res, "unit": unit}, v
            yield "kube_pod_container_status_restarts_total", lab, float(cs.get("restartCount", 0))
            yield "kube_pod_container_status_ready", lab, 1.0 if cs.get("ready") else 0.0
            waiting = (cs.get("state") or {}).get("waiting")
            if waiting and waiting.get("reason"):
                yield "kube_pod_container_status_waiting_reason", {**lab, "reason": waiting["reason"]}, 1
            last = ((cs.get("lastState") or {}).get("terminated") or {}).get("reason")
            if last:
                yield "kube_pod_container_status_last_terminated_reason", {**lab, "reason": last}, 1
            running = (cs.get("state") or {}).get("running")
            if not running:
                continue  # cAdvisor only sees running containers
            started = parse_ts(running["startedAt"]).timestamp() if running.get("startedAt") else now
            # cAdvisor also labels `id`, `image`, `name`; left out so a scenario's history (which cannot know a
            # container id) and the live scrape are one series
            yield "container_start_time_seconds", lab, started
            u = usage.get(cname) or {}
            mem, cpu = quantity(u.get("memory")), quantity(u.get("cpu"))
            if mem is not None:
                yield "container_memory_working_set_bytes", lab, mem
            if cpu is not None:
                yield "container_cpu_usage_seconds_total", lab, cpu * max(0.0, now - started)
    for rs in sim.store.list(kr.BY_KIND["ReplicaSet"]):
        for ref in rs["metadata"].get("ownerReferences") or []:
            if ref.get("controller"):
                yield "kube_replicaset_owner", {"namespace": rs["metadata"].get("namespace", ""),
                                                "replicaset": rs["metadata"]["name"], "owner_kind": ref["kind"],
                                                "owner_name": ref["name"], "owner_is_controller": "true"}, 1
    for kind, spec_m, avail_m, status_key in (
            ("Deployment", "kube_deployment_spec_replicas", "kube_deployment_status_replicas_available", "availableReplicas"),
            ("StatefulSet", "kube_statefulset_replicas", "kube_statefulset_status_replicas_ready", "readyReplicas")):
        for wl in sim.store.list(kr.BY_KIND[kind]):
            lab = {"namespace": wl["metadata"].get("namespace", ""), kind.lower(): wl["metadata"]["name"]}
            yield spec_m, lab, float((wl.get("spec") or {}).get("replicas", 1))
            yield avail_m, lab, float((wl.get("status") or {}).get(status_key) or 0)


def exposition(samples: Iterable[tuple[str, dict[str, str], float]]) -> str:
    """Prometheus text format, one `# TYPE` block per family, each sample labelled with its real job."""
    by_family: dict[str, list[str]] = {name: [] for name in FAMILIES}
    for name, labels, value in samples:
        by_family[name].append(sample_line(name, {**labels, "job": JOBS[name]}, value))
    out: list[str] = []
    for name, lines in by_family.items():
        if lines:
            kind, help_ = FAMILIES[name]
            out += [f"# HELP {name} {help_}", f"# TYPE {name} {kind}", *lines]
    return "\n".join(out) + "\n"


class KubeMetricsExporter(HTTPService):
    """`GET /metrics` on loopback (plain HTTP, as a kube-state-metrics Service is scraped in-cluster)."""

    def __init__(self, sim: ClusterSim, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        self.sim = sim
        self.scrapes = 0

    def handle(self, req: Request) -> Response:
        if req.method != "GET" or req.path != "/metrics":
            return Response.text("404 page not found\n", 404)
        self.scrapes += 1
        with self.sim.store.lock:
            text = exposition(cluster_samples(self.sim))
        return Response.text(text, content_type=EXPOSITION)
