"""What the daily post-incident report reads: the window's incident records, compacted for a prompt.

The DAG itself is assembled by the factory (`aof_airflow.factory.daily_report`); this module owns the data
side: `CollectIncidentsOperator` exports the records as flow variables, as a Transform would.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.sdk import BaseOperator, Context

from aof_airflow.incidents.records import IncidentRecord

DAG_ID = "post-incident-daily"
AGENT = "post-incident-analyzer"
CHANNEL = "#sre-postmortems"
TAG = "aof-report"  # not "aof": the incident listener ignores this DAG's runs
MAX_PROMPT_CHARS = 60_000
SNAPSHOT_CHARS = 400

PROMPT = """Analyze all incidents from the past 24 hours: /tmp/incident-*.json

Window: ${WINDOW_START} .. ${WINDOW_END} (UTC). ${INCIDENT_COUNT} incident record(s) follow, one JSON object
per run of a flow: result (auto_resolved, escalated, skipped_at_approval, failed, timed_out, no_action),
severity, root cause, actions taken with their server-side dry run and the snapshot taken before the change,
the approval and who decided, escalation, token usage and per-node timings.

${INCIDENTS_JSON}
"""

NO_INCIDENTS = "✅ *Daily post-incident report*: no incidents between ${WINDOW_START} and ${WINDOW_END} (UTC)."


def compact(rec: IncidentRecord) -> dict[str, Any]:
    """What the analyst needs of a record, small enough for a prompt (snapshots cut, timings kept)."""
    d = rec.to_json()
    for a in d.get("actions") or []:
        snap = a.get("snapshot") or ""
        if len(snap) > SNAPSHOT_CHARS:
            a["snapshot"] = snap[:SNAPSHOT_CHARS] + f"... [{len(snap) - SNAPSHOT_CHARS} more chars]"
    d["nodes"] = [{k: n.get(k) for k in ("node", "state", "duration_seconds", "try_number", "model")}
                  for n in d.get("nodes") or []]
    return d


def records_json(recs: list[IncidentRecord], limit: int = MAX_PROMPT_CHARS) -> str:
    """Oldest first (a timeline reads forward); when too long, the oldest are dropped with a visible note."""
    items = [json.dumps(compact(r), default=str, ensure_ascii=False) for r in reversed(recs)]
    dropped = 0
    while items and sum(len(i) + 1 for i in items) > limit:
        items.pop(0)
        dropped += 1
    if dropped:
        items.insert(0, json.dumps({"note": f"{dropped} older record(s) left out to fit the prompt"}))
    return "\n".join(items)


def window_end(context: Context) -> datetime:
    """The end of the day being reported: the scheduled run's data interval end, else when it was triggered."""
    for key in ("data_interval_end",):
        v = context.get(key)
        if v:
            return v.astimezone(timezone.utc)
    dr = context.get("dag_run")
    v = getattr(dr, "run_after", None) or getattr(dr, "logical_date", None)
    return v.astimezone(timezone.utc) if v else datetime.now(timezone.utc)


class CollectIncidentsOperator(BaseOperator):
    """Reads the window's records and exports them as flow variables (a Transform's output shape)."""

    ui_color = "#fff4d6"

    def __init__(self, *, hours: float = 24, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.hours = hours

    def execute(self, context: Context) -> dict[str, str]:
        # the daily report's DAG is parsed like the flows: the DB code at run time
        from aof_airflow.incidents import records

        end = window_end(context)
        start = end - timedelta(hours=self.hours)
        recs = records.query(since=start, until=end)
        self.log.info("%d incident record(s) between %s and %s", len(recs), start, end)
        return {
            "INCIDENT_COUNT": str(len(recs)),
            "HAS_INCIDENTS": "true" if recs else "false",
            "WINDOW_START": start.isoformat(timespec="seconds"),
            "WINDOW_END": end.isoformat(timespec="seconds"),
            "INCIDENTS_JSON": records_json(recs),
        }
