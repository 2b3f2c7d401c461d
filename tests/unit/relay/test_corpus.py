"""PagerDuty's and Slack's own published samples (tests/corpora/, SOURCES.md names each one's origin), each
given to the product and checked for its right answer. The last test counts them."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from fastapi.testclient import TestClient

from aof_airflow.approvals import actions
from aof_airflow.relay import auth, secrets
from aof_airflow.relay.app import create_app
from aof_airflow.relay.ingress import verify_slack
from aof_airflow.relay.run_ids import incident_run_id
from aof_airflow.relay.normalize import normalize
from aof_airflow.services import pagerduty
from aof_airflow.spec.loader import load_paths
from aof_lab.sandbox.pagerduty import PagerDutyAPI
from aof_lab.sandbox.slack import METHOD_SCOPES, SlackWebAPI

CORPORA = Path(__file__).resolve().parents[2] / "corpora"
PD, SLACK = CORPORA / "pagerduty", CORPORA / "slack"
SEEN: dict[str, int] = {}  # corpus part -> samples answered (checked by test_the_corpus_is_all_there)

FLOWS = """
apiVersion: aof.dev/v1
kind: AgentFlow
metadata: {name: pd-default}
spec:
  trigger:
    type: Webhook
    config: {path: /pd/default, auth: {type: PagerDutySignature, secret: "${CORPUS_PD_SECRETS}"}}
  nodes: [{id: a, type: Transform, config: {script: "true"}}]
---
apiVersion: aof.dev/v1
kind: AgentFlow
metadata: {name: pd-everything}
spec:
  trigger:
    type: Webhook
    config: {path: /pd/everything, auth: {type: PagerDutySignature, secret: "${CORPUS_PD_SECRETS}"},
             events: ["*"]}
  nodes: [{id: a, type: Transform, config: {script: "true"}}]
"""
SLACK_SECRET = "corpus-slack-signing-secret"


def _deliveries(name: str) -> tuple[str, list[dict]]:
    d = json.loads((PD / "signed" / name / "deliveries.json").read_text())
    return d["secret"], d["deliveries"]


@pytest.fixture
def relay(tmp_path, monkeypatch, standin):
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "corpus.yaml").write_text(FLOWS)
    loaded = load_paths([flows], check_graph=False)
    assert not loaded.problems, loaded.problems
    monkeypatch.setenv("CORPUS_PD_SECRETS", ",".join([_deliveries("aldaviva-pagerduty")[0],
                                                      _deliveries("go-pagerduty")[0], "docs-secret"]))
    monkeypatch.setenv("AOF_SLACK_SIGNING_SECRET", SLACK_SECRET)
    secrets.clear_cache()
    from aof_airflow.relay.settings import RelaySettings

    settings = RelaySettings(airflow_api_url=standin.url, airflow_username="admin", airflow_password="admin",
                             database_url=f"sqlite:///{tmp_path / 'relay.db'}", start_dispatcher=False)
    app = create_app(flows=dict(loaded.flows), settings=settings)
    with TestClient(app) as c:
        c.relay = app.state.relay
        yield c
    secrets.clear_cache()


def _post_pd(client, path: str, body: bytes, signature: str):
    return client.post(path, content=body, headers={"Content-Type": "application/json",
                                                    "X-PagerDuty-Signature": signature})


# ------------------------------------------------------------------------------ PagerDuty


@pytest.mark.parametrize("library", ["aldaviva-pagerduty", "go-pagerduty"])
def test_signed_deliveries_from_client_libraries(relay, library):
    secret, deliveries = _deliveries(library)
    for d in deliveries:
        body = (PD / "signed" / library / d["body"]).read_bytes()
        refused = d["library_answers"] in ("Forbidden", "ErrNoValidSignatures")
        assert (auth.check_signature(d["x-pagerduty-signature"], body, [secret]) is None) is not refused, d
        etype = json.loads(body)["event"]["event_type"]
        r = _post_pd(relay, "/pd/default", body, d["x-pagerduty-signature"])
        if refused:
            assert r.status_code == 403, (d, r.text)
        else:
            assert r.status_code == 202, (d, r.text)
            assert r.json()["status"] == ("accepted" if etype == "incident.triggered" else "ignored"), (d, r.text)
        SEEN["pagerduty signed deliveries"] = SEEN.get("pagerduty signed deliveries", 0) + 1
    assert relay.relay.outbox.rows(state="pending") == [] or all(
        row["event_type"] == "incident.triggered" for row in relay.relay.outbox.rows(state="pending"))


def test_the_real_trigger_delivery_becomes_the_seed_shaped_incident(relay):
    _, deliveries = _deliveries("aldaviva-pagerduty")
    body = (PD / "signed/aldaviva-pagerduty/incident.triggered.json").read_bytes()
    sig = next(d["x-pagerduty-signature"] for d in deliveries if d["body"] == "incident.triggered.json")
    assert _post_pd(relay, "/pd/default", body, sig).json()["dag_run_id"] == "pd-Q2CKYRLH85UNN4"
    (row,) = relay.relay.outbox.rows(state="pending")
    inc = json.loads(row["conf"])["event"]["incident"]
    assert (inc["id"], inc["title"], inc["service"]["name"], inc["urgency"]) == ("Q2CKYRLH85UNN4", "Test", "Webhook Tester", "low")
    assert row["needs_details"] == 1  # v3 carries no custom_details: the relay fetches them


def _sign(body: bytes) -> str:
    return auth.sign(body, "docs-secret")


def test_developer_docs_payloads(relay):
    for name, default_status, iid in [("incident.priority_updated.json", "ignored", "PGR0VU2"),
                                      ("service.updated.json", "ignored", "")]:
        body = (PD / "developer-docs" / name).read_bytes()
        r = _post_pd(relay, "/pd/default", body, _sign(body))
        assert r.status_code == 202 and r.json()["status"] == default_status, r.text
        r = _post_pd(relay, "/pd/everything", body, _sign(body))
        assert r.status_code == 202 and r.json()["status"] == ("accepted" if iid else "ignored"), r.text
        SEEN["pagerduty docs payloads"] = SEEN.get("pagerduty docs payloads", 0) + 1
    inc = normalize(json.loads((PD / "developer-docs/incident.priority_updated.json").read_text())).conf["event"]["incident"]
    assert (inc["title"], inc["service"]["name"], inc["urgency"], inc["priority"]) == (
        "A little bump in the road", "API Service", "high", "P1")


def _expected_incident(data_type: str, data: dict) -> str:
    """Where the docs put the incident of each data type."""
    if data_type == "incident":
        return data["id"]
    if data_type == "incident_role_assignment":
        return data["incident_role_assignments"][0]["incident"]["id"]
    return data["incident"]["id"] if "incident" in data else ""


def test_every_documented_event_type_with_its_documented_data_is_answered_2xx(relay):
    """PagerDuty's 30 v3 event types, each with the `event.data` the docs give for its type: all 2xx; with
    `events: ["*"]` those that name an incident start its run (sub-events through data.incident.id)."""
    table = json.loads((PD / "developer-docs/event-types.json").read_text())
    for etype, data_type in table.items():
        data = json.loads((PD / "developer-docs/data" / f"{data_type}.json").read_text())
        envelope = {"event": {"id": f"01CORPUS{etype}", "event_type": etype, "resource_type": etype.split(".")[0],
                              "occurred_at": "2026-01-01T00:00:00Z", "agent": None, "client": None, "data": data}}
        body = json.dumps(envelope).encode()
        want = _expected_incident(data_type, data)
        default = _post_pd(relay, "/pd/default", body, _sign(body))
        assert default.status_code == 202 and default.json()["status"] == (
            "accepted" if etype == "incident.triggered" else "ignored"), (etype, default.text)
        everything = _post_pd(relay, "/pd/everything", body, _sign(body))
        assert everything.status_code == 202, (etype, everything.text)
        if want:
            # the incident's first run is pd-<id>; every other event is an occurrence of its own
            assert everything.json().get("dag_run_id") == incident_run_id(want, etype, f"01CORPUS{etype}"), (
                etype, everything.text)
        else:
            assert everything.json()["status"] == "ignored" and etype.startswith("service."), (etype, everything.text)
        SEEN["pagerduty documented event types"] = SEEN.get("pagerduty documented event types", 0) + 1
    assert relay.relay.ignored  # logged and counted by event type


def test_rest_api_examples(relay):
    alerts = json.loads((PD / "api-schema/listIncidentAlerts.200.json").read_text())
    assert pagerduty.details_of(alerts) == {"customKey": "Server is on fire!", "customKey2": "Other stuff!"}
    required = json.loads((PD / "api-schema/required-headers.json").read_text())
    sent = pagerduty.prepare_headers("PUT", {"Authorization": "Token token=k"}, type("C", (), {"login": "a@b.c"})())
    assert sent["Accept"] == required["header_Accept"]["schema"]["default"] == pagerduty.ACCEPT
    assert sent["Content-Type"] in required["header_Content-Type"]["schema"]["enum"]
    assert required["from_header"]["required"] and sent["From"] == "a@b.c"
    with PagerDutyAPI() as srv:
        srv.add_incident("PT4KHLK", "The server is on fire.")
        hdrs = {"Authorization": f"Token token={srv.api_key}", "Accept": pagerduty.ACCEPT,
                "Content-Type": "application/json", "From": "a@b.c"}
        request = json.loads((PD / "api-schema/updateIncident.request.json").read_text())
        r = httpx.put(f"{srv.base_url}/incidents/PT4KHLK", json=request, headers=hdrs)
        example = json.loads((PD / "api-schema/updateIncident.200.json").read_text())
        assert r.status_code == 200 and set(example["incident"]) >= {"id", "status", "title"} <= set(r.json()["incident"])
        assert r.json()["incident"]["status"] == request["incident"]["status"]
        doc = (PD / "developer-docs/rate-limit-429.http").read_text()
        head, _, body = doc.partition("\n\n{")
        documented = dict(line.split(": ", 1) for line in doc.split("\n\n")[1].splitlines())
        srv.throttle(1, reset_seconds=int(documented["ratelimit-reset"]))
        limited = httpx.get(f"{srv.base_url}/incidents/PT4KHLK/alerts", headers=hdrs)
        assert limited.status_code == 429 and limited.json() == json.loads("{" + body)
        assert {"ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"} <= set(limited.headers)
        assert pagerduty.rate_limit_wait(429, documented) == 20.0
    SEEN["pagerduty REST API examples"] = 5


# ------------------------------------------------------------------------------ Slack


def test_slacks_signing_example_verifies_and_a_changed_byte_does_not():
    req = json.loads((SLACK / "signing-example/request.json").read_text())
    body = (SLACK / "signing-example/body.txt").read_bytes()
    headers = {"x-slack-request-timestamp": req["x-slack-request-timestamp"], "x-slack-signature": req["x-slack-signature"]}
    now = float(req["x-slack-request-timestamp"]) + 10
    assert actions.signature(req["signing_secret"], req["x-slack-request-timestamp"], body) == req["x-slack-signature"]
    verify_slack([req["signing_secret"]], headers, body, now=now)
    with pytest.raises(Exception, match="bad Slack signature"):
        verify_slack([req["signing_secret"]], headers, body + b"x", now=now)
    with pytest.raises(Exception, match="stale"):
        verify_slack([req["signing_secret"]], headers, body, now=now + 3600)
    SEEN["slack signing example"] = 1


def _slack_post(client, path: str, body: bytes, ctype: str):
    ts = str(int(time.time()))
    sig = "v0=" + hmac.new(SLACK_SECRET.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return client.post(path, content=body, headers={"Content-Type": ctype, "X-Slack-Request-Timestamp": ts,
                                                    "X-Slack-Signature": sig})


BOLT = {  # payload -> (relay path, the right answer)
    "block_actions.json": ("/slack/actions", {"ok": True, "recorded": 0}),  # not one of our approval buttons
    "interactive_message.json": ("/slack/actions", {"ok": True, "ignored": "interactive_message"}),
    "shortcut.json": ("/slack/actions", {"ok": True, "ignored": "shortcut"}),
    "message_action.json": ("/slack/actions", {"ok": True, "ignored": "message_action"}),
    "url_verification.json": ("/slack/events", {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}),
    "event_callback.app_mention.json": ("/slack/events", {"ok": True, "ignored": "no flow is triggered by this message"}),  # no Slack-triggered flow here
    "event_callback.message.json": ("/slack/events", {"ok": True, "ignored": "no flow is triggered by this message"}),
    "event_callback.message_changed.json": ("/slack/events", {"ok": True, "ignored": "not a person's new message (bot, edit or other subtype)"}),
    "event_callback.message_deleted.json": ("/slack/events", {"ok": True, "ignored": "not a person's new message (bot, edit or other subtype)"}),
    "event_callback.reaction_added.json": ("/slack/events", {"ok": True, "ignored": "not a decision reaction"}),
}


def test_bolt_python_payloads_reach_the_relays_slack_endpoints(relay):
    assert sorted(BOLT) == sorted(p.name for p in (SLACK / "bolt-python").glob("*.json"))
    for name, (path, answer) in BOLT.items():
        payload = (SLACK / "bolt-python" / name).read_text()
        if path == "/slack/actions":  # interactivity arrives form-encoded, the JSON in `payload`
            r = _slack_post(relay, path, f"payload={quote(json.dumps(json.loads(payload)))}".encode(),
                            "application/x-www-form-urlencoded")
        else:
            r = _slack_post(relay, path, payload.encode(), "application/json")
        assert r.status_code == 200 and r.json() == answer, (name, r.text)
        SEEN["slack bolt-python payloads"] = SEEN.get("slack bolt-python payloads", 0) + 1


def test_the_slack_stand_in_follows_slack_api_specs():
    """Every method the stand-in serves asks for a scope the spec names for it, and answers the errors the
    spec lists for it (bot scopes: the spec still spells chat:write as chat:write:bot)."""
    spec = json.loads((SLACK / "slack-api-specs/web-api-methods.json").read_text())
    for method, entry in spec.items():
        scopes = {s.replace("chat:write:bot", "chat:write") for s in entry["scopes"]} - {"chat:write:user", "none"}
        mine = METHOD_SCOPES.get(method)
        mine = set(mine.values()) if isinstance(mine, dict) else set(mine or ())
        assert mine <= scopes and bool(mine) == bool(scopes), (method, mine, scopes)
        SEEN["slack web api methods"] = SEEN.get("slack web api methods", 0) + 1
    with SlackWebAPI(scopes=("chat:write",)) as srv:
        from slack_sdk import WebClient
        from slack_sdk.errors import SlackApiError

        c = WebClient(token=srv.token, base_url=srv.base_url)
        for method, call in [("conversations.history", lambda: c.conversations_history(channel="#incidents")),
                             ("chat.postMessage", lambda: c.chat_postMessage(channel="#nowhere", text="x"))]:
            with pytest.raises(SlackApiError) as e:
                call()
            assert e.value.response["error"] in spec[method]["errors"], (method, e.value.response.data)


def test_the_corpus_is_all_there():
    """Runs last in this module: how many published samples got their right answer above."""
    print("\ncorpus answered:", json.dumps(SEEN, indent=1))
    assert SEEN == {"pagerduty signed deliveries": 8, "pagerduty docs payloads": 2,
                    "pagerduty documented event types": 30, "pagerduty REST API examples": 5,
                    "slack signing example": 1, "slack bolt-python payloads": 10, "slack web api methods": 12}
