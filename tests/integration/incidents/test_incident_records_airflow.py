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


FLOW_YAML = """apiVersion: aof.dev/v1
kind: AgentFlow
metadata:
  name: incident-auto-response-test
spec:
  nodes:
    - id: diagnose
      type: Agent
      config:
        agent: incident-diagnostic
        input: "x"
"""


def _aofctl(stack, *args: str, flows: Path | None = None) -> str:
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("AOF_")}
    env.update({"AOF_AIRFLOW_API_URL": stack.base_url, "AOF_AIRFLOW_USERNAME": stack.username,
                "AOF_AIRFLOW_PASSWORD": stack.password, "AOF_DATABASE_URL": stack.db_url})
    if flows:
        env["AOF_FLOWS_FOLDER"] = str(flows)
    r = subprocess.run([str(Path(sys.executable).parent / "aofctl"), *args], env=env, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout


def test_aofctl_over_the_rest_api(stack, tmp_path):
    (tmp_path / "flow.yaml").write_text(FLOW_YAML)
    logs = _aofctl(stack, "agent", "logs", "incident-diagnostic", "--source", "api", flows=tmp_path)
    assert "==> incident-auto-response-test /" in logs and "/ diagnose [success, try 1]" in logs
    assert "memory leak in api pods" in logs  # the task's own log line ("Returned value was: ...")
    tail = _aofctl(stack, "agent", "logs", "incident-diagnostic", "--source", "api", "--tail", "2", flows=tmp_path)
    assert len([ln for ln in tail.splitlines() if not ln.startswith("==>")]) == 2
    run_logs = _aofctl(stack, "flow", "logs", DAG_ID, "--run", "fail", "--source", "api")
    assert "==> fail / remediate [failed, try 1]" in run_logs
    assert any(ln.startswith("fail remediate: ") and "kubectl: connection refused" in ln for ln in run_logs.splitlines())
    status = _aofctl(stack, "flow", "status", DAG_ID, "--source", "api")
    assert "INC-FAIL" in status and "failed" in status and "auto_resolved" in status
