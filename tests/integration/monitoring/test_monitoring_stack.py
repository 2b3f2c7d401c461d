"""The real Prometheus and Alertmanager against the sandbox: its metrics scraped under cAdvisor / kube-state-metrics
names, a scenario's history backfilled into the TSDB, mixin-shaped rules firing, Alertmanager delivering version-4
payloads with the receiver's auth, and `resolved` once the cluster recovers."""

from __future__ import annotations

import base64

import pytest

from aof_lab.monitoring.stack import MonitoringStack, Receiver
from aof_lab.sandbox.kube import KubeAPI
from aof_lab.sandbox.kube_metrics import KubeMetricsExporter
from tests.harness.monitoring import RecordingReceiver, monitoring_binaries, receiver  # noqa: F401 - fixtures

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def cluster():
    with KubeAPI(["metrics-memory-leak", "rules-crashloop-bad-release"]) as kube, \
            KubeMetricsExporter(kube.sim) as exporter:
        yield kube, exporter


def test_history_and_live_metrics_and_alerts_reach_the_receiver(monitoring_binaries, cluster, receiver):
    kube, exporter = cluster
    with MonitoringStack(monitoring_binaries, f"127.0.0.1:{exporter.port}", Receiver(receiver.url + "/am", bearer="s3cret"),
                         scenarios=kube.scenarios.values()) as stack:
        assert stack.backfilled > 0
        # the history: six hours of a leak, from ~150Mi, written by promtool before Prometheus started
        low = stack.query('min(min_over_time(container_memory_working_set_bytes{namespace="cache"}[7h]))')
        assert 140 * 2**20 < float(low[0]["value"][1]) < 170 * 2**20
        # the live scrape: kube-state-metrics names, with the limit the Deployment sets
        limit = stack.wait_for("the scraped memory limit", lambda: stack.query(
            'kube_pod_container_resource_limits{namespace="cache", resource="memory", job="kube-state-metrics"}'))
        assert {float(s["value"][1]) for s in limit} == {512 * 2**20}
        owner = stack.wait_for("the workload mapping", lambda: stack.query(
            'namespace_workload_pod:kube_pod_owner:relabel{namespace="shop"}'))
        assert {s["metric"]["workload"] for s in owner} == {"cart"}

        near = stack.wait_for("KubeContainerMemoryNearLimit delivered", lambda: receiver.alerts("KubeContainerMemoryNearLimit"))
        crash = stack.wait_for("KubePodCrashLooping delivered", lambda: receiver.alerts("KubePodCrashLooping"))
        assert {a["labels"]["workload"] for a in near} == {"session-cache"}
        assert crash[0]["labels"]["workload"] == "cart" and crash[0]["labels"]["namespace"] == "shop"
        auth, body = receiver.deliveries[0]
        assert auth == "Bearer s3cret"
        assert body["version"] == "4" and body["groupKey"] and body["status"] == "firing"
        assert set(body["alerts"][0]) >= {"status", "labels", "annotations", "startsAt", "endsAt", "fingerprint"}

        # the working set drops (as after a restart): the alert resolves and Alertmanager says so
        with kube.store.lock:
            for (ns, _pod), usage in kube.sim.metrics.items():
                if ns == "cache":
                    usage["session-cache"]["memory"] = "160Mi"
        resolved = stack.wait_for("the resolved notification",
                                  lambda: receiver.alerts("KubeContainerMemoryNearLimit", "resolved"), timeout=60)
        assert resolved[0]["endsAt"] > resolved[0]["startsAt"]


def test_basic_auth_receiver(monitoring_binaries, cluster, receiver):
    kube, exporter = cluster
    with MonitoringStack(monitoring_binaries, f"127.0.0.1:{exporter.port}",
                         Receiver(receiver.url + "/am", basic=("alertmanager", "pw")), scenarios=()) as stack:
        stack.wait_for("a delivery", lambda: receiver.deliveries)
    assert receiver.deliveries[0][0] == "Basic " + base64.b64encode(b"alertmanager:pw").decode()


def test_stack_cleans_up(monitoring_binaries, cluster, receiver):
    kube, exporter = cluster
    stack = MonitoringStack(monitoring_binaries, f"127.0.0.1:{exporter.port}", Receiver(receiver.url), scenarios=())
    stack.start()
    pids = [stack.procs.pid(n) for n in stack.procs.names()]
    stack.stop()
    import os
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert not stack.dir.exists()
