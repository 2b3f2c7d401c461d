"""Prometheus as evidence: a read-only HTTP API client, and `PrometheusHistory`, the `HistorySource` the rules
engine asks about a workload (services/metrics_history.py says what the verdicts mean).

Where Prometheus is: the Airflow Connection `prometheus_default` (host, port, schema http/https; login +
password = basic auth, or password alone = a Bearer token; extra `{"history_hours": 6}`). No Connection:
`history_source_from_connection()` is None and the engine reports "metrics not examined".

Every call has the caller's deadline: a Prometheus that is down or slow gives `WorkloadHistory.unavailable`
in time, never a failed node. Queries are built from names checked against Kubernetes' DNS-1123 rules, so
an event's text never becomes PromQL.
"""

from __future__ import annotations

import re
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from aof_airflow.services.metrics_history import HistorySource, WorkloadHistory

CONNECTION_ID = "prometheus_default"
NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
WINDOW_HOURS = 6.0
STEP_SECONDS = 60
READ_ENDPOINTS = ("query", "query_range")


class PrometheusError(Exception):
    """Prometheus did not answer usefully: unreachable, too slow, or an error status."""


@dataclass
class PrometheusAPI:
    """GET /api/v1/query and /api/v1/query_range; nothing else (no admin, no writes)."""

    base_url: str
    auth: tuple[str, str] | None = field(default=None, repr=False)  # basic
    bearer: str | None = field(default=None, repr=False)
    _client: httpx.Client | None = field(default=None, init=False, repr=False)

    def client(self) -> httpx.Client:
        if self._client is None:
            headers = {"Authorization": f"Bearer {self.bearer}"} if self.bearer else {}
            self._client = httpx.Client(base_url=self.base_url.rstrip("/"), auth=self.auth, headers=headers)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def get(self, endpoint: str, params: dict[str, Any], deadline: float) -> dict[str, Any]:
        """`data` of a successful answer, before `deadline` (time.monotonic()), else PrometheusError."""
        if endpoint not in READ_ENDPOINTS:  # no admin (tsdb delete, snapshot), no write, no lifecycle
            raise PrometheusError(f"refused: /api/v1/{endpoint} is not a read-only query endpoint")
        left = deadline - time.monotonic()
        if left <= 0.05:
            raise PrometheusError("no time left before the deadline")
        try:
            r = self.client().get(f"/api/v1/{endpoint}", params=params, timeout=left)
        except httpx.TimeoutException:
            raise PrometheusError(f"no answer from {self.base_url} within the deadline ({left:.1f} s)") from None
        except httpx.HTTPError as exc:
            raise PrometheusError(f"{self.base_url} unreachable: {type(exc).__name__}") from None
        try:
            body = r.json()
        except ValueError:
            raise PrometheusError(f"{self.base_url} answered {r.status_code} without JSON") from None
        if r.status_code != 200 or body.get("status") != "success":
            raise PrometheusError(f"{r.status_code} {body.get('errorType', '')}: {str(body.get('error', ''))[:300]}")
        return body["data"]

    def query(self, promql: str, deadline: float) -> list[dict[str, Any]]:
        return self.get("query", {"query": promql}, deadline)["result"]

    def query_range(self, promql: str, start: float, end: float, step: float, deadline: float) -> list[dict[str, Any]]:
        return self.get("query_range", {"query": promql, "start": start, "end": end, "step": step}, deadline)["result"]


def api_from_connection(conn_id: str = CONNECTION_ID) -> tuple[PrometheusAPI, dict[str, Any]] | None:
    """The API the Connection points at, and its extras; None when there is no such Connection."""
    try:
        from airflow.sdk import BaseHook
        from airflow.sdk.exceptions import AirflowNotFoundException
    except ImportError:  # Airflow's own import path before the task SDK
        from airflow.exceptions import AirflowNotFoundException
        from airflow.hooks.base import BaseHook
    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None
    if not conn.host:
        return None
    host = conn.host if "://" in conn.host else f"{conn.schema or 'http'}://{conn.host}"
    url = f"{host.rstrip('/')}:{conn.port}" if conn.port else host.rstrip("/")
    basic = (conn.login, conn.password or "") if conn.login else None
    bearer = conn.password if conn.password and not conn.login else None
    return PrometheusAPI(url, auth=basic, bearer=bearer), dict(conn.extra_dejson or {})


def history_source_from_connection(conn_id: str = CONNECTION_ID) -> HistorySource | None:
    """What the rules engine is given: a `PrometheusHistory` when `prometheus_default` exists, else None."""
    found = api_from_connection(conn_id)
    if found is None:
        return None
    api, extra = found
    return PrometheusHistory(api, window_hours=float(extra.get("history_hours", WINDOW_HOURS)))


# ------------------------------------------------------------------------------------------ verdicts


def _matchers(namespace: str, pods: list[str], containers: list[str]) -> str:
    for n in [namespace, *pods, *containers]:
        if not NAME.match(n):
            raise ValueError(f"{n!r} is not a Kubernetes name")
    def alternatives(names: list[str]) -> str:  # DNS-1123 names: only `.` is special (`\\.` in a PromQL string)
        return "|".join(n.replace(".", "\\\\.") for n in names)

    out = f'namespace="{namespace}", pod=~"{alternatives(pods)}"'
    return out + (f', container=~"{alternatives(containers)}"' if containers else ', container!=""')


def _values(series: dict[str, Any]) -> list[tuple[float, float]]:
    return [(float(t), float(v)) for t, v in series.get("values", []) if v not in ("NaN", "+Inf", "-Inf")]


def _mib(v: float) -> str:
    return f"{v / 2**20:.0f}Mi"


def _segments(points: list[tuple[float, float]]) -> list[list[tuple[float, float]]]:
    """Cut a working-set series where it falls by more than a third: a container restart starts low again."""
    segs: list[list[tuple[float, float]]] = [[]]
    for p in points:
        if segs[-1] and p[1] < segs[-1][-1][1] * (2 / 3):
            segs.append([])
        segs[-1].append(p)
    return [s for s in segs if s]


def memory_verdict(points: list[tuple[float, float]], limit: float | None) -> tuple[str, str]:
    """grows-with-uptime / flat-near-limit / flat / unknown, and the sentence with the figures."""
    if len(points) < 10:
        return "unknown", f"memory: {len(points)} samples, too few to judge"
    seg = _segments(points)[-1]
    if len(seg) < 10:
        return "unknown", "memory: the container restarted moments ago; too few samples since"
    first, last = seg[0][1], seg[-1][1]
    minutes = (seg[-1][0] - seg[0][0]) / 60
    settled = [v for _, v in seg[len(seg) // 10:]]  # past the start-up ramp
    mid = statistics.median(settled)
    spread = (max(settled) - min(settled)) / mid if mid else 0.0
    near = limit is not None and mid >= 0.85 * limit
    lim = f" of its {_mib(limit)} limit" if limit else ""
    ts = [t for t, _ in seg]
    corr = statistics.correlation(ts, [v for _, v in seg]) if len(set(v for _, v in seg)) > 1 else 0.0
    if last > first * 1.25 and corr > 0.9:
        return "grows-with-uptime", (f"memory grew with uptime from {_mib(first)} to {_mib(last)}{lim} over "
                                     f"{minutes:.0f} min since the container started (correlation {corr:.2f})")
    if spread <= 0.1 and near:
        return "flat-near-limit", (f"memory flat at {_mib(mid)} (within {spread:.0%}){lim} for {minutes:.0f} min, "
                                   "from the first minutes after start")
    if spread <= 0.1:
        return "flat", f"memory flat at {_mib(mid)} (within {spread:.0%}){lim} for {minutes:.0f} min"
    return "unknown", f"memory between {_mib(min(settled))} and {_mib(max(settled))}{lim}, no clear trend"


def cpu_verdict(points: list[tuple[float, float]], limit: float | None) -> tuple[str, str]:
    if len(points) < 5:
        return "unknown", "cpu: too few samples"
    if not limit:
        return "unknown", "cpu: no CPU limit or request to compare with"
    recent = statistics.mean(v for _, v in points[-15:])
    if recent >= 0.9 * limit:
        return "saturated", f"cpu {recent:.3f} cores over the last 15 min, {recent / limit:.0%} of its {limit:g}-core limit"
    return "normal", f"cpu {recent:.3f} cores over the last 15 min, {recent / limit:.0%} of its {limit:g}-core limit"


def load_verdict(points: list[tuple[float, float]]) -> tuple[str, str]:
    if len(points) < 8:
        return "unknown", "load: no traffic series (container_network_receive_bytes_total) for these pods"
    q = max(2, len(points) // 4)
    before, after = statistics.mean(v for _, v in points[:q]), statistics.mean(v for _, v in points[-q:])
    ratio = after / before if before else float("inf")
    if ratio >= 1.5:
        return "rising", f"traffic rose {ratio:.1f}x over the window ({before / 1e3:.0f} kB/s -> {after / 1e3:.0f} kB/s)"
    if 0.75 <= ratio <= 1.33:
        return "steady", f"traffic steady ({before / 1e3:.0f} kB/s -> {after / 1e3:.0f} kB/s, {ratio:.2f}x)"
    return "unknown", f"traffic changed {ratio:.2f}x over the window"


def restart_verdict(restarts: list[tuple[float, float]], memory: list[tuple[float, float]],
                    limit: float | None) -> tuple[str, str]:
    if len(restarts) < 2:
        return "unknown", "restarts: no restart counter for these containers"
    grew = restarts[-1][1] - restarts[0][1]
    if grew <= 0:
        return "none", f"no restart in the window (count {restarts[-1][1]:.0f})"
    drops = [i for i in range(1, len(memory)) if memory[i][1] < memory[i - 1][1] * (2 / 3)]
    if drops and limit and all(memory[i - 1][1] >= 0.85 * limit for i in drops):
        return "after-growing-memory", f"{grew:.0f} restart(s), each after memory reached {_mib(limit * 0.85)}+"
    return "soon-after-start", f"{grew:.0f} restart(s) in the window"


class PrometheusHistory:
    """`HistorySource` over a Prometheus holding cAdvisor and kube-state-metrics series."""

    def __init__(self, api: PrometheusAPI, window_hours: float = WINDOW_HOURS, step: int = STEP_SECONDS) -> None:
        self.api, self.window, self.step = api, window_hours * 3600, step

    def workload_history(self, namespace: str, pods: list[str], containers: list[str], *,
                         deadline: float) -> WorkloadHistory:
        try:
            sel = _matchers(namespace, pods, containers)
        except ValueError as exc:
            return WorkloadHistory.unavailable(f"not queried: {exc}", self.api.base_url)
        if not pods:
            return WorkloadHistory.unavailable("no pods to ask about", self.api.base_url)
        end = time.time()
        start = end - self.window
        q = {
            "memory": f"max(container_memory_working_set_bytes{{{sel}}})",
            "memory_limit": f'max(kube_pod_container_resource_limits{{{sel}, resource="memory"}})',
            "cpu": f"max(rate(container_cpu_usage_seconds_total{{{sel}}}[5m]))",
            "cpu_limit": f'max(kube_pod_container_resource_limits{{{sel}, resource="cpu"}}) or '
                         f'max(kube_pod_container_resource_requests{{{sel}, resource="cpu"}})',
            "load": "sum(rate(container_network_receive_bytes_total{"
                    + sel.split(", container")[0] + "}[5m]))",
            "restarts": f"max(kube_pod_container_status_restarts_total{{{sel}}})",
        }
        try:
            series = {k: self._range(v, start, end, deadline) for k, v in q.items()
                      if k not in ("memory_limit", "cpu_limit")}
            limits = {k: self._instant(q[k], deadline) for k in ("memory_limit", "cpu_limit")}
        except PrometheusError as exc:
            return WorkloadHistory.unavailable(f"metrics not examined: {exc}", self.api.base_url)
        memory, mem_why = memory_verdict(series["memory"], limits["memory_limit"])
        cpu, cpu_why = cpu_verdict(series["cpu"], limits["cpu_limit"])
        load, load_why = load_verdict(series["load"])
        restarts, restart_why = restart_verdict(series["restarts"], series["memory"], limits["memory_limit"])
        return WorkloadHistory(examined=True, window_seconds=self.window, memory=memory, cpu=cpu,  # type: ignore[arg-type]
                               load=load, restarts=restarts, evidence=(mem_why, cpu_why, load_why, restart_why),
                               source=self.api.base_url, queries=tuple(q.values()))

    def _range(self, promql: str, start: float, end: float, deadline: float) -> list[tuple[float, float]]:
        result = self.api.query_range(promql, start, end, self.step, deadline)
        return _values(result[0]) if result else []

    def _instant(self, promql: str, deadline: float) -> float | None:
        result = self.api.query(promql, deadline)
        return float(result[0]["value"][1]) if result else None
