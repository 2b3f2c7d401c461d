"""What an incident's run meant, as Airflow's DagRun note (Markdown, shown in the grid and the run's page).

Why the note: it is the first-class field Airflow's UI and REST API (`GET .../dagRuns/{id}` -> `note`) show
for a run, so someone looking at the grid sees "escalated to on-call" without knowing our tables. It is
written by the listener from the incident record, in the scheduler's transaction; a note a person wrote is
never replaced.
"""

from __future__ import annotations

from typing import Any

from aof_airflow.incidents.records import IncidentRecord

MAX_CHARS = 1000  # dag_run_note.content is String(1000)
HEADLINES = {
    "auto_resolved": "Auto-resolved",
    "escalated": "ESCALATED to on-call: needs a human",
    "skipped_at_approval": "Not remediated: stopped at approval",
    "failed": "FAILED: escalated to on-call",
    "timed_out": "TIMED OUT: escalated to on-call",
    "no_action": "Ended without remediation",
}


def is_shadow(rec: IncidentRecord) -> bool:
    """A remediation that only rehearsed its change (server dry runs) says so in its output."""
    rem = rec.remediation if isinstance(rec.remediation, dict) else {}
    return bool(rem.get("shadow")) or str(rem.get("result", "")).lower() == "shadow" or str(
        rem.get("mode", "")).lower() == "shadow"


def headline(rec: IncidentRecord) -> str:
    if rec.result == "auto_resolved" and is_shadow(rec):
        return "Shadow mode: change rehearsed (dry run), nothing applied"
    return HEADLINES.get(rec.result, rec.result)


def _approval(rec: IncidentRecord) -> str | None:
    ap = rec.approval or {}
    outcome = ap.get("outcome")
    if not outcome:
        return None
    if outcome == "auto":
        return "auto-approved (not critical)"
    if outcome in ("timeout", "timed_out"):
        return "approval timed out: nobody decided"
    via = f" via {ap['source']}" if ap.get("source") else ""
    return f"{outcome} by {ap.get('by') or '?'}{via}"


def note_text(rec: IncidentRecord) -> str:
    """Headline first (the grid shows the start), then incident, approval, action, escalation."""
    lines = [f"**aof: {headline(rec)}**"]
    if rec.incident_id or rec.title:
        lines.append(f"Incident {rec.incident_id or '?'}: {rec.title or ''}".rstrip())
    if rec.severity:
        lines.append(f"Severity: {rec.severity}")
    approval = _approval(rec)
    if approval:
        lines.append(f"Approval: {approval}")
    rem: dict[str, Any] = rec.remediation if isinstance(rec.remediation, dict) else {}
    if rem.get("action_taken"):
        lines.append(f"Action: {rem['action_taken']} -> {rem.get('result', '?')}")
    if rec.escalated:
        esc = rec.escalation or {}
        why = esc.get("reason") or (f"node {rec.failed_node} failed" if rec.failed_node else None)
        lines.append(f"Escalated: {why or 'yes'}; the PagerDuty incident stays open")
    text = "\n\n".join(lines)
    return text if len(text) <= MAX_CHARS else text[: MAX_CHARS - 1] + "…"
