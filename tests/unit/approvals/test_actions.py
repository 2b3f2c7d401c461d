"""Slack interactivity / Events endpoint: signing secret v0 verification (recording is covered on the real
stack in tests/integration/approvals, where the metadata DB and a waiting task instance exist)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient

from aof_airflow.approvals import decisions
from aof_airflow.approvals.outcome import pick_from_reactions, thread_text
from aof_airflow.relay.app import create_app
from aof_airflow.relay.settings import RelaySettings

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


@pytest.fixture
def client(monkeypatch, tmp_path):
    monkeypatch.setenv("AOF_SLACK_SIGNING_SECRET", SECRET)
    looked_up = []
    monkeypatch.setattr(decisions, "ref_for_message", lambda ch, ts: looked_up.append((ch, ts)))  # nothing waits
    monkeypatch.setattr(decisions, "message_ref", lambda ch, ts: None)  # nor was ever posted by an approval
    # the relay serves the Slack routes (its ingress verifies and caps them); no flows, no delivery
    app = create_app(flows={}, settings=RelaySettings(database_url=f"sqlite:///{tmp_path / 'relay.db'}",
                                                      start_dispatcher=False))
    with TestClient(app) as c:
        c.looked_up = looked_up
        yield c


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """Slack's v0 scheme, written out here so the relay's verifier is checked against the documentation."""
    return "v0=" + hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()


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


def test_verified_click_is_looked_up(client):
    body = button_body("pause")
    r = client.post("/slack/actions", content=body, headers={**signed(body),
                    "Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200 and r.json()["ignored"] == "no approval waiting on this message"
    assert client.looked_up == [("C1", "100.000001")]


@pytest.mark.parametrize("tamper", ["bad-sig", "stale", "no-headers", "body-changed", "ts-not-a-number"])
def test_unverified_requests_are_refused(client, tamper):
    body = button_body("approve")
    headers = signed(body)
    if tamper == "bad-sig":
        headers = signed(body, secret="not-the-secret")
    elif tamper == "stale":
        headers = signed(body, ts=int(time.time()) - 600)
    elif tamper == "no-headers":
        headers = {}
    elif tamper == "body-changed":
        body = button_body("approve", user="U_EVIL")
    elif tamper == "ts-not-a-number":
        headers = {**headers, "X-Slack-Request-Timestamp": "soon"}
    r = client.post("/slack/actions", content=body, headers=headers)
    assert r.status_code == 401
    assert client.looked_up == []


def test_no_secret_configured_refuses(client, monkeypatch):
    monkeypatch.delenv("AOF_SLACK_SIGNING_SECRET")
    body = button_body("approve")
    assert client.post("/slack/actions", content=body, headers=signed(body)).status_code == 503


def test_events_url_verification_and_non_decisions(client):
    ch = json.dumps({"type": "url_verification", "challenge": "abc"}).encode()
    assert client.post("/slack/events", content=ch, headers=signed(ch)).json() == {"challenge": "abc"}
    ev = json.dumps({"type": "event_callback", "event": {"type": "reaction_added", "user": "U_SRE_LEAD",
                     "reaction": "eyes", "item": {"type": "message", "channel": "C1", "ts": "1.0"}}}).encode()
    assert client.post("/slack/events", content=ev, headers=signed(ev)).json()["ignored"] == "not a decision reaction"
    ev = ev.replace(b'"eyes"', b'"x"')
    assert client.post("/slack/events", content=ev, headers=signed(ev)).status_code == 200
    assert client.looked_up == [("C1", "1.0")]


def test_outcome_rules_and_texts():
    d, ignored = pick_from_reactions([{"name": "white_check_mark", "users": ["U_BOT", "U_X"]}],
                                     frozenset({"U_A"}), "U_BOT", "now")
    assert d is None and {(i.user, i.why) for i in ignored} == {("U_BOT", "bot"), ("U_X", "not an approver")}
    d, _ = pick_from_reactions([{"name": "white_check_mark", "users": ["U_X"]}], None, "U_BOT", "now")
    assert d and d.outcome == "approved"  # no approvers configured: anyone but the bot (warned at post time)
    assert thread_text("approved", "U1").startswith(":white_check_mark: Approved by <@U1>")
    assert "timed out after 600s" in thread_text("timed_out", timeout_seconds=600)
    assert "NOT run" in thread_text("timed_out")


def test_a_click_on_a_decided_approval_is_answered_with_who_decided(client, monkeypatch):
    ref = decisions.TIRef("flow", "run", "request-approval")
    monkeypatch.setattr(decisions, "message_ref", lambda ch, ts: ref)
    monkeypatch.setattr(decisions, "decided", lambda run, task, dag: [
        (ref, decisions.Decided("approved", "admin", "airflow-ui", "2026-12-01T10:00:00+00:00"))])
    payload = {"type": "block_actions", "user": {"id": "U_ONCALL"},
               "container": {"type": "message", "channel_id": "C1", "message_ts": "1.2"},
               "actions": [{"action_id": "aof_approval:skip", "value": "skip"}]}
    body = urlencode({"payload": json.dumps(payload)}).encode()
    r = client.post("/slack/actions", content=body, headers={**signed(body),
                                                             "Content-Type": "application/x-www-form-urlencoded"})
    assert r.json()["ignored"] == "already decided by admin via airflow-ui at 2026-12-01T10:00:00: approved"
