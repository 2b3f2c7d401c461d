"""Records for every path a run can take, written by our listener inside real Airflow (scheduler process)."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest

from aof_airflow.incidents import records
from aof_airflow.db import ensure_tables
from tests.harness.airflow_stack import AirflowStack

pytestmark = pytest.mark.integration

DAG_ID = "incident-auto-response-test"
SEED = Path("/work/shared/seed/payloads")
PAYLOAD = {"event": {"incident": {
    "id": "TEST001", "title": "High memory usage on api-deployment", "service": {"name": "API Service"},
    "urgency": "high", "html_url": "https://yourcompany.pagerduty.com/incidents/TEST001",
    "custom_details": {"namespace": "production", "resource": "deployment/api"}}}}


def payload(iid: str, **extra) -> dict:
    p = copy.deepcopy(PAYLOAD)
    p["event"]["incident"]["id"] = iid
    p.update(extra)
    return p


@pytest.fixture(scope="module")
def stack():
    dags = Path(__file__).parent / "dags"
    with AirflowStack(dags, processes=("api-server", "scheduler", "dag-processor"),
                      keep_home=bool(os.environ.get("AOF_KEEP_HOME"))) as af:
        af.wait_for_dag(DAG_ID, timeout=120)
        runs = {
            "ok": payload("INC-OK"),
            "esc": payload("INC-ESC", scenario="escalate"),
            "skip": payload("INC-SKIP", critical=True, reaction="x"),
            "fail": payload("INC-FAIL", scenario="fail"),
            "approved": payload("INC-APPR", critical=True, reaction="white_check_mark"),
        }
        for rid, conf in runs.items():
            af.trigger(DAG_ID, conf, run_id=rid)
        for rid in runs:
            af.wait_for_run(DAG_ID, rid, timeout=240)
        yield af


def _records(af: AirflowStack) -> dict[str, records.IncidentRecord]:
    eng = ensure_tables(af.db_url)
    import time

    deadline = time.monotonic() + 30
    while True:  # the run's state is visible through the API in the same commit as our record
        got = {r.run_id: r for r in records.query(dag_id=DAG_ID, engine=eng)}
        if len(got) == 5:
            return got
        if time.monotonic() > deadline:
            lines = [ln for ln in af.log_text("scheduler").splitlines() if "aof" in ln or "Error" in ln]
            raise AssertionError(f"records: {sorted(got)}; scheduler says:\n" + "\n".join(lines[-40:]))
        time.sleep(0.5)


def _common(r: records.IncidentRecord, iid: str) -> None:
    assert r.incident_id == iid
    assert r.title == "High memory usage on api-deployment"
    assert r.service == "API Service"
    assert r.namespace == "production" and r.resource == "deployment/api"
    assert r.started_at and r.ended_at and r.duration_seconds > 0
    assert r.usage["input_tokens"] >= 1200
    nodes = {n["node"]: n for n in r.nodes}
    assert nodes["parse-alert"]["state"] == "success"
    assert nodes["parse-alert"]["duration_seconds"] >= 0
    assert nodes["diagnose"]["model"] == "anthropic:claude-3-5-sonnet-20241022"
    assert len(nodes) == 15


def test_success_record(stack):
    r = _records(stack)["ok"]
    _common(r, "INC-OK")
    assert r.result == "auto_resolved" and r.run_state == "success"
    assert r.severity == "high" and r.root_cause == "memory leak in api pods"
    assert r.approval["outcome"] == "auto" and r.approval["by"] == "auto-approve"
    assert not r.escalated and r.failed_node is None
    assert r.actions == [{
        "node": "remediate", "command": "kubectl rollout restart deployment/api -n production",
        "dry_run": "deployment.apps/api restarted (server dry run)",
        "snapshot": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\n",
        "result": "deployment.apps/api restarted", "ok": True}]
    assert r.usage == {"input_tokens": 1200 + 800 + 500, "output_tokens": 300 + 200 + 100, "calls": 3}
    assert r.models["remediate"] == "openai:gpt-4"
    assert {n["node"]: n["state"] for n in r.nodes}["escalate"] == "skipped"


def test_escalated_record(stack):
    r = _records(stack)["esc"]
    _common(r, "INC-ESC")
    assert r.result == "escalated" and r.escalated and r.run_state == "success"
    assert r.escalation["node"] == "escalate"
    assert r.escalation["rollback"] == {"action_taken": "kubectl rollout undo deployment/api", "result": "success"}
    assert r.remediation["result"] == "failed"
    assert r.actions and r.actions[0]["snapshot"].startswith("apiVersion")


def test_skipped_at_approval_record(stack):
    r = _records(stack)["skip"]
    _common(r, "INC-SKIP")
    assert r.result == "skipped_at_approval" and not r.escalated
    assert r.severity == "critical"
    assert r.approval["outcome"] == "skipped" and r.approval["reaction"] == "x"
    assert r.approval["by"] == "U0SRELEAD" and r.approval["wait_seconds"] >= 1.0
    assert r.actions == [] and r.remediation is None
    assert {n["node"]: n["state"] for n in r.nodes}["remediate"] == "skipped"


def test_failed_node_record(stack):
    r = _records(stack)["fail"]
    _common(r, "INC-FAIL")
    assert r.result == "failed" and r.run_state == "failed"
    assert r.failed_node == "remediate" and r.escalated
    assert r.severity == "high" and r.root_cause == "memory leak in api pods"  # what was known before the failure
    states = {n["node"]: n["state"] for n in r.nodes}
    assert states["remediate"] == "failed" and states["verify-fix"] == "upstream_failed"


def test_human_approved_record(stack):
    r = _records(stack)["approved"]
    assert r.result == "auto_resolved"
    assert r.approval["outcome"] == "approved" and r.approval["by"] == "U0SRELEAD"
    assert json.dumps(r.to_json())  # the whole record is JSON (the analyst reads it as such)
