"""The daily post-incident DAG: the tutorial's `daily-analysis` -> `send-report`, fed from our incident records.

Why a Python DAG and not a flow YAML: the analyst must read the records of the last 24 h (every run,
not only the `/tmp/incident-*.json` files the success path writes), and an empty day must post a short
line without calling the model -- neither is expressible with the five AgentFlow node types. The two
tutorial nodes are still built from spec models and run by the factory's own operators (AgentOperator
-> agent runtime, SlackMessageOperator -> SlackHook), so templating, conditions, masking and token
accounting are exactly those of any flow.

    collect-incidents --> daily-analysis (if HAS_INCIDENTS) --> send-report
                     \\--> no-incidents   (if not)
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.sdk import BaseOperator

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


def compact(rec: Any) -> dict[str, Any]:
    """What the analyst needs of a record, small enough for a prompt (snapshots cut, timings kept)."""
    d = rec.to_json()
    for a in d.get("actions") or []:
        snap = a.get("snapshot") or ""
        if len(snap) > SNAPSHOT_CHARS:
            a["snapshot"] = snap[:SNAPSHOT_CHARS] + f"... [{len(snap) - SNAPSHOT_CHARS} more chars]"
    d["nodes"] = [{k: n.get(k) for k in ("node", "state", "duration_seconds", "try_number", "model")}
                  for n in d.get("nodes") or []]
    return d


def records_json(recs: list[Any], limit: int = MAX_PROMPT_CHARS) -> str:
    """Oldest first (a timeline reads forward); when too long, the oldest are dropped with a visible note."""
    items = [json.dumps(compact(r), default=str, ensure_ascii=False) for r in reversed(recs)]
    dropped = 0
    while items and sum(len(i) + 1 for i in items) > limit:
        items.pop(0)
        dropped += 1
    if dropped:
        items.insert(0, json.dumps({"note": f"{dropped} older record(s) left out to fit the prompt"}))
    return "\n".join(items)


def window_end(context: Any) -> datetime:
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

    def execute(self, context: Any) -> dict[str, str]:
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


def load_agent(name: str = AGENT) -> Any:
    from aof_airflow.config import agents_folder
    from aof_airflow.spec.loader import load_paths

    loaded = load_paths([agents_folder()], check_graph=False)
    agent = loaded.agents.get(name)
    if agent is None:
        raise LookupError(f"{DAG_ID}: no Agent named {name!r} in {agents_folder()} "
                          f"(found: {', '.join(sorted(loaded.agents)) or 'none'})")
    return agent


def build_daily_dag(*, agent: Any = None, channel: str = CHANNEL, schedule: str | None = "@daily",
                    hours: float = 24, dag_id: str = DAG_ID) -> Any:
    from airflow.sdk import DAG

    from aof_airflow.operators.agent import AgentOperator
    from aof_airflow.operators.slack import SlackMessageOperator
    from aof_airflow.spec.models import AgentNode, SlackNode

    agent = agent or load_agent()
    gate = lambda when: [{"from": "collect-incidents", "when": when}]  # noqa: E731
    analysis = AgentNode.model_validate({"id": "daily-analysis", "type": "Agent", "conditions": gate("HAS_INCIDENTS == true"),
                                         "config": {"agent": agent.name, "input": PROMPT}})
    send = SlackNode.model_validate({"id": "send-report", "type": "Slack",
                                     "config": {"channel": channel, "message": "${daily-analysis.output}"}})
    empty = SlackNode.model_validate({"id": "no-incidents", "type": "Slack", "conditions": gate("HAS_INCIDENTS == false"),
                                      "config": {"channel": channel, "message": NO_INCIDENTS}})
    with DAG(
        dag_id=dag_id,
        schedule=schedule,
        start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
        catchup=False,
        max_active_runs=1,
        tags=[TAG],
        description="Daily post-incident analysis of the last 24 h of incident records, posted to Slack",
        doc_md=__doc__,
    ) as dag:
        collect = CollectIncidentsOperator(task_id="collect-incidents", hours=hours)
        common = dict(flow_name=dag_id, transforms=["collect-incidents"])
        run = AgentOperator(task_id="daily-analysis", node=analysis, agent=agent, ancestors=["collect-incidents"], **common)
        post = SlackMessageOperator(task_id="send-report", node=send, ancestors=["collect-incidents", "daily-analysis"],
                                    **common)
        none = SlackMessageOperator(task_id="no-incidents", node=empty, ancestors=["collect-incidents"], **common)
        collect >> run >> post
        collect >> none
    return dag
