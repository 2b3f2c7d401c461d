"""Slack interactivity / Events endpoint (signing secret v0) and `aofctl approve`, against a real SQLite DB."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from aof_airflow.approvals import decisions
from aof_airflow.approvals.actions import router, signature
from aof_airflow.approvals.outcome import pick_from_reactions, thread_text
from aof_airflow.cli import main as aofctl

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


@pytest.fixture
def client(dburl, monkeypatch):
    monkeypatch.setenv("AOF_SLACK_SIGNING_SECRET", SECRET)
    app = FastAPI()
    app.include_router(router)
    decisions.register_request(dag_id="d", run_id="r1", task_id="request-approval", map_index=-1, channel="C1",
                               ts="100.000001", permalink=None, deadline=datetime.now(timezone.utc) + timedelta(hours=1))
    return TestClient(app)


def signed(body: bytes, secret: str = SECRET, ts: int | None = None) -> dict:
    ts_s = str(ts if ts is not None else int(time.time()))
    return {"X-Slack-Request-Timestamp": ts_s, "X-Slack-Signature": signature(secret, ts_s, body)}


def button_body(decision: str, user: str = "U_ONCALL") -> bytes:
    payload = {"type": "block_actions", "user": {"id": user},
               "container": {"type": "message", "channel_id": "C1", "message_ts": "100.000001"},
               "actions": [{"action_id": f"aof_approval:{decision}", "value": decision}]}
    return urlencode({"payload": json.dumps(payload)}).encode()


def test_signature_matches_slacks_documented_example():
    # https://api.slack.com/authentication/verifying-requests-from-slack (documented example values)
    body = (b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
            b"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
            b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
            b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c")
    assert signature(SECRET, "1531420618", body) == \
        "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"


def test_button_click_is_recorded(client):
    body = button_body("pause")
    r = client.post("/slack/actions", content=body, headers={**signed(body),
                    "Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200 and r.json()["recorded"] == 1
    rec = decisions.decisions_for([("C1", "100.000001")])[("C1", "100.000001")]
    assert [(d["reaction"], d["user"], d["source"]) for d in rec] == [("double_vertical_bar", "U_ONCALL", "slack-button")]


@pytest.mark.parametrize("tamper", ["bad-sig", "stale", "no-headers"])
def test_unverified_requests_are_refused(client, tamper):
    body = button_body("approve")
    headers = signed(body)
    if tamper == "bad-sig":
        headers = signed(body, secret="not-the-secret")
    elif tamper == "stale":
        headers = signed(body, ts=int(time.time()) - 600)
    elif tamper == "no-headers":
        headers = {}
    r = client.post("/slack/actions", content=body, headers=headers)
    assert r.status_code == 401
    assert decisions.decisions_for([("C1", "100.000001")]) == {}


def test_events_reaction_added_and_url_verification(client):
    ch = json.dumps({"type": "url_verification", "challenge": "abc"}).encode()
    assert client.post("/slack/events", content=ch, headers=signed(ch)).json() == {"challenge": "abc"}
    for item_ts, reaction in (("100.000001", "x"), ("999.000001", "x"), ("100.000001", "eyes")):
        ev = json.dumps({"type": "event_callback", "event": {"type": "reaction_added", "user": "U_SRE_LEAD",
                         "reaction": reaction, "item": {"type": "message", "channel": "C1", "ts": item_ts}}}).encode()
        assert client.post("/slack/events", content=ev, headers=signed(ev)).status_code == 200
    rec = decisions.decisions_for([("C1", "100.000001"), ("C1", "999.000001")])
    assert list(rec) == [("C1", "100.000001")]  # not an approval message / not a decision reaction: ignored
    assert [(d["reaction"], d["source"]) for d in rec[("C1", "100.000001")]] == [("x", "slack-event")]


def test_aofctl_approve(client, capsys):
    assert aofctl(["approve", "nope", "--decision", "approve", "--user", "U1"]) == 1
    assert aofctl(["approve", "r1", "--decision", "skip", "--user", "U_ONCALL"]) == 0
    rec = decisions.decisions_for([("C1", "100.000001")])[("C1", "100.000001")]
    assert [(d["reaction"], d["user"], d["source"]) for d in rec] == [("x", "U_ONCALL", "cli")]
    decisions.record_outcome(channel="C1", ts="100.000001", outcome="skipped", reaction="x", user="U_ONCALL",
                             decided_at=datetime.now(timezone.utc))
    assert aofctl(["approve", "r1", "--decision", "approve", "--user", "U_ONCALL"]) == 1
    assert "already decided: skipped" in capsys.readouterr().err


def test_outcome_rules_and_texts():
    d, ignored = pick_from_reactions([{"name": "white_check_mark", "users": ["U_BOT", "U_X"]}],
                                     frozenset({"U_A"}), "U_BOT", "now")
    assert d is None and {(i.user, i.why) for i in ignored} == {("U_BOT", "bot"), ("U_X", "not an approver")}
    d, _ = pick_from_reactions([{"name": "white_check_mark", "users": ["U_X"]}], None, "U_BOT", "now")
    assert d and d.outcome == "approved"  # no approvers configured: anyone but the bot (warned at post time)
    assert thread_text("approved", "U1") .startswith(":white_check_mark: Approved by <@U1>")
    assert "timed out after 600s" in thread_text("timed_out", timeout_seconds=600)
    assert "NOT run" in thread_text("timed_out")
