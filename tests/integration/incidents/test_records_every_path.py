"""An incident record for every path a run can take (succeeded, escalated, skipped at approval, failed in a
node), written by our listener when real Airflow finishes the run (`dag.test`: DagRun.update_state fires the
plugin's listeners as the scheduler does), each complete -- and `collect()` rebuilds the same record."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

DAG_ID = "incident-auto-response-test"
PAYLOAD = {"event": {"incident": {
    "id": "TEST001", "title": "High memory usage on api-deployment", "service": {"name": "API Service"},
    "urgency": "high", "html_url": "https://yourcompany.pagerduty.com/incidents/TEST001",
    "custom_details": {"namespace": "production", "resource": "deployment/api"}}}}
ACTION = {
    "node": "remediate", "command": "kubectl rollout restart deployment/api -n production",
    "dry_run": "deployment.apps/api restarted (server dry run)",
    "snapshot": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\n",
    "result": "deployment.apps/api restarted", "ok": True, "shadow": False}


def payload(iid: str, **extra) -> dict:
    p = copy.deepcopy(PAYLOAD)
    p["event"]["incident"]["id"] = iid
    p.update(extra)
    return p


RUNS = [
    {"name": "ok", "conf": payload("INC-OK")},
    {"name": "esc", "conf": payload("INC-ESC", scenario="escalate")},
    {"name": "skip", "conf": payload("INC-SKIP", critical=True, reaction="x")},
    {"name": "fail", "conf": payload("INC-FAIL", scenario="fail")},
    {"name": "approved", "conf": payload("INC-APPR", critical=True, reaction="white_check_mark")},
]


@pytest.fixture(scope="module")
def home(airflow_home):
    return airflow_home([Path(__file__).parent / "dags" / "seed_shaped.py"])


@pytest.fixture(scope="module")
def runs(home):
    out = home.run(DAG_ID, RUNS, extra_env={"AOF_TEST_SCHEDULER_GUARD": "1"})
    assert out["import_errors"] == {}
    out["runs"]["approved"]["guarded"] = out["guarded"]
    return out["runs"]


def _common(r: dict, iid: str) -> None:
    assert r["incident_id"] == iid
    assert r["title"] == "High memory usage on api-deployment"
    assert r["service"] == "API Service" and r["urgency"] == "high"
    assert r["url"] == "https://yourcompany.pagerduty.com/incidents/TEST001"
    assert r["namespace"] == "production" and r["resource"] == "deployment/api"
    assert r["started_at"] and r["ended_at"] and r["duration_seconds"] > 0
    assert r["recorded_at"]
    assert r["usage"]["input_tokens"] >= 1200 and r["usage"]["calls"] >= 1
    nodes = {n["node"]: n for n in r["nodes"]}
    assert len(nodes) == 14
    assert nodes["parse-alert"]["state"] == "success" and nodes["parse-alert"]["duration_seconds"] >= 0
    assert nodes["parse-alert"]["start"] and nodes["parse-alert"]["end"]
    assert nodes["diagnose"]["model"] == "anthropic:claude-3-5-sonnet-20241022"


def test_record_written_for_every_run_and_rebuilt_identically(runs):
    for name, run in runs.items():
        assert run["record"] is not None, f"no record for {name}"
        rec, again = dict(run["record"]), dict(run["rebuilt"])
        rec.pop("recorded_at"), again.pop("recorded_at")
        assert rec == again, name


def test_success_record(runs):
    run = runs["ok"]
    r = run["record"]
    assert run["state"] == "success"
    _common(r, "INC-OK")
    assert r["result"] == "auto_resolved" and r["run_state"] == "success"
    assert r["severity"] == "high" and r["root_cause"] == "memory leak in api pods"
    assert r["recommended_action"] == "kubectl rollout restart deployment/api -n production"
    assert r["approval"]["outcome"] == "auto" and r["approval"]["by"] == "auto-approve"
    assert not r["escalated"] and r["escalation"] is None and r["failed_node"] is None
    assert r["actions"] == [ACTION]
    assert r["remediation"]["result"] == "success"
    assert r["usage"] == {"input_tokens": 1200 + 800 + 500, "output_tokens": 300 + 200 + 100, "calls": 3}
    assert r["models"] == {"diagnose": "anthropic:claude-3-5-sonnet-20241022", "remediate": "openai:gpt-4",
                           "verify-fix": "anthropic:claude-3-5-sonnet-20241022"}
    states = {n["node"]: n["state"] for n in r["nodes"]}
    assert states["escalate"] == "skipped" and states["log-incident"] == "success"


def test_escalated_record(runs):
    r = runs["esc"]["record"]
    _common(r, "INC-ESC")
    # every task succeeded, but the incident needs a human: the listener fails the run, on purpose
    assert runs["esc"]["state"] == "failed" and r["run_state"] == "failed"
    assert r["result"] == "escalated" and r["escalated"]
    assert runs["esc"]["note"].startswith("**aof: ESCALATED to on-call: needs a human**")
    assert runs["esc"]["rebuilt"]["result"] == "escalated"
    assert r["escalation"] == {"node": "escalate", "reason": "remediation result: failed",
                               "rollback": {"action_taken": "kubectl rollout undo deployment/api", "result": "success"}}
    assert r["remediation"]["result"] == "failed"
    assert r["actions"] == [ACTION]  # the change that was tried, with its dry run and snapshot


def test_skipped_at_approval_record(runs):
    r = runs["skip"]["record"]
    _common(r, "INC-SKIP")
    assert r["result"] == "skipped_at_approval" and not r["escalated"]
    assert r["severity"] == "critical"
    ap = r["approval"]
    assert ap["outcome"] == "skipped" and ap["reaction"] == "x" and ap["by"] == "U0SRELEAD"
    assert ap["node"] == "request-approval" and ap["wait_seconds"] >= 1.0
    assert r["actions"] == [] and r["remediation"] is None
    assert {n["node"]: n["state"] for n in r["nodes"]}["remediate"] == "skipped"


def test_failed_node_record(runs):
    run = runs["fail"]
    r = run["record"]
    assert run["state"] == "failed"
    _common(r, "INC-FAIL")
    assert r["result"] == "failed" and r["run_state"] == "failed"
    assert r["failed_node"] == "remediate" and r["escalated"]
    assert r["escalation"]["reason"] == "node remediate failed"
    assert r["severity"] == "high" and r["root_cause"] == "memory leak in api pods"  # known before the failure
    states = {n["node"]: n["state"] for n in r["nodes"]}
    assert states["remediate"] == "failed" and states["verify-fix"] == "upstream_failed"


def test_listener_works_under_the_schedulers_commit_guard(runs):
    """The scheduler calls listeners under `prohibit_commit`: the record must still be written, in its session."""
    run = runs["approved"]
    guarded, rec = dict(run["guarded"]), dict(run["record"])
    guarded.pop("recorded_at"), rec.pop("recorded_at")
    assert guarded == rec


def test_human_approved_record(runs):
    r = runs["approved"]["record"]
    assert r["result"] == "auto_resolved"
    assert r["approval"]["outcome"] == "approved" and r["approval"]["by"] == "U0SRELEAD"


def _aofctl(home, *args: str) -> str:
    exe = Path(sys.executable).parent / "aofctl"
    r = subprocess.run([str(exe), *args], env={**home.env, "AOF_AIRFLOW_API_URL": ""}, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout


def test_aofctl_flow_status_reads_airflow_runs_and_our_results(home, runs):
    out = json.loads(_aofctl(home, "flow", "status", DAG_ID, "--source", "db", "--json"))
    got = {r["run_id"]: r for r in out["runs"]}
    assert len(got) == 5
    for name, run in runs.items():
        row = got[run["run_id"]]
        assert row["state"] == run["state"]
        assert row["result"] == run["record"]["result"]
        assert row["incident"] == run["record"]["incident_id"]
    assert got[runs["fail"]["run_id"]]["failed"] == ["remediate"]
    table = _aofctl(home, "flow", "status", DAG_ID, "--source", "db")
    assert "INC-SKIP" in table and "skipped_at_approval" in table


def test_aofctl_flow_logs_and_metrics_over_the_real_records(home, runs):
    listing = json.loads(_aofctl(home, "flow", "logs", DAG_ID, "--incidents", "--json"))["incidents"]
    assert {r["incident_id"] for r in listing} == {"INC-OK", "INC-ESC", "INC-SKIP", "INC-FAIL", "INC-APPR"}
    m = json.loads(_aofctl(home, "flow", "metrics", DAG_ID, "--window", "1d", "--json"))
    assert m["runs"] == 5
    assert m["results"] == {"auto_resolved": 2, "escalated": 1, "failed": 1, "skipped_at_approval": 1}
    # the escalated run is a failed run: 3 of 5 completed
    assert (m["success_rate"], m["auto_resolved_rate"], m["escalation_rate"]) == (0.6, 0.4, 0.4)
    assert m["approvals"]["outcomes"] == {"approved": 1, "auto": 3, "skipped": 1}
