"""The `Prometheus` tool: read-only PromQL for an agent, `prometheus_query` and `prometheus_query_range`.

A toolset (agent/tools/toolset.py: `specs`, `handles`, `call`, `close`), registered in the Toolbox's `TOOLSETS`. Bounds live here, in code: the range (`max_range_hours`), the step (at least `min_step_seconds`, at
most `max_points` per series), the number of series in an answer (`max_series`), the query's length and the
answer's size. Only the two query endpoints are ever called (services/prometheus.py refuses any other path):
no admin API (`/api/v1/admin/tsdb/*`), no remote write, no rule or config changes.
"""

from __future__ import annotations

import json
import time
from typing import Any, Callable

from aof_airflow.agent.tools.toolset import ToolContext, Toolset, ToolSpec
from aof_airflow.agent.types import ToolCall
from aof_airflow.services.prometheus import PrometheusAPI, PrometheusError, api_from_connection
from aof_airflow.spec.models import PrometheusTool, PrometheusToolConfig

QUERY, QUERY_RANGE = "prometheus_query", "prometheus_query_range"
MAX_QUERY_CHARS = 2000


class PrometheusToolset(Toolset):
    """:param config: the agent's `Prometheus` tool config.
    :param timeout: seconds a call may take (the tool's own, bounded by the node's deadline).
    :param api: the API to call; by default the one the config's Connection points at."""

    names = (QUERY, QUERY_RANGE)

    def __init__(self, config: PrometheusToolConfig, timeout: Callable[[float], float] = lambda t: t,
                 api: PrometheusAPI | None = None) -> None:
        self.config, self._timeout, self._api = config, timeout, api
        self._looked_up = api is not None

    @classmethod
    def for_agent(cls, ctx: ToolContext) -> PrometheusToolset | None:
        config = next((t.config for t in ctx.agent.spec.tools if isinstance(t, PrometheusTool)), None)
        return cls(config, ctx.timeout) if config is not None else None

    def handles(self, name: str) -> bool:
        return name in self.names

    def api(self) -> PrometheusAPI | None:
        if not self._looked_up:
            found = api_from_connection(self.config.connection_id)
            self._api = found[0] if found else None
            self._looked_up = True
        return self._api

    def specs(self) -> list[ToolSpec]:
        c = self.config
        return [
            ToolSpec(QUERY, "Evaluate a PromQL expression at one instant (read-only; Prometheus HTTP API "
                            f"/api/v1/query). At most {c.max_series} series in the answer.", {
                "type": "object",
                "properties": {"query": {"type": "string", "description": 'e.g. kube_pod_container_status_restarts_total{namespace="shop"}'},
                               "time": {"type": "number", "description": "unix seconds; default now"}},
                "required": ["query"]}),
            ToolSpec(QUERY_RANGE, "Evaluate a PromQL expression over a time range (read-only; /api/v1/query_range). "
                                  f"Range at most {c.max_range_hours:g} h, step at least {c.min_step_seconds:g} s and "
                                  f"at most {c.max_points} points per series, at most {c.max_series} series.", {
                "type": "object",
                "properties": {"query": {"type": "string"},
                               "minutes": {"type": "number", "description": "how far back from `end` (default 60)"},
                               "end": {"type": "number", "description": "unix seconds; default now"},
                               "step_seconds": {"type": "number", "description": "default: the range / 120"}},
                "required": ["query"]}),
        ]

    def call(self, name: str, args: dict[str, Any]) -> ToolCall:
        try:
            query = self._query(args)
            if name == QUERY:
                params: dict[str, Any] = {"query": query}
                if args.get("time") is not None:
                    params["time"] = float(args["time"])
                endpoint = "query"
            elif name == QUERY_RANGE:
                endpoint, params = "query_range", {"query": query, **self._range(args)}
            else:
                return _refused(name, args, f"unknown tool {name!r}")
        except (ValueError, TypeError) as exc:
            return _refused(name, args, str(exc))
        api = self.api()
        if api is None:
            return ToolCall(name, dict(args), False, f"Prometheus not configured: no Connection "
                                                     f"`{self.config.connection_id}` (metrics not examined)")
        deadline = time.monotonic() + self._timeout(self.config.timeout_seconds)
        try:
            data = api.get(endpoint, params, deadline)
        except PrometheusError as exc:
            return ToolCall(name, dict(args), False, f"Prometheus: {exc} (metrics not examined)")
        result = data.get("result") if isinstance(data.get("result"), list) else []
        if len(result) > self.config.max_series:
            return _refused(name, args, f"the answer has {len(result)} series, more than {self.config.max_series}: "
                                        "narrow the selector or aggregate (sum by / topk)")
        text = json.dumps({"resultType": data.get("resultType"), "result": result}, separators=(",", ":"))
        cap = self.config.max_output_chars
        if len(text) > cap:
            return ToolCall(name, dict(args), True, text[:cap] + f"\n... [truncated: {len(text)} chars]", truncated=True)
        return ToolCall(name, dict(args), True, text)

    def close(self) -> None:
        if self._api is not None:
            self._api.close()

    # ---------------------------------------------------------------------------------- bounds
    def _query(self, args: dict[str, Any]) -> str:
        q = args.get("query")
        if not isinstance(q, str) or not q.strip():
            raise ValueError("`query` must be a PromQL expression")
        if len(q) > MAX_QUERY_CHARS:
            raise ValueError(f"the query is longer than {MAX_QUERY_CHARS} characters")
        return q

    def _range(self, args: dict[str, Any]) -> dict[str, float]:
        c = self.config
        minutes = float(args.get("minutes") if args.get("minutes") is not None else 60)
        end = float(args["end"]) if args.get("end") is not None else time.time()
        span = minutes * 60
        if span <= 0:
            raise ValueError("`minutes` must be positive")
        if span > c.max_range_hours * 3600:
            raise ValueError(f"range of {minutes:g} min is longer than the allowed {c.max_range_hours:g} h")
        step = float(args["step_seconds"]) if args.get("step_seconds") is not None else max(c.min_step_seconds, span / 120)
        if step < c.min_step_seconds:
            raise ValueError(f"step {step:g} s is below the allowed {c.min_step_seconds:g} s")
        if span / step > c.max_points:
            raise ValueError(f"{span / step:.0f} points per series is more than {c.max_points}: use a larger step")
        return {"start": end - span, "end": end, "step": step}


def _refused(name: str, args: dict[str, Any], why: str) -> ToolCall:
    return ToolCall(name, dict(args), False, f"refused: {why}", refused=why)
