"""The relay's Prometheus metrics (`GET /metrics`): what was answered, and what did not become a run.

One registry per app, so two relays (or tests) in one process do not share counters. The undelivered
gauge is read from the outbox at scrape time, so every relay on one database reports the same figure.
"""

from __future__ import annotations

from typing import Iterator

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from aof_airflow.relay.reports import Reports


class _Undelivered(Collector):
    def __init__(self, reports: Reports) -> None:
        self.reports = reports

    def collect(self) -> Iterator[GaugeMetricFamily]:
        g = GaugeMetricFamily("aof_relay_undelivered", "Accepted deliveries that did not become a run: failed "
                              "(in the report window) or stuck (still retrying past relay_stuck_after_seconds)",
                              labels=["state"])
        rows = self.reports.readiness()["undelivered"]
        for state in ("failed", "stuck"):
            g.add_metric([state], sum(1 for r in rows if r["state"] == state))
        yield g
        p = GaugeMetricFamily("aof_relay_report_posts", "Slack reports of undelivered rows by this process",
                              labels=["result"])
        p.add_metric(["posted"], self.reports.posted)
        p.add_metric(["failed"], self.reports.post_failures)
        yield p


class RelayMetrics:
    def __init__(self, reports: Reports) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.answers = Counter("aof_relay_answers", "Requests answered, by route kind and outcome",
                               ["route", "outcome"], registry=self.registry)
        self.registry.register(_Undelivered(reports))

    def answered(self, route: str, outcome: str) -> None:
        self.answers.labels(route, outcome).inc()


class CountAnswers:
    """ASGI middleware: counts each answer's status by route kind (it never touches the request body)."""

    PROBES = ("/healthz", "/readyz", "/metrics")

    def __init__(self, app, metrics: RelayMetrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not path or path.endswith(self.PROBES):
            await self.app(scope, receive, send)
            return
        kind = "slack" if "/slack/" in path else "webhook"

        async def counted(message) -> None:
            if message["type"] == "http.response.start":
                self.metrics.answered(kind, str(message["status"]))
            await send(message)

        await self.app(scope, receive, counted)
