"""Slack's Events API at the relay: app mentions / messages start flows (signature, challenge, retries, bots)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from slack_sdk.signature import SignatureVerifier

from aof_airflow.approvals import decisions
from aof_airflow.relay import secrets
from aof_airflow.relay.app import create_app
from aof_airflow.relay.outbox import PENDING
from aof_airflow.relay.slack_routes import message_text
from tests.locations import CorpusDir

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"  # Slack's documentation example secret
TRIGGER_SECRET = "a-second-app-signing-secret"
BOT = "U0BOT00001"

FLOWS = """
apiVersion: aof.dev/v1
kind: AgentFlow
metadata: {name: slack-bot}
spec:
  trigger:
    type: Slack
    config:
      events: [app_mention, message]
      channels: [C0PROD0001]
  nodes: [{id: a, type: Transform, config: {script: "true"}}]
---
apiVersion: aof.dev/v1
kind: AgentFlow
metadata: {name: deploy-flow}
spec:
  trigger:
    patterns: ["v[0-9]+"]
  nodes: [{id: a, type: Transform, config: {script: "true"}}]
---
apiVersion: aof.dev/v1
kind: Trigger
metadata: {name: slack-ops}
spec:
  type: Slack
  config:
    events: [app_mention]
    signing_secret: ${SLACK_TEST_TRIGGER_SECRET}
  commands:
    /deploy: {flow: deploy-flow, description: "Deploy"}
    /k8s: {agent: k8s-ops}
"""


@pytest.fixture
def client(tmp_path: Path, settings, monkeypatch):
    monkeypatch.setenv("AOF_SLACK_SIGNING_SECRET", SECRET)
    monkeypatch.setenv("SLACK_TEST_TRIGGER_SECRET", TRIGGER_SECRET)
    secrets.clear_cache()
    d = tmp_path / "flows"
    d.mkdir()
    (d / "slack.yaml").write_text(FLOWS)
    app = create_app(flows=d, settings=settings)
    with TestClient(app) as c:
        c.relay = app.state.relay
        yield c
    secrets.clear_cache()


def signed(body: bytes, secret: str = SECRET, ts: int | None = None, **extra: str) -> dict[str, str]:
    ts_s = str(int(time.time()) if ts is None else ts)
    sig = SignatureVerifier(secret).generate_signature(timestamp=ts_s, body=body)
    return {"X-Slack-Request-Timestamp": ts_s, "X-Slack-Signature": sig, "Content-Type": "application/json", **extra}


def envelope(event: dict, event_id: str = "Ev0001") -> dict:
    return {"token": "verification-token-unused", "team_id": "T0TEAM", "api_app_id": "A0APP", "type": "event_callback",
            "event_id": event_id, "event_time": 1764583200,
            "authorizations": [{"team_id": "T0TEAM", "user_id": BOT, "is_bot": True}], "event": event}


def mention(text: str = f"<@{BOT}> the api is down", channel: str = "C0PROD0001", ts: str = "1764583200.000100",
            kind: str = "app_mention", **over) -> dict:
    return {"type": kind, "user": "U0HUMAN001", "text": text, "ts": ts, "channel": channel,
            "event_ts": ts, **over}


def post(client, payload: dict | bytes, headers: dict | None = None, secret: str = SECRET):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return client.post("/slack/events", content=body, headers=headers or signed(body, secret))


def test_url_verification_challenge_is_answered(client):
    r = post(client, {"token": "x", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
                      "type": "url_verification"})
    assert r.status_code == 200 and r.json() == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}


def test_app_mention_starts_exactly_one_run_with_the_event_as_conf(client, standin):
    event = mention()
    r = post(client, envelope(event))
    assert r.status_code == 200, r.text
    assert r.json()["started"] == ["slack-bot"] and r.json()["dag_run_id"] == "slack-C0PROD0001-1764583200.000100"
    assert [row["state"] for row in client.relay.outbox.rows()] == [PENDING]
    assert client.relay.dispatcher.run_once() == 1
    run = standin.runs[("slack-bot", "slack-C0PROD0001-1764583200.000100")]
    assert run["conf"]["event"] == event  # the Slack event exactly as received
    assert run["conf"]["slack"] == {"event_id": "Ev0001", "team_id": "T0TEAM", "api_app_id": "A0APP",
                                    "event_time": 1764583200}
    assert "token" not in json.dumps(run["conf"])  # the envelope's verification token stays out of the run


def test_retries_and_the_twin_message_event_start_no_second_run(client, standin):
    first = post(client, envelope(mention()))
    retry = post(client, envelope(mention()), headers=None)
    body = json.dumps(envelope(mention())).encode()
    retried = client.post("/slack/events", content=body,
                          headers=signed(body, **{"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}))
    # the same post also arrives as a `message` event (another event id) when the app subscribes to both
    twin = post(client, envelope(mention(kind="message"), event_id="Ev0002"))
    assert first.json()["started"] == ["slack-bot"]
    for r in (retry, retried, twin):
        assert r.status_code == 200 and r.json()["started"] == [] and r.json()["duplicate"] == ["slack-bot"]
    assert len(client.relay.outbox.rows()) == 1
    client.relay.dispatcher.run_once()
    assert list(standin.runs) == [("slack-bot", "slack-C0PROD0001-1764583200.000100")] and standin.posts == 1


@pytest.mark.parametrize("event", [
    mention(bot_id="B0BOT0001", user=BOT),                     # a bot's message (ours)
    mention(user=BOT),                                          # our bot user, without bot_id
    mention(subtype="bot_message", bot_id="B0OTHER01"),        # another integration
    mention(kind="message", subtype="message_changed"),        # an edit
    mention(kind="message", subtype="channel_join"),
], ids=["own bot", "own user", "other bot", "edit", "join"])
def test_bot_messages_and_non_messages_start_nothing(client, event):
    r = post(client, envelope(event))
    assert r.status_code == 200 and "ignored" in r.json()
    assert client.relay.outbox.rows() == []


def test_bad_signature_stale_request_and_no_secret_are_refused(client, monkeypatch):
    body = json.dumps(envelope(mention())).encode()
    assert client.post("/slack/events", content=body, headers=signed(body, "wrong-secret")).status_code == 401
    stale = signed(body, ts=int(time.time()) - 301)
    r = client.post("/slack/events", content=body, headers=stale)
    assert r.status_code == 401 and "stale" in r.json()["detail"]
    tampered = signed(body)
    assert client.post("/slack/events", content=body.replace(b"api is down", b"api is up!"),
                       headers=tampered).status_code == 401
    assert client.post("/slack/events", content=body, headers={"Content-Type": "application/json"}).status_code == 401
    assert client.relay.outbox.rows() == []
    monkeypatch.delenv("AOF_SLACK_SIGNING_SECRET")
    monkeypatch.delenv("SLACK_TEST_TRIGGER_SECRET")
    secrets.clear_cache()
    r = client.post("/slack/events", content=body, headers=signed(body))
    assert r.status_code == 503 and client.relay.outbox.rows() == []


def test_a_trigger_documents_own_signing_secret_is_accepted(client):
    r = post(client, envelope(mention(f"<@{BOT}> /deploy api v2", channel="C0OTHER001")), secret=TRIGGER_SECRET)
    assert r.status_code == 200 and r.json()["started"] == ["deploy-flow"]


def test_trigger_document_commands_and_the_flows_patterns_route_the_message(client):
    # /deploy routes to deploy-flow, whose own `trigger.patterns` must match too; the channel is not slack-bot's
    assert post(client, envelope(mention(f"<@{BOT}> /deploy api v2", channel="C0OTHER001")))\
        .json()["started"] == ["deploy-flow"]
    assert post(client, envelope(mention(f"<@{BOT}> /deploy api", channel="C0OTHER001", ts="1.000002")))\
        .json()["ignored"] == "no flow is triggered by this message"  # the text names no version
    assert post(client, envelope(mention(f"<@{BOT}> /k8s deploy v2", channel="C0OTHER001", ts="1.000003")))\
        .json()["ignored"] == "no flow is triggered by this message"  # /k8s routes to an agent: nothing runs
    # slack-bot listens in C0PROD0001 only, and deploy-flow's command is not at the start here
    r = post(client, envelope(mention("please deploy", channel="C0PROD0001", ts="1.000004", kind="message")))
    assert r.json()["started"] == ["slack-bot"]


def test_malformed_bodies_get_a_4xx_and_store_nothing(client):
    for body in (b"{not json", b"[1,2]"):
        assert client.post("/slack/events", content=body, headers=signed(body)).status_code == 400
    bad_ts = envelope(mention(ts="$(reboot)"))
    assert post(client, bad_ts).status_code == 400
    assert client.relay.outbox.rows() == []


def test_reaction_events_still_reach_the_approvals(client, monkeypatch):
    looked_up = []
    monkeypatch.setattr(decisions, "ref_for_message", lambda ch, ts: looked_up.append((ch, ts)))
    monkeypatch.setattr(decisions, "message_ref", lambda ch, ts: None)  # nor one that was decided already
    event = {"type": "reaction_added", "user": "U0HUMAN001", "reaction": "white_check_mark",
             "item": {"type": "message", "channel": "C0PROD0001", "ts": "1764583100.000001"}}
    r = post(client, envelope(event))
    assert r.status_code == 200 and r.json()["ignored"] == "no approval waiting on this message"
    assert looked_up == [("C0PROD0001", "1764583100.000001")]


def test_the_leading_mention_is_not_part_of_the_command():
    assert message_text({"text": "<@U0BOT00001> /deploy api"}) == "/deploy api"
    assert message_text({"text": "<@U0BOT00001|aof>: deploy"}) == "deploy"
    assert message_text({"text": "deploy <@U0BOT00001>"}) == "deploy <@U0BOT00001>"


CORPUS = CorpusDir("aof-triggers")
DEPLOY_FLOW = """
apiVersion: aof.dev/v1
kind: AgentFlow
metadata: {name: deploy-flow}
spec:
  nodes: [{id: a, type: Transform, config: {script: "true"}}]
"""


def test_aofs_slack_prod_trigger_routes_by_channel_name(tmp_path, settings, monkeypatch, standin):
    """AOF's examples/triggers/slack-prod.yaml as written: channels by name (looked up with conversations.info
    through slack_sdk, against the lab's Slack Web API stand-in), `/deploy` bound to deploy-flow."""
    from aof_airflow.relay import slack_events
    from aof_lab.sandbox.slack import SlackWebAPI, channel_id_for

    api = SlackWebAPI(channels=("production", "staging")).start()
    try:
        monkeypatch.delenv("AOF_SLACK_SIGNING_SECRET", raising=False)
        monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)  # the trigger's own `${SLACK_SIGNING_SECRET}`
        monkeypatch.setenv("SLACK_BOT_TOKEN", api.token)
        monkeypatch.setenv("AOF_SLACK_API_URL", api.base_url)
        monkeypatch.setattr(slack_events, "_NAMES", {})
        secrets.clear_cache()
        d = tmp_path / "flows"
        d.mkdir()
        (d / "slack-prod.yaml").write_bytes((CORPUS / "slack-prod.yaml").read_bytes())
        (d / "deploy-flow.yaml").write_text(DEPLOY_FLOW)
        app = create_app(flows=d, settings=settings)
        with TestClient(app) as c:
            prod, staging = channel_id_for("production"), channel_id_for("staging")
            ok = post(c, envelope(mention(f"<@{BOT}> /deploy checkout v7", channel=prod)))
            assert ok.status_code == 200 and ok.json()["started"] == ["deploy-flow"], ok.text
            other = post(c, envelope(mention(f"<@{BOT}> /deploy checkout v7", channel=staging, ts="2.000001")))
            assert other.json()["ignored"] == "no flow is triggered by this message"
            agent_only = post(c, envelope(mention(f"<@{BOT}> /k8s get pods", channel=prod, ts="2.000002")))
            assert agent_only.json()["ignored"] == "no flow is triggered by this message"
            assert [r["dag_run_id"] for r in app.state.relay.outbox.rows()] == [f"slack-{prod}-1764583200.000100"]
    finally:
        api.stop()
        secrets.clear_cache()


def test_users_channels_and_patterns_filters():
    from aof_airflow.relay.slack_routes import SlackRoute, matches
    from aof_airflow.spec.loader import load_text

    text = FLOWS.replace("channels: [C0PROD0001]", "channels: [C0PROD0001]\n      users: [U0ONCALL01]\n"
                                                   "      patterns: ['(?i)restart|oom']")
    flow = next(d.model for d in load_text(text, "f.yaml").documents if d.name == "slack-bot")
    route = SlackRoute(flow, flow.spec.trigger.config)
    no_names = lambda r, c: None
    ok = mention("<@U0BOT00001> pods keep OOM-ing", user="U0ONCALL01")
    assert matches(route, ok, no_names)
    assert not matches(route, {**ok, "user": "U0SOMEONE1"}, no_names)
    assert not matches(route, {**ok, "channel": "C0OTHER001"}, no_names)
    assert not matches(route, {**ok, "text": "<@U0BOT00001> hello"}, no_names)
    assert not matches(route, {**ok, "type": "reaction_added"}, no_names)
