"""The product's Prometheus reader against the real Prometheus: the `metrics-*` pairs (same kubectl picture,
different histories) get different verdicts, and a Prometheus that is down or slow answers "not examined"
within the deadline."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from aof_airflow.services.prometheus import PrometheusAPI, PrometheusHistory, history_source_from_connection
from aof_lab.monitoring.stack import MonitoringStack, Receiver
from aof_lab.sandbox.kube import KubeAPI
from aof_lab.sandbox.kube_metrics import KubeMetricsExporter
from tests.harness.monitoring import RecordingReceiver, monitoring_binaries, receiver  # noqa: F401 - fixtures

pytestmark = pytest.mark.timeout(240)
PODS = ["session-cache-gdmbecdlbh-m1n2b", "session-cache-gdmbecdlbh-v3c4x"]


def history_of(binaries, receiver, scenario: str):
    with KubeAPI([scenario]) as kube, KubeMetricsExporter(kube.sim) as exporter, \
            MonitoringStack(binaries, f"127.0.0.1:{exporter.port}", Receiver(receiver.url),
                            scenarios=kube.scenarios.values()) as stack:
        stack.wait_for("a scrape", lambda: stack.query("up == 1"))
        time.sleep(2)  # two scrapes: the live series continues the backfilled one
        source = PrometheusHistory(PrometheusAPI(stack.prometheus_url))
        return source.workload_history("cache", PODS, ["session-cache"], deadline=time.monotonic() + 10)


@pytest.mark.parametrize("scenario, memory, cpu, load, restarts", [
    ("metrics-memory-leak", "grows-with-uptime", "unknown", "unknown", "none"),
    ("metrics-memory-limit-too-low", "flat-near-limit", "unknown", "unknown", "none"),
    ("metrics-cpu-load-surge", "unknown", "saturated", "rising", "unknown"),  # no memory history: not judged
    ("metrics-cpu-hot-loop", "unknown", "saturated", "steady", "unknown"),
])
def test_the_pairs_get_the_verdicts_their_histories_show(monitoring_binaries, receiver, scenario, memory, cpu, load,
                                                         restarts):
    h = history_of(monitoring_binaries, receiver, scenario)
    assert h.examined, h.not_examined_because
    got = (h.memory, h.cpu, h.load, h.restarts)
    assert got == (memory, cpu, load, restarts), (got, h.evidence)
    assert all(h.evidence) and h.window_seconds == 6 * 3600


def test_a_prometheus_that_is_down_is_not_examined_at_once():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here
    t0 = time.monotonic()
    h = PrometheusHistory(PrometheusAPI(f"http://127.0.0.1:{port}")).workload_history(
        "cache", PODS, [], deadline=time.monotonic() + 5)
    assert not h.examined and "unreachable" in h.not_examined_because and time.monotonic() - t0 < 2


def test_a_slow_prometheus_is_not_examined_within_the_deadline():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)  # accepts connections, never answers
    held: list[socket.socket] = []
    threading.Thread(target=lambda: held.append(server.accept()[0]), daemon=True).start()
    try:
        t0 = time.monotonic()
        h = PrometheusHistory(PrometheusAPI(f"http://127.0.0.1:{server.getsockname()[1]}")).workload_history(
            "cache", PODS, [], deadline=time.monotonic() + 1.5)
        took = time.monotonic() - t0
    finally:
        server.close()
    assert not h.examined and "deadline" in h.not_examined_because
    assert 1.0 < took < 2.5


def test_event_text_never_becomes_promql():
    h = PrometheusHistory(PrometheusAPI("http://127.0.0.1:9")).workload_history(
        'cache"}) or vector(1) #', PODS, [], deadline=time.monotonic() + 1)
    assert not h.examined and "not a Kubernetes name" in h.not_examined_because


def test_the_connection_builds_the_source(monkeypatch):
    assert history_source_from_connection("prometheus_absent_for_test") is None
    monkeypatch.setenv("AIRFLOW_CONN_PROMETHEUS_DEFAULT",
                       '{"conn_type": "http", "host": "prom.example", "port": 9090, "schema": "https", '
                       '"password": "tok", "extra": {"history_hours": 2}}')
    src = history_source_from_connection()
    assert isinstance(src, PrometheusHistory) and src.api.base_url == "https://prom.example:9090"
    assert src.api.bearer == "tok" and src.window == 2 * 3600
