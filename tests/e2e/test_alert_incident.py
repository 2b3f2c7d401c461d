"""The demo's fourth incident for real: Airflow's processes, the relay, the sandbox cluster, Debian's Prometheus and
Alertmanager. Memory grows, the mixin-shaped rule fires, Alertmanager groups both pods' alerts into one
notification, the relay starts one run of the `alert-auto-response` flow (the tutorial's flow with an Alertmanager
trigger), the repeat deliveries attach to it, the restart heals the sandbox and `resolved` reaches the run."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from aof_airflow.db import ensure_tables
from aof_airflow.incidents import records, signals
from aof_lab.local.alert_demo import FLOW, SCENARIO, AlertIncident
from aof_lab.local.demo import CREDENTIALS, DemoSystem
from aof_lab.local.timeline import Timeline
from tests.harness.monitoring import monitoring_binaries  # noqa: F401 - fixture

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]
ROOT = Path(__file__).resolve().parents[2]


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
            timeline = Timeline(demo.airflow.client, FLOW, sandbox=demo.sandbox, out=lines.append)
            ok = alerts.run(demo, timeline, lines.append, until=lambda: False, timeout=600)
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
    assert run.outcome == "auto_resolved", run
    assert len(restarts) == 1, restarts  # at most one change
    rec = records.get(FLOW, run.run_id, engine=engine)
    assert rec is not None and rec.namespace in (None, "cache")
    assert "KubeContainerMemoryNearLimit firing" in text and "run SUCCESS" in text
    shutil.rmtree(state, ignore_errors=True)
