"""The `PagerDuty` trigger on the relay: v3 signature by `webhook_secret`, the `events` and `service_ids` filters.

A delivery the flow does not want gets a 2xx "ignored" (PagerDuty disables a subscription after 4xx answers)
and starts no run. AOF's own examples/triggers/pagerduty.yaml is used as written.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from aof_airflow.relay import auth, secrets
from aof_airflow.relay.app import create_app
from aof_airflow.relay.outbox import IGNORED, PENDING
from tests.unit.relay.cases import v3

CORPUS = Path(__file__).resolve().parents[2] / "corpora" / "aof-triggers"
SECRET = "pd-trigger-signing-secret"
NODES = "  nodes: [{id: a, type: Transform, config: {script: \"true\"}}]\n"
OWN = f"""apiVersion: aof.dev/v1
kind: AgentFlow
metadata: {{name: pd-flow}}
spec:
  trigger:
    type: PagerDuty
    config:
      path: /pd/own
      webhook_secret: ${{PD_TRIGGER_SECRET}}
      events: [incident.triggered, incident.escalated]
{NODES}"""
INCIDENT_FLOW = f"apiVersion: aof.dev/v1\nkind: AgentFlow\nmetadata: {{name: incident-flow}}\nspec:\n{NODES}"
HTTP_FLOW = f"""apiVersion: aof.dev/v1
kind: AgentFlow
metadata: {{name: http-flow}}
spec:
  trigger: {{type: HTTP, config: {{path: /hooks/http, auth: {{type: PagerDutySignature, secret: "${{PD_TRIGGER_SECRET}}"}}}}}}
{NODES}"""


@pytest.fixture
def client(tmp_path: Path, settings, monkeypatch):
    monkeypatch.setenv("PD_TRIGGER_SECRET", SECRET)
    monkeypatch.setenv("PAGERDUTY_WEBHOOK_TOKEN", SECRET)  # what AOF's pagerduty.yaml names its webhook_secret
    secrets.clear_cache()
    d = tmp_path / "flows"
    d.mkdir()
    (d / "own.yaml").write_text(OWN + "---\n" + INCIDENT_FLOW + "---\n" + HTTP_FLOW)
    (d / "pagerduty.yaml").write_bytes((CORPUS / "pagerduty.yaml").read_bytes())
    app = create_app(flows=d, settings=settings)
    with TestClient(app) as c:
        c.relay = app.state.relay
        yield c
    secrets.clear_cache()


def deliver(client, path: str, payload: dict, secret: str = SECRET):
    body = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json", "X-PagerDuty-Signature": auth.sign(body, secret)}
    return client.post(path, content=body, headers=headers)


def test_routes_come_from_the_flow_and_from_the_trigger_document(client):
    assert {p: r.flow.name for p, r in client.relay.flows.routes().items()} == {
        "/pd/own": "pd-flow", "/webhook/pagerduty": "incident-flow", "/hooks/http": "http-flow"}


def test_an_http_trigger_is_served_like_a_webhook(client, standin):
    r = deliver(client, "/hooks/http", v3("Q3HTTP"))
    assert r.status_code == 202 and r.json()["dag_id"] == "http-flow"
    assert deliver(client, "/hooks/http", v3("Q3ACK", event_type="incident.acknowledged")).json()["status"] == "ignored"


def test_the_events_filter_starts_wanted_event_types_and_ignores_the_rest_with_a_2xx(client, standin):
    esc = deliver(client, "/pd/own", v3("Q1ESC", event_type="incident.escalated"))
    assert esc.status_code == 202 and esc.json()["status"] == "accepted"
    for etype in ("incident.acknowledged", "incident.resolved", "incident.annotated"):
        r = deliver(client, "/pd/own", v3("Q1" + etype.split(".")[1].upper(), event_type=etype))
        assert r.status_code == 202 and r.json()["status"] == "ignored" and r.json()["event_type"] == etype
    assert [row["state"] for row in client.relay.outbox.rows()] == [PENDING, IGNORED, IGNORED, IGNORED]
    client.relay.dispatcher.run_once()
    assert list(standin.runs) == [("pd-flow", "pd-Q1ESC-escalated-01EVTQ1ESC")]  # an occurrence of its own


def test_webhook_secret_is_the_v3_signing_secret(client):
    assert deliver(client, "/pd/own", v3("Q1BAD"), secret="not-it").status_code == 403
    body = json.dumps(v3("Q1NOSIG")).encode()
    assert client.post("/pd/own", content=body, headers={"Content-Type": "application/json"}).status_code == 401
    assert client.relay.outbox.rows() == []


def test_aofs_pagerduty_trigger_document_as_written(client, standin):
    """incident.triggered -> incident-flow (only for its service_ids); incident.acknowledged routes to an agent."""
    ok = deliver(client, "/webhook/pagerduty", v3("Q2OK", service={"id": "PXXXXXX", "summary": "Platform"}))
    assert ok.status_code == 202 and ok.json()["dag_id"] == "incident-flow"
    ack = deliver(client, "/webhook/pagerduty", v3("Q2ACK", event_type="incident.acknowledged",
                                                   service={"id": "PXXXXXX", "summary": "Platform"}))
    other = deliver(client, "/webhook/pagerduty", v3("Q2OTHER", service={"id": "PZZZZZZ", "summary": "Other"}))
    assert ack.json()["status"] == "ignored" and other.json()["status"] == "ignored"
    assert ack.status_code == other.status_code == 202
    client.relay.dispatcher.run_once()
    assert list(standin.runs) == [("incident-flow", "pd-Q2OK")]


def test_route_matching_by_event_type_pattern_and_service(client):
    routes = client.relay.flows.routes()
    own, doc = routes["/pd/own"], routes["/webhook/pagerduty"]
    assert own.events == ("incident.triggered", "incident.escalated") and own.methods == ["POST"]
    assert own.starts_run("incident.escalated") and not own.starts_run("incident.escalated.extra")
    assert doc.events == ("incident.triggered",)  # the command's event type, not the config's default list
    assert doc.starts_run("incident.triggered", "PYYYYYY") and not doc.starts_run("incident.triggered", None)
