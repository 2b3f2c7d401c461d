"""The agent tool `Prometheus` against the real Prometheus: answers within its bounds, refusals beyond them
(range, step, points, series, query size), admin and write endpoints never reachable, and the Toolbox offering
it to a model from agent YAML."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from pydantic import ValidationError

from aof_airflow.agent.tools.prometheus import QUERY, QUERY_RANGE, PrometheusToolset
from aof_airflow.agent.tools.toolbox import Toolbox
from aof_airflow.agent.types import AgentScope
from aof_airflow.services.prometheus import PrometheusAPI, PrometheusError
from aof_airflow.spec.models import PrometheusToolConfig
from aof_lab.monitoring.stack import MonitoringStack, Receiver
from aof_lab.sandbox.kube import KubeAPI
from aof_lab.sandbox.kube_metrics import KubeMetricsExporter
from tests.harness.monitoring import RecordingReceiver, monitoring_binaries  # noqa: F401 - fixture
from tests.unit.agent.helpers import make_agent

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def prometheus(monitoring_binaries):
    with RecordingReceiver() as rec, KubeAPI(["metrics-memory-leak", "rules-crashloop-bad-release"]) as kube, \
            KubeMetricsExporter(kube.sim) as exporter, \
            MonitoringStack(monitoring_binaries, f"127.0.0.1:{exporter.port}", Receiver(rec.url),
                            scenarios=kube.scenarios.values()) as stack:
        stack.wait_for("a scrape", lambda: stack.query("up == 1"))
        yield stack


def toolset(stack, **config) -> PrometheusToolset:
    return PrometheusToolset(PrometheusToolConfig(**config), api=PrometheusAPI(stack.prometheus_url))


def test_query_and_query_range_answer(prometheus):
    ts = toolset(prometheus)
    got = ts.call(QUERY, {"query": 'max by (pod) (container_memory_working_set_bytes{namespace="cache"})'})
    assert got.ok and len(json.loads(got.output)["result"]) == 2
    got = ts.call(QUERY_RANGE, {"query": 'max(container_memory_working_set_bytes{namespace="cache"})',
                                "minutes": 360, "step_seconds": 300})
    values = json.loads(got.output)["result"][0]["values"]
    assert got.ok and len(values) >= 70 and float(values[0][1]) < float(values[-1][1])  # the leak, from history


@pytest.mark.parametrize("name, args, why", [
    (QUERY_RANGE, {"query": "up", "minutes": 25 * 60}, "longer than the allowed 24 h"),
    (QUERY_RANGE, {"query": "up", "minutes": 60, "step_seconds": 1}, "below the allowed 15 s"),
    (QUERY_RANGE, {"query": "up", "minutes": 24 * 60, "step_seconds": 15}, "points per series"),
    (QUERY, {"query": "x" * 2001}, "longer than 2000"),
    (QUERY, {"query": ""}, "PromQL expression"),
    (QUERY, {"query": "kube_pod_container_status_restarts_total"}, "more than 3"),
])
def test_limits_are_refused_before_or_after_prometheus(prometheus, name, args, why):
    got = toolset(prometheus, max_series=3).call(name, args)
    assert not got.ok and got.refused and why in got.refused


def test_admin_and_write_endpoints_are_never_called(prometheus):
    api = PrometheusAPI(prometheus.prometheus_url)
    for endpoint in ("admin/tsdb/delete_series", "admin/tsdb/snapshot", "write", "../../-/quit"):
        with pytest.raises(PrometheusError, match="refused"):
            api.get(endpoint, {"match[]": "up"}, time.monotonic() + 5)
    # the series is still there (nothing was deleted), and Prometheus itself refuses the admin API too
    assert prometheus.query('count(container_memory_working_set_bytes{namespace="cache"})')
    r = httpx.post(f"{prometheus.prometheus_url}/api/v1/admin/tsdb/delete_series", params={"match[]": "up"})
    assert r.status_code >= 400 and "admin APIs disabled" in r.text  # the stack never enables them


def test_a_bad_query_is_reported_not_raised(prometheus):
    got = toolset(prometheus).call(QUERY, {"query": "sum(("})
    assert not got.ok and "bad_data" in got.output


def test_the_toolbox_offers_it_from_agent_yaml(prometheus, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_PROMETHEUS_DEFAULT", json.dumps({"conn_type": "http", "host": "127.0.0.1",
                                                                      "port": int(prometheus.prometheus_url.rsplit(":", 1)[1])}))
    agent = make_agent(tools=[{"type": "Prometheus", "config": {"max_series": 5}}])
    box = Toolbox(agent, AgentScope(flow="f", namespace="cache"))
    try:
        assert {s.name for s in box.specs()} == {QUERY, QUERY_RANGE}
        got = box.call(QUERY, {"query": 'up{job="kube-sandbox"} or vector(1)'})
        assert got.ok and box.tool_calls[-1] is got
    finally:
        box.close()


def test_agent_yaml_validates_the_tool():
    assert make_agent(tools=[{"type": "Prometheus"}]).spec.tools[0].config.connection_id == "prometheus_default"
    with pytest.raises(ValidationError, match="max_points"):
        make_agent(tools=[{"type": "Prometheus", "config": {"max_points": 50000}}])
    with pytest.raises(ValidationError, match="url"):
        make_agent(tools=[{"type": "Prometheus", "config": {"url": "http://x"}}])
