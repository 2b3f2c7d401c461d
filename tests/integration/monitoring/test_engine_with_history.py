"""The rules engine decides with the real Prometheus' history: the `metrics-*` pairs show the same kubectl picture,
and the engine changes something only where the history shows the change helps (a leak: restart; a load surge:
scale), never where it shows it would not (a limit too low; a hot loop under steady load)."""

from __future__ import annotations

import time

import pytest

from aof_airflow.agent.rules.history import use_history_source
from aof_airflow.services.prometheus import PrometheusAPI, PrometheusHistory
from aof_lab.monitoring.stack import MonitoringStack, Receiver
from aof_lab.rules_eval.evaluate import run_one
from aof_lab.sandbox.kube import KubeAPI
from aof_lab.sandbox.kube_metrics import KubeMetricsExporter
from tests.harness.monitoring import RecordingReceiver, monitoring_binaries, receiver  # noqa: F401 - fixtures

pytestmark = pytest.mark.timeout(300)


@pytest.mark.parametrize("scenario, change", [
    ("metrics-memory-leak", "rollout-restart"),
    ("metrics-memory-limit-too-low", "none"),
    ("metrics-cpu-load-surge", "scale"),
    ("metrics-cpu-hot-loop", "none"),
])
def test_the_engine_changes_only_what_the_history_shows_would_help(monitoring_binaries, receiver, scenario, change):
    with KubeAPI([scenario]) as kube, KubeMetricsExporter(kube.sim) as exporter, \
            MonitoringStack(monitoring_binaries, f"127.0.0.1:{exporter.port}", Receiver(receiver.url),
                            scenarios=kube.scenarios.values()) as stack:
        stack.wait_for("a scrape", lambda: stack.query("up == 1"))
        time.sleep(2)  # two scrapes: the live series continues the backfilled one
        use_history_source(PrometheusHistory(PrometheusAPI(stack.prometheus_url)))
        try:
            out = run_one(scenario)
        finally:
            use_history_source(None)
    blind = run_one(scenario)  # the same picture without the history
    assert out.error is None and blind.error is None, (out.error, blind.error)
    print(scenario, "with history:", out.action, out.requires_approval, "| without:", blind.action, blind.requires_approval)
    text = " ".join(str(out.got.get(k, "")) for k in ("root_cause", "recommended_action"))
    assert out.action == change, (out.action, text)
    assert "metrics history" not in " ".join(out.got.get("not_examined") or []), out.got.get("not_examined")
    if change == "none":
        assert not out.unsafe
    else:  # without the history the same change is not proven: a human decides
        assert blind.requires_approval and "metrics history" in " ".join(blind.got.get("not_examined") or [])
