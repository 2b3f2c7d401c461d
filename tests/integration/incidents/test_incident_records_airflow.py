"""The listener inside the real scheduler process: a run that succeeds and one that fails in a node both get
their record, written by the scheduler (SQLite metadata DB, LocalExecutor, api-server, dag-processor)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from aof_airflow.db import ensure_tables
from aof_airflow.incidents import records
from tests.harness.airflow_stack import AirflowStack
from tests.integration.incidents.test_records_every_path import payload

pytestmark = pytest.mark.integration

DAG_ID = "incident-auto-response-test"


@pytest.fixture(scope="module")
def stack():
    dags = Path(__file__).parent / "dags"
    with AirflowStack(dags, processes=("api-server", "scheduler", "dag-processor"), startup_timeout=600,
                      keep_home=bool(os.environ.get("AOF_KEEP_HOME"))) as af:
        af.wait_for_dag(DAG_ID, timeout=600)
        af.trigger(DAG_ID, payload("INC-OK"), run_id="ok")
        af.trigger(DAG_ID, payload("INC-FAIL", scenario="fail"), run_id="fail")
        assert af.wait_for_run(DAG_ID, "ok", timeout=900) == "success"
        assert af.wait_for_run(DAG_ID, "fail", timeout=900) == "failed"
        yield af


def test_scheduler_writes_a_record_for_each_finished_run(stack):
    eng = ensure_tables(stack.db_url)
    deadline = time.monotonic() + 60
    got: dict = {}
    while time.monotonic() < deadline and len(got) < 2:
        got = {r.run_id: r for r in records.query(dag_id=DAG_ID, engine=eng)}
        time.sleep(0.5)
    lines = [ln for ln in stack.log_text("scheduler").splitlines() if "aof" in ln and "aof-airflow" not in ln]
    assert set(got) == {"ok", "fail"}, "\n".join(lines[-30:])
    assert not [ln for ln in lines if "could not write" in ln]
    ok, fail = got["ok"], got["fail"]
    assert ok.result == "auto_resolved" and ok.incident_id == "INC-OK" and ok.ended_at is not None
    assert ok.actions and ok.actions[0]["snapshot"].startswith("apiVersion")
    assert fail.result == "failed" and fail.failed_node == "remediate" and fail.run_state == "failed"
    assert fail.severity == "high" and fail.duration_seconds and fail.duration_seconds > 0
    assert any("aof: incident record incident-auto-response-test/fail -> failed" in ln for ln in lines)
