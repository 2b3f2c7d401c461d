"""The seed flow, AS WRITTEN, run in-process with `dag.test` against the Slack / PagerDuty stand-ins and a
scripted model (FakeLLM behind the real anthropic SDK): which tasks ran, which were skipped, and what each
stand-in received."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from aof_lab.sandbox.pagerduty import PagerDutyAPI
from tests.fakes.llm_api import FakeLLM

pytestmark = pytest.mark.integration

PAYLOAD = {
    "event": {
        "incident": {
            "id": "TEST001",
            "title": "High memory usage on api-deployment",
            "service": {"name": "API Service"},
            "urgency": "high",
            "html_url": "https://yourcompany.pagerduty.com/incidents/TEST001",
            "custom_details": {"namespace": "production", "resource": "deployment/api"},
        }
    }
}
DIAG = {"severity": "high", "root_cause": "memory leak in api pods after deploy 42",
        "affected_components": ["api-7d9f", "api"], "impact": "p99 latency x3",
        "recommended_action": "kubectl rollout restart deployment/api -n production",
        "requires_approval": False, "confidence": 0.86}
VERIFY = dict(DIAG, severity="low", root_cause="resolved: memory back to 40%", recommended_action="none")


def remediation(result: str, action: str = "kubectl rollout restart deployment/api -n production") -> dict[str, Any]:
    return {"action_taken": action, "result": result, "verification": "pods ready 3/3",
            "rollback_needed": result != "success", "logs": "deployment.apps/api restarted"}


def payload(incident_id: str, **incident: Any) -> dict[str, Any]:
    p = copy.deepcopy(PAYLOAD)
    p["event"]["incident"].update(id=incident_id, **incident)
    return p


def new_id() -> str:
    return "T" + uuid.uuid4().hex[:10].upper()


def open_incident(pagerduty: PagerDutyAPI, title: str = "High memory usage on api-deployment") -> str:
    """A new incident's id, triggered in the PagerDuty stand-in so that the flow can resolve it."""
    inc = new_id()
    pagerduty.add_incident(inc, title)
    return inc


def script_fix(llm: FakeLLM, fix: dict[str, Any], diagnosis: dict[str, Any] = DIAG) -> None:
    """The model's answers to the three agent nodes every remediating run reaches: diagnose, remediate, verify-fix."""
    llm.reply("Diagnose this incident", diagnosis)
    llm.reply("Execute the following remediation", fix)
    llm.reply("Verify the incident is resolved", VERIFY)


def states(out: dict[str, Any]) -> tuple[set[str], set[str], set[str]]:
    t = out["tasks"]
    pick = lambda s: {k for k, v in t.items() if v.endswith(s)}
    return pick("success"), pick("skipped"), pick("failed") | pick("upstream_failed")


def texts(slack: Any) -> list[str]:
    return [m["text"] for m in slack.messages("#incidents")]


def test_non_critical_auto_approves_remediates_and_resolves_pagerduty(run_flow, slack, pagerduty):
    inc = open_incident(pagerduty)
    with FakeLLM() as llm:
        script_fix(llm, remediation("success"))
        out = run_flow(payload(inc), llm.env())
        prompts = [json.dumps(r) for r in llm.requests]
    ran, skipped, failed = states(out)
    assert out["state"].endswith("success"), out["log"][-3000:]
    assert ran == {"parse-alert", "diagnose", "notify-diagnosis", "check-severity", "auto-approve", "remediate",
                   "verify-fix", "remediation-failed", "notify-success", "close-pagerduty", "log-incident"}
    assert skipped == {"request-approval", "rollback", "escalate"} and not failed
    x = out["xcom"]
    assert x["parse-alert"]["return_value"]["INCIDENT_ID"] == inc
    assert x["parse-alert"]["return_value"]["K8S_NAMESPACE"] == "production"
    assert x["check-severity"]["return_value"] == {"is_critical": False, "needs_approval": False}
    assert x["remediation-failed"]["return_value"] is False
    assert x["auto-approve"]["return_value"] == {"APPROVED": "true"}
    assert "usage" in x["diagnose"]["aof_meta"]
    # the model saw the incident as parse-alert exported it
    assert any("Namespace: production" in p and "Resource: deployment/api" in p for p in prompts)
    msgs = texts(slack)
    assert len(msgs) == 2, msgs
    assert msgs[0].startswith("🚨 *Incident Detected*") and "*Root Cause*: memory leak in api pods" in msgs[0]
    assert "✅ *Incident Auto-Resolved*" in msgs[1] and "*Resolution Time*: " in msgs[1]
    assert x["notify-success"]["return_value"]["ts"]
    puts = [r for r in pagerduty.requests if r.method == "PUT"]
    assert len(puts) == 1
    put = puts[0]
    assert put.path == f"/incidents/{inc}" and put.status == 200
    assert put.headers.get("From") == "aof-bot@example.com"
    assert put.headers.get("Authorization") == f"Token token={pagerduty.api_key}"
    assert put.body["incident"]["status"] == "resolved"
    assert pagerduty.incident(inc)["status"] == "resolved"
    record = json.loads(Path(f"/tmp/incident-{inc}.json").read_text())
    assert record["incident_id"] == inc and record["result"] == "success" and record["auto_resolved"] is True
    Path(f"/tmp/incident-{inc}.json").unlink()
    assert pagerduty.api_key not in out["log"]  # the masker hid the secret in the task logs


def test_failed_remediation_rolls_back_and_escalates_without_resolving(run_flow, slack, pagerduty):
    inc = open_incident(pagerduty)
    with FakeLLM() as llm:
        script_fix(llm, remediation("failed"))
        llm.reply("Rollback the failed remediation", remediation("success", "kubectl rollout undo deployment/api"))
        out = run_flow(payload(inc), llm.env())
    ran, skipped, failed = states(out)
    assert {"rollback", "escalate", "remediation-failed"} <= ran
    assert skipped == {"request-approval", "notify-success", "close-pagerduty", "log-incident"} and not failed
    assert out["xcom"]["remediation-failed"]["return_value"] is True
    msgs = texts(slack)
    assert len(msgs) == 2 and "🔴 *Auto-Remediation FAILED - Manual Intervention Required*" in msgs[1]
    assert "*Result*: failed" in msgs[1] and "*Rollback*: success" in msgs[1]
    assert not [r for r in pagerduty.requests if r.method == "PUT"]
    assert pagerduty.incident(inc)["status"] == "triggered"
    assert not Path(f"/tmp/incident-{inc}.json").exists()


def test_diagnose_failure_escalates_to_slack_and_leaves_incident_open(run_flow, slack, pagerduty):
    inc = open_incident(pagerduty)
    with FakeLLM() as llm:  # nothing scripted for the diagnosis: the model API answers 400
        out = run_flow(payload(inc), llm.env())
    ran, skipped, failed = states(out)
    assert out["state"].endswith("failed")
    assert ran == {"parse-alert"}
    assert out["tasks"]["diagnose"].endswith("failed")
    assert out["tasks"]["notify-diagnosis"].endswith("upstream_failed")
    msgs = texts(slack)
    assert len(msgs) == 1, msgs
    assert "AOF flow `incident-auto-response` failed at node `diagnose`" in msgs[0]
    assert f"{inc} left open" in msgs[0]
    assert not [r for r in pagerduty.requests if r.method == "PUT"]


@pytest.mark.parametrize("title", ['"; touch /tmp/pwned #', "$(touch /tmp/pwned)"])
def test_hostile_titles_stay_strings(run_flow, slack, pagerduty, title):
    pwned = Path("/tmp/pwned")
    # other suites on this machine use the same canary path: what counts is that THIS run did not touch it
    before = pwned.stat().st_mtime_ns if pwned.exists() else None
    inc = open_incident(pagerduty, title)
    with FakeLLM() as llm:
        script_fix(llm, remediation("success"))
        out = run_flow(payload(inc, title=title), llm.env())
    assert out["state"].endswith("success"), out["log"][-3000:]
    assert (pwned.stat().st_mtime_ns if pwned.exists() else None) == before
    assert out["xcom"]["parse-alert"]["return_value"]["INCIDENT_TITLE"] == title
    msgs = texts(slack)
    assert f"*Incident*: {title}" in msgs[0] and f"*Incident*: {title}" in msgs[1]
    Path(f"/tmp/incident-{inc}.json").unlink(missing_ok=True)


def test_model_answer_with_quotes_and_newlines_gives_valid_json_to_pagerduty(run_flow, slack, pagerduty):
    inc = open_incident(pagerduty)
    action = 'kubectl patch deployment/api -p \'{"spec": {"replicas": 3}}\'\nthen "restart" \\ done'
    with FakeLLM() as llm:
        script_fix(llm, remediation("success", action))
        out = run_flow(payload(inc), llm.env())
    assert out["state"].endswith("success"), out["log"][-3000:]
    put = [r for r in pagerduty.requests if r.method == "PUT"][0]
    assert put.status == 200
    assert put.body["incident"]["resolution"] == f"Auto-resolved by AOF: {action}"
    Path(f"/tmp/incident-{inc}.json").unlink(missing_ok=True)


def test_critical_waits_for_human_approval_then_remediates(run_flow, slack, pagerduty):
    """Critical diagnosis -> the approval node (the approvals package's deferrable sensor) posts, an approver
    reacts ✅ in the Slack stand-in, and the join runs remediate on the human branch."""
    import threading

    inc = open_incident(pagerduty)

    def approve() -> None:
        m = slack.wait_for_message("#incidents", lambda m: "Human Approval Required" in m["text"], timeout=300)
        slack.react("#incidents", m["ts"], "white_check_mark", user="U_ONCALL")

    with FakeLLM() as llm:
        script_fix(llm, remediation("success"), dict(DIAG, severity="critical", requires_approval=True))
        t = threading.Thread(target=approve, daemon=True)
        t.start()
        out = run_flow(payload(inc), llm.env(), extra_env={"AOF_APPROVERS": "U_ONCALL"})
    ran, skipped, failed = states(out)
    assert out["state"].endswith("success"), out["log"][-4000:]
    assert {"request-approval", "remediate", "close-pagerduty"} <= ran
    assert "auto-approve" in skipped and not failed
    assert out["xcom"]["request-approval"]["return_value"]["reaction"] == "white_check_mark"
    assert pagerduty.incident(inc)["status"] == "resolved"
    Path(f"/tmp/incident-{inc}.json").unlink(missing_ok=True)
