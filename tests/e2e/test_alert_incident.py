"""The demo's fourth incident for real: Airflow's processes, the relay, the sandbox cluster, Debian's Prometheus and
Alertmanager. Memory grows, the mixin-shaped rule fires, Alertmanager groups both pods' alerts into one
notification, the relay starts one run of the `alert-auto-response` flow (the tutorial's flow with an Alertmanager
trigger), the repeat deliveries attach to it, the restart heals the sandbox and `resolved` reaches the run.

An alert storm on top: while that run is open, twenty more alerts for the same Deployment (one per pod, as a bad
rollout makes them, each its own notification) arrive within seconds; they attach to the run with its outcome:
one diagnosis, one change in the sandbox cluster."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import httpx
import pytest

from aof_airflow.db import ensure_tables
from aof_airflow.incidents import records, signals
from aof_lab.local.alert_demo import FLOW, SCENARIO, AlertIncident
from aof_lab.local.demo import CREDENTIALS, DemoSystem
from aof_lab.local.timeline import Timeline
from tests.harness.monitoring import monitoring_binaries  # noqa: F401 - fixture

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]
ROOT = Path(__file__).resolve().parents[2]


STORM = 20


def alert_storm(demo: DemoSystem, alerts: AlertIncident) -> None:
    """Once the leak's run is open: twenty notifications for other pods of the same Deployment, within seconds."""
    engine = ensure_tables(demo.airflow.db_url)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:  # the relay writes these tables too: a locked SQLite read is asked again, not the end of the storm
            if any(r.target == "cache/deployment/session-cache" for r in signals.recent_runs(FLOW, engine=engine)):
                break
        except Exception:
            pass
        time.sleep(0.5)
    for i in range(STORM):
        pod = f"session-cache-7d4b9c8f6d-{'bcdfghjklmnpqrstvwxz'[i]}x2z4"
        labels = {"alertname": "KubePodCrashLooping", "namespace": "cache", "pod": pod, "severity": "warning",
                  "workload": "session-cache", "workload_type": "deployment"}
        body = {"version": "4", "groupKey": f'{{}}:{{pod="{pod}"}}', "status": "firing", "receiver": "aof",
                "groupLabels": {}, "commonLabels": labels, "commonAnnotations": {}, "externalURL": "",
                "truncatedAlerts": 0, "alerts": [{"status": "firing", "labels": labels, "annotations": {},
                                                  "startsAt": "2026-12-07T00:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
                                                  "generatorURL": "", "fingerprint": f"{i:016x}"}]}
        httpx.post(f"{demo.relay_url}/alertmanager", json=body, timeout=10,
                   headers={"Authorization": f"Bearer {alerts.token}"})


def test_an_incident_that_begins_as_a_metric(monitoring_binaries, capsys):
    state = Path(tempfile.mkdtemp(prefix="aof-e2e-alerts-"))
    environ = {k: v for k, v in os.environ.items() if k not in {n for names in CREDENTIALS.values() for n in names}}
    lines: list[str] = []
    alerts = AlertIncident.prepare(state, ROOT / "dags", lines.append)
    assert alerts is not None, lines
    demo = DemoSystem(state, alerts.dags, port=0, relay_port=0, environ=environ, extra_scenarios=(SCENARIO,),
                      extra_env={"AOF_RULES_VERIFY_WINDOW": "10", **alerts.env()})
    ok = False
    try:
        with demo:
            alerts.start(demo)
            storm = threading.Thread(target=alert_storm, args=(demo, alerts), daemon=True)
            storm.start()
            timeline = Timeline(demo.airflow.client, FLOW, sandbox=demo.sandbox, out=lines.append)
            ok = alerts.run(demo, timeline, lines.append, until=lambda: False, timeout=600)
            storm.join(timeout=120)
            assert not storm.is_alive(), "the storm was never sent"
            engine = ensure_tables(demo.airflow.db_url)
            runs = [r for r in signals.recent_runs(FLOW, engine=engine) if r.target == "cache/deployment/session-cache"]
            restarts = [a for a in demo.sandbox.kube.actions if a.scenario == SCENARIO]
    finally:
        alerts.stop()
    text = "\n".join(lines)
    assert ok, text
    assert len(runs) == 1, text  # one run for the group of two pods' alerts
    run = runs[0]
    assert run.counts.get("started") == 1 and run.counts.get("resolved", 0) >= 1, run
    assert run.counts.get("attached", 0) >= STORM, run  # the storm (and Alertmanager's repeats) attached
    assert run.outcome == "auto_resolved", run
    assert len(restarts) == 1, restarts  # at most one change
    rec = records.get(FLOW, run.run_id, engine=engine)
    assert rec is not None and rec.namespace in (None, "cache")
    assert "KubeContainerMemoryNearLimit firing" in text and "run SUCCESS" in text
    shutil.rmtree(state, ignore_errors=True)
