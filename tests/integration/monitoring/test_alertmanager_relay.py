"""End to end through the real parts: the sandbox's metrics, Prometheus firing a mixin rule, Alertmanager grouping
and posting to the relay's Alertmanager path (Bearer auth), the relay starting runs through the Airflow REST API
(the stand-in: Airflow's speed is not the subject here), repeat deliveries attaching, `resolved` recorded."""

from __future__ import annotations

import pytest

from aof_airflow.incidents import signals
from aof_airflow.relay import secrets
from aof_airflow.relay.app import create_app
from aof_airflow.relay.settings import RelaySettings
from aof_airflow.spec.loader import load_paths
from aof_lab.monitoring.stack import MonitoringStack, Receiver, Timing
from aof_lab.sandbox.kube import KubeAPI
from aof_lab.sandbox.kube_metrics import KubeMetricsExporter
from tests.harness.monitoring import ServedApp, monitoring_binaries  # noqa: F401 - fixture
from tests.unit.relay.standin import AirflowStandIn
from tests.unit.relay.test_alertmanager import FLOWS, TOKEN

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def relay(tmp_path, monkeypatch):
    monkeypatch.setenv("AM_TEST_TOKEN", TOKEN)
    monkeypatch.setenv("AOF_DATABASE_URL", f"sqlite:///{tmp_path / 'aof.db'}")
    secrets.clear_cache()
    d = tmp_path / "flows"
    d.mkdir()
    (d / "am.yaml").write_text(FLOWS)
    flows = load_paths([d], check_graph=False).flows
    with AirflowStandIn() as standin:
        settings = RelaySettings(airflow_api_url=standin.url, airflow_username="admin", airflow_password="admin",
                                 database_url=f"sqlite:///{tmp_path / 'aof.db'}", dispatch_poll_seconds=0.2)
        with ServedApp(create_app(flows=flows, settings=settings)) as served:
            served.standin = standin
            yield served
    secrets.clear_cache()


def test_prometheus_fires_alertmanager_groups_the_relay_starts_one_run_and_records_resolved(
        monitoring_binaries, relay):
    with KubeAPI(["metrics-memory-leak"]) as kube, KubeMetricsExporter(kube.sim) as exporter, \
            MonitoringStack(monitoring_binaries, f"127.0.0.1:{exporter.port}",
                            Receiver(relay.url + "/alertmanager", bearer=TOKEN), scenarios=kube.scenarios.values(),
                            timing=Timing(group_interval="1s", repeat_interval="2s")) as stack:
        runs = stack.wait_for("a run started by the alert", lambda: relay.standin.runs_snapshot(), timeout=60)
        assert len(runs) == 1
        (dag_id, run_id), run = next(iter(runs.items()))
        inc = run["conf"]["event"]["incident"]
        assert dag_id == "am-flow" and inc["custom_details"]["resource"] == "deployment/session-cache"
        assert inc["custom_details"]["alertname"] == "KubeContainerMemoryNearLimit" and inc["urgency"] == "high"
        assert run["conf"]["alertmanager"]["alerts_total"] == 2  # both pods, one group, one run
        # Alertmanager repeats the group every 2 s: each delivery attaches to the open run, none starts one
        stack.wait_for("repeat deliveries attached", lambda: signals.summary(signals.for_run(dag_id, run_id))
                       .endswith("attached") and sum(e.kind == "attached" for e in signals.for_run(dag_id, run_id)) >= 2)
        assert len(relay.standin.runs_snapshot()) == 1
        # the working set falls: Prometheus resolves, Alertmanager sends `resolved`, the relay records it on the run
        with kube.store.lock:
            for (ns, _pod), usage in kube.sim.metrics.items():
                usage["session-cache"]["memory"] = "150Mi"
        stack.wait_for("resolved recorded on the run",
                       lambda: any(e.kind == "resolved" for e in signals.for_run(dag_id, run_id)), timeout=60)
        assert len(relay.standin.runs_snapshot()) == 1
