"""The daily post-incident DAG, run in-process by real Airflow (dag.test) over seeded incident records:
the analyst agent (through the runtime, against FakeLLM) gets the window's records and its Markdown report is
posted to #sre-postmortems on the Slack stand-in; an empty window posts a short line and never calls the model."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from aof_airflow.incidents.records import IncidentRecord
from aof_lab.sandbox.slack import SlackWebAPI
from tests.fakes.llm_api import FakeLLM

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
REPORT = """# Post-incident report

## Timeline
- INC-A auto-resolved by restarting deployment/api
- INC-B escalated after a failed rollout

## Recommendations
- Raise the memory limit of **api**"""


def _rec(iid: str, result: str, hours_ago: float) -> dict:
    end = datetime.now(timezone.utc) - timedelta(hours=hours_ago)
    return IncidentRecord(
        dag_id="incident-auto-response", run_id=f"run-{iid}", result=result, run_state="success",
        incident_id=iid, title=f"title of {iid}", service="API Service", severity="high",
        root_cause=f"root cause of {iid}", escalated=result == "escalated",
        actions=[{"node": "remediate", "command": "kubectl rollout restart deployment/api -n production",
                  "dry_run": "ok (dry run)", "snapshot": "x" * 5000, "result": "restarted", "ok": True}],
        started_at=end - timedelta(seconds=300), ended_at=end, duration_seconds=300.0, recorded_at=end,
    ).to_json()


@pytest.fixture(scope="module")
def home(airflow_home):
    return airflow_home([REPO / "dags" / "aof_post_incident.py"])


def _env(slack: SlackWebAPI, llm: FakeLLM) -> dict[str, str]:
    return {**llm.env(), "AIRFLOW_CONN_SLACK_DEFAULT": json.dumps(
        {"conn_type": "slack", "password": slack.token, "extra": {"base_url": slack.base_url}})}


def test_report_over_the_last_24h_is_posted(home):
    seed = [_rec("INC-A", "auto_resolved", 2), _rec("INC-B", "escalated", 5), _rec("INC-OLD", "failed", 30)]
    with SlackWebAPI() as slack, FakeLLM() as llm:
        llm.reply("Analyze all incidents from the past 24 hours", REPORT)
        out = home.run("post-incident-daily", [{"name": "daily"}], extra_env=_env(slack, llm), seed=seed)
        run = out["runs"]["daily"]
        assert out["import_errors"] == {}
        assert run["state"] == "success", out["log"][-4000:]
        assert run["tasks"] == {"collect-incidents": "success", "daily-analysis": "success",
                                "send-report": "success", "no-incidents": "skipped"}
        assert len(llm.requests) == 1
        prompt = json.dumps(llm.requests[0])
        assert "INC-A" in prompt and "INC-B" in prompt and "INC-OLD" not in prompt  # the window, only
        assert "2 incident record(s)" in prompt
        assert "more chars]" in prompt and "x" * 500 not in prompt  # snapshots cut for the prompt
        msgs = slack.messages("#sre-postmortems")
        assert len(msgs) == 1
        text = msgs[0]["text"]
        assert "Post-incident report" in text and "INC-B escalated after a failed rollout" in text
        # the model's Markdown is a value: it reaches Slack inert (README: values never make formatting)
        assert "api" in text and "*api*" not in text
    assert run["record"] is None  # the report DAG's own runs are not incidents


def test_empty_window_posts_a_line_and_never_calls_the_model(home):
    with SlackWebAPI() as slack, FakeLLM() as llm:
        llm.reply("Analyze", REPORT)
        out = home.run("post-incident-daily", [{"name": "empty"}], extra_env=_env(slack, llm),
                       seed=[_rec("INC-OLDER", "failed", 40)])
        run = out["runs"]["empty"]
        assert run["state"] == "success", out["log"][-4000:]
        assert run["tasks"] == {"collect-incidents": "success", "daily-analysis": "skipped",
                                "send-report": "skipped", "no-incidents": "success"}
        assert llm.requests == []
        msgs = slack.messages("#sre-postmortems")
        assert len(msgs) == 1 and "no incidents between" in msgs[0]["text"]
