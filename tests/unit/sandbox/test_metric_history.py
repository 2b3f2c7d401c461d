"""Scenario histories: promtool's series notation, the OpenMetrics text the backfill writes, and the exporter's
exposition of the simulated cluster."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from aof_lab.monitoring.history import openmetrics
from aof_lab.sandbox.kube import KubeAPI
from aof_lab.sandbox.kube_metrics import cluster_samples, exposition
from aof_lab.sandbox.scenario import load_scenario
from aof_lab.sandbox.scenario_history import MetricHistory, expand


def test_expand_follows_promtool_notation():
    assert expand("1+1x3 _ 5x2") == [1, 2, 3, 4, None, 5, 5, 5]
    assert expand("10-2x2") == [10, 8, 6]
    assert expand("1Mi 0.5") == [1048576, 0.5]
    with pytest.raises(ValueError, match="ramp"):
        expand("1+x3")


def test_a_bad_history_is_refused_with_what_is_wrong():
    with pytest.raises(ValidationError, match="metric name"):
        MetricHistory.model_validate({"series": [{"metric": "bad-name", "values": "1"}]})
    with pytest.raises(ValidationError, match="label name"):
        MetricHistory.model_validate({"series": [{"metric": "m", "labels": {"__name__": "x"}, "values": "1"}]})


def test_history_ends_now_and_is_grouped_by_family():
    sc = load_scenario("metrics-memory-leak")
    text = openmetrics([sc], end=1_000_000.0)
    assert text.endswith("# EOF\n")
    assert text.count("# TYPE container_memory_working_set_bytes gauge") == 1
    assert "# TYPE kube_pod_container_status_restarts counter" in text  # OpenMetrics: family without _total
    last = [ln for ln in text.splitlines() if ln.startswith("container_memory_working_set_bytes")][360]
    assert last.endswith(" 1000000.000")


def test_pairs_share_their_kubectl_picture():
    for a, b in (("metrics-memory-leak", "metrics-memory-limit-too-low"), ("metrics-cpu-load-surge", "metrics-cpu-hot-loop")):
        sa, sb = load_scenario(a), load_scenario(b)
        assert sa.objects == sb.objects and sa.metrics == sb.metrics
        assert sa.history != sb.history and sa.expect.actions != sb.expect.actions


def test_exposition_uses_cadvisor_and_kube_state_metrics_names():
    with KubeAPI(["metrics-memory-leak", "rules-crashloop-bad-release"]) as kube:
        samples = list(cluster_samples(kube.sim, now=2_000_000_000.0))
        text = exposition(samples)
    names = {n for n, _, _ in samples}
    assert {"container_memory_working_set_bytes", "kube_pod_container_resource_limits", "kube_pod_owner",
            "kube_replicaset_owner", "kube_deployment_status_replicas_available",
            "kube_pod_container_status_waiting_reason", "kube_pod_container_status_restarts_total"} <= names
    waiting = [lab for n, lab, _ in samples if n == "kube_pod_container_status_waiting_reason"]
    assert {lab["reason"] for lab in waiting} == {"CrashLoopBackOff"}
    assert 'job="kube-state-metrics"' in text and 'job="kubelet"' in text
