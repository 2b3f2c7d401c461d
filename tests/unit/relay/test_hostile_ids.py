"""Hostile ids and oversized values: each accepted delivery ends as a run or as a visible failure, none lost.

Sent through the relay (tutorial Bearer path and the signed v3 path, custom details from the PagerDuty
stand-in), delivered to the Airflow stand-in, and every run id checked with Airflow's own run-id validator.
What cannot become a run is a `failed` row that the relay reports: `/readyz` degraded, the metric, and one
Slack message (strict Slack stand-in) in the flow's channel naming the incident in plain text.
Prints the counts.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from aof_airflow.relay import auth
from aof_airflow.relay.app import create_app
from aof_airflow.relay.outbox import DELIVERED, FAILED
from aof_airflow.relay.run_ids import incident_run_id, safe_part
from aof_lab.sandbox.pagerduty import PagerDutyAPI
from aof_lab.sandbox.slack import SlackWebAPI
from tests.unit.relay.cases import AUTH, HOSTILE_IDS, headers_for, tutorial, v3
from tests.unit.relay.conftest import SIGNING_SECRET

PD_KEY = "pd-hostile-ids-key"
TITLE_300K = "T" * 300 * 1024
DETAILS_512K = {"namespace": "production", "resource": "deployment/api", "log": "L" * 512 * 1024}
UNUSABLE = ["", " ", 12345, None, ["X"], "x" * 1001, "tab\there"]


def airflow_validates(run_id: str) -> bool:
    """Airflow 3.3's own check (models/dagrun.py `validate_run_id`, run on attribute set)."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.types import DagRunType

    try:
        DagRun(dag_id="d", run_id=run_id, run_type="manual")
    except ValueError:
        return False
    return DagRunType.from_run_id(run_id) == DagRunType.MANUAL and len(run_id) <= 250


@pytest.fixture
def stack(tmp_path: Path, flows, env, settings, standin, monkeypatch):
    with SlackWebAPI() as slack, PagerDutyAPI(api_key=PD_KEY, rate_limit=(100_000, 60.0)) as pd:
        monkeypatch.setenv("AIRFLOW_CONN_SLACK_DEFAULT", json.dumps(
            {"conn_type": "slack", "password": slack.token, "extra": {"base_url": slack.base_url}}))
        monkeypatch.setenv("AOF_ESCALATION_CHANNEL", "#incidents")
        s = dataclasses.replace(settings, pagerduty_api_key=PD_KEY, pagerduty_api_url=pd.base_url,
                                max_body_bytes=1024 * 1024, stuck_after_seconds=3600)
        app = create_app(flows=flows, settings=s)
        with TestClient(app) as c:
            c.relay, c.slack, c.pd = app.state.relay, slack, pd
            yield c


def _tutorial(c, body: dict):
    return c.post("/pagerduty/webhook", content=json.dumps(body), headers=headers_for(AUTH))


def _v3(c, body: dict):
    raw = json.dumps(body).encode()
    return c.post("/pagerduty/v3", content=raw, headers={"Content-Type": "application/json",
                                                         "X-PagerDuty-Signature": auth.sign(raw, SIGNING_SECRET)})


def test_every_hostile_id_and_oversized_value_ends_as_a_run_or_a_visible_failure(stack, standin):
    c = stack
    sent = []  # (what, response)
    for iid in HOSTILE_IDS:
        sent.append((f"tutorial id {iid[:20]!r}", _tutorial(c, tutorial(iid))))
        if iid.strip() not in ("", ".", ".."):
            c.pd.add_incident(iid, "hostile id", details={"namespace": "production"})
        sent.append((f"v3 id {iid[:20]!r}", _v3(c, v3(iid))))
    for bad in UNUSABLE:
        sent.append((f"tutorial unusable id {str(bad)[:20]!r}", _tutorial(c, tutorial(bad))))
        sent.append((f"v3 unusable id {str(bad)[:20]!r}", _v3(c, v3(bad))))
    sent.append(("tutorial 300 KB title", _tutorial(c, tutorial("BIGTITLE", title=TITLE_300K))))
    c.pd.add_incident("Q512DETAILS", "big details", details=DETAILS_512K)
    sent.append(("v3 512 KB custom details", _v3(c, v3("Q512DETAILS"))))
    assert all(r.status_code == 202 for _, r in sent), [(w, r.status_code, r.text[:200]) for w, r in sent
                                                        if r.status_code != 202]
    answers = {w: r.json() for w, r in sent}
    while c.relay.dispatcher.run_once():
        pass
    c.relay.dispatcher.report_if_due(force=True)

    rows = c.relay.outbox.rows()
    runs = standin.runs_snapshot()
    started = {(r["dag_id"], r["dag_run_id"]) for r in rows if r["state"] == DELIVERED}
    failed = [r for r in rows if r["state"] == FAILED]
    assert started == set(runs)  # every delivered row is a run in Airflow
    assert all(airflow_validates(run_id) for _, run_id in runs), [r for _, r in runs if not airflow_validates(r)]
    lost = [r for r in rows if r["state"] not in (DELIVERED, FAILED)]
    assert lost == []
    # each hostile id: one run per path, the id kept exactly in the conf; no dot segment reached PagerDuty
    for iid in HOSTILE_IDS:
        for dag in ("incident-auto-response", "pd-v3-flow"):
            run = runs[(dag, incident_run_id(iid, "incident.triggered", ""))]
            assert run["conf"]["event"]["incident"]["id"] == iid
            if safe_part(iid) != iid:
                assert run["conf"]["aof"]["run_id_from"]["incident_id"] == iid
    assert not [q.path for q in c.pd.requests if "/incidents/../" in q.path or q.path.rstrip("/").endswith("/incidents")
                or "/./" in q.path]
    # the oversized values: a run each, cut with their size and digest kept
    big = runs[("incident-auto-response", "pd-BIGTITLE")]["conf"]
    assert big["aof"]["truncated"]["event.incident.title"]["bytes"] == len(TITLE_300K)
    assert len(big["event"]["incident"]["title"]) < 20_000
    details = runs[("pd-v3-flow", "pd-Q512DETAILS")]["conf"]
    assert details["event"]["incident"]["custom_details"]["namespace"] == "production"
    assert details["aof"]["truncated"]["event.incident.custom_details.log"]["bytes"] == 512 * 1024
    # what could not be a run is visible: answered "failed", degraded readiness, the metric, one Slack post each
    assert len(failed) == 2 * len(UNUSABLE) == sum(1 for a in answers.values() if a["status"] == "failed")
    ready = c.get("/readyz").json()
    assert ready["ok"] and ready["status"] == "degraded"
    assert {u["id"] for u in ready["undelivered"]} == {r["id"] for r in failed}
    assert all(u["reported_in_slack"] for u in ready["undelivered"])
    metrics = c.get("/metrics").text
    assert f'aof_relay_undelivered{{state="failed"}} {float(len(failed))}' in metrics
    posts = c.slack.messages("#incidents")
    assert len(posts) == len(failed)
    for post in posts:
        plain = post["blocks"][1]["text"]
        assert plain["type"] == "plain_text" and "Incident: " in plain["text"] and "Why: not started" in plain["text"]
    c.relay.dispatcher.report_if_due(force=True)
    assert len(c.slack.messages("#incidents")) == len(failed)  # reported once
    counts = {"deliveries": len(sent), "runs": len(runs), "visible failures": len(failed), "silently lost": len(lost),
              "run ids Airflow refuses": sum(1 for _, r in runs if not airflow_validates(r))}
    print("\nhostile ids and values:", json.dumps(counts))
    assert counts["runs"] + counts["visible failures"] == counts["deliveries"]


def test_a_run_airflow_refuses_or_a_row_stuck_past_the_limit_is_reported(stack, standin):
    c = stack
    standin.fail_with = 400  # e.g. a stricter [scheduler] allowed_run_id_pattern than Airflow's default
    assert _tutorial(c, tutorial("REFUSED1")).json()["status"] == "accepted"
    c.relay.dispatcher.run_once()
    standin.fail_with = 503  # Airflow down: retried, and reported once it is stuck for too long
    assert _tutorial(c, tutorial("STUCK1")).json()["status"] == "accepted"
    c.relay.dispatcher.run_once()
    c.relay.reports.settings = dataclasses.replace(c.relay.settings, stuck_after_seconds=0.0)
    c.relay.dispatcher.report_if_due(force=True)
    ready = c.get("/readyz").json()
    states = {u["incident_id"]: u["state"] for u in ready["undelivered"]}
    assert ready["status"] == "degraded" and states == {"REFUSED1": "failed", "STUCK1": "stuck"}
    texts = [p["blocks"][1]["text"]["text"] for p in c.slack.messages("#incidents")]
    assert any("REFUSED1" in t and "400" in t for t in texts) and any("STUCK1" in t and "still retrying" in t for t in texts)
    standin.fail_with = None
    time.sleep(0.5)  # past the row's backoff (settings: at most 0.2 s)
    while c.relay.dispatcher.run_once():
        pass
    assert ("incident-auto-response", "pd-STUCK1") in standin.runs_snapshot()  # kept being retried meanwhile
