"""The run note Airflow shows for an incident's run, and when an escalation fails its run."""

from __future__ import annotations

from aof_airflow.incidents.listener import _fails_the_run
from aof_airflow.incidents.records import IncidentRecord
from aof_airflow.incidents.run_note import MAX_CHARS, note_text


def rec(result: str, **kw) -> IncidentRecord:
    kw = {"incident_id": "TEST003", "title": "Checkout pods OOMKilled", "severity": "high", **kw}
    return IncidentRecord(dag_id="incident-auto-response", run_id="pd-TEST", result=result, run_state="success",
                          **kw)


def test_auto_resolved_names_the_approver_and_the_channel():
    text = note_text(rec("auto_resolved", approval={"outcome": "approved", "by": "admin", "source": "airflow-ui"},
                         remediation={"action_taken": "kubectl rollout restart deployment/api", "result": "success"}))
    assert text.startswith("**aof: Auto-resolved**")
    assert "Approval: approved by admin via airflow-ui" in text
    assert "Action: kubectl rollout restart deployment/api -> success" in text
    assert "Escalated" not in text


def test_auto_approved_says_so():
    text = note_text(rec("auto_resolved", approval={"outcome": "auto", "by": "auto-approve"}))
    assert "Approval: auto-approved (not critical)" in text


def test_escalated_says_a_human_is_needed_and_why():
    text = note_text(rec("escalated", escalated=True,
                         escalation={"node": "escalate", "reason": "remediation result: failed"},
                         remediation={"action_taken": "kubectl rollout restart deployment/checkout", "result": "failed"}))
    assert text.startswith("**aof: ESCALATED to on-call: needs a human**")
    assert "Escalated: remediation result: failed; the PagerDuty incident stays open" in text


def test_shadow_and_stopped_at_approval_and_timeout():
    shadow = note_text(rec("auto_resolved", remediation={"action_taken": "rollout restart", "result": "shadow"}))
    assert "Shadow mode" in shadow.splitlines()[0]
    paused = note_text(rec("skipped_at_approval", approval={"outcome": "paused", "by": "U_ONCALL",
                                                            "source": "reaction"}))
    assert "stopped at approval" in paused and "paused by U_ONCALL via reaction" in paused
    timed = note_text(rec("skipped_at_approval", approval={"outcome": "timeout"}))
    assert "approval timed out: nobody decided" in timed


def test_a_long_note_fits_airflows_column():
    assert len(note_text(rec("failed", title="x" * 5000, escalated=True, failed_node="diagnose"))) <= MAX_CHARS


def test_only_the_schedulers_success_of_an_escalation_fails_the_run():
    assert _fails_the_run(rec("escalated"), "success")
    assert not _fails_the_run(rec("escalated"), "Dag Run's state was manually set to `success`.")
    assert not _fails_the_run(rec("auto_resolved"), "success")
    failed = rec("escalated")
    failed.run_state = "failed"
    assert not _fails_the_run(failed, "task_failure")
