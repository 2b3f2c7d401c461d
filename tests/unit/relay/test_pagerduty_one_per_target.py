"""PagerDuty incidents follow the one-remediation-per-target rule as Alertmanager's signals do, with the target found
by the flow's own incident profile (its annotations, else `custom_details.namespace` / `resource`): a v3 webhook,
whose details come from PagerDuty's API, is decided when the dispatcher has them; an incident's own lifecycle
(a redelivery, a reopen) keeps working."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from aof_airflow.incidents import records, signals
from aof_airflow.relay import auth, secrets
from aof_airflow.relay.app import create_app
from aof_airflow.relay.settings import RelaySettings
from aof_airflow.spec.loader import load_paths
from aof_lab.sandbox.pagerduty import PagerDutyAPI
from tests.unit.relay.cases import tutorial, v3
from tests.unit.relay.standin import AirflowStandIn
from tests.unit.relay.test_alertmanager import alert, notification

SECRET = "pd-one-per-target-secret"
AM_TOKEN = "am-one-per-target-token-0123"
BEARER = "pd-one-per-target-bearer-0123"
FLOWS = """
apiVersion: aof.dev/v1
kind: AgentFlow
metadata: {name: pd-flow}
spec:
  trigger:
    type: PagerDuty
    config:
      path: /pagerduty
      webhook_secret: "${PD_GATE_SECRET}"
      events: [incident.triggered, incident.reopened]
      suppress_seconds: 900
  nodes: [{id: a, type: Transform, config: {script: "true"}}]
---
apiVersion: aof.dev/v1
kind: AgentFlow
metadata:
  name: mapped-flow
  annotations:  # this flow's incidents name their workload in their own words
    aof.dev/incident-namespace: "${event.incident.custom_details.ns}"
    aof.dev/incident-resource: "deployment/${event.incident.custom_details.app}"
spec:
  trigger:
    type: Webhook
    config: {path: /mapped, auth: {type: Bearer, token: "${PD_GATE_BEARER}"}}
  nodes: [{id: a, type: Transform, config: {script: "true"}}]
---
apiVersion: aof.dev/v1
kind: AgentFlow
metadata: {name: am-flow}
spec:
  trigger:
    type: Alertmanager
    config: {path: /alertmanager, auth: {type: Bearer, token: "${PD_GATE_AM_TOKEN}"}}
  nodes: [{id: a, type: Transform, config: {script: "true"}}]
"""
CART = {"namespace": "shop", "resource": "deploy/cart"}  # kubectl's short name: the same target as deployment/cart


@pytest.fixture
def client(tmp_path: Path, monkeypatch):
    for k, v in {"PD_GATE_SECRET": SECRET, "PD_GATE_AM_TOKEN": AM_TOKEN, "PD_GATE_BEARER": BEARER,
                 "AOF_DATABASE_URL": f"sqlite:///{tmp_path / 'aof.db'}"}.items():
        monkeypatch.setenv(k, v)
    secrets.clear_cache()
    d = tmp_path / "flows"
    d.mkdir()
    (d / "flows.yaml").write_text(FLOWS)
    res = load_paths([d], check_graph=False)
    assert set(res.flows) == {"pd-flow", "mapped-flow", "am-flow"}, res.problems
    with AirflowStandIn() as standin, PagerDutyAPI() as pd:
        for iid, details in (("Q1CART", CART), ("Q2OTHER", {"namespace": "shop", "resource": "deployment/web"}),
                             ("Q3CART", {"namespace": "shop", "resource": "deployment/cart"}), ("Q4CART", CART)):
            pd.add_incident(iid, f"{iid} down", "Shop", "high", details)
        settings = RelaySettings(airflow_api_url=standin.url, airflow_username="admin", airflow_password="admin",
                                 database_url=f"sqlite:///{tmp_path / 'aof.db'}", start_dispatcher=False,
                                 pagerduty_api_url=pd.base_url, pagerduty_api_key=pd.api_key)
        with TestClient(create_app(flows=res.flows, settings=settings)) as c:
            c.relay, c.standin = c.app.state.relay, standin
            yield c
    secrets.clear_cache()


def send_v3(c, iid: str, event_type: str = "incident.triggered", event_id: str | None = None):
    body = v3(iid, event_type=event_type)
    body["event"]["id"] = event_id or f"01{iid}"
    raw = json.dumps(body).encode()
    r = c.post("/pagerduty", content=raw, headers={"Content-Type": "application/json",
                                                   "X-PagerDuty-Signature": auth.sign(raw, SECRET)})
    assert r.status_code == 202, r.text
    return r.json()


def runs(c, dag_id: str) -> list[str]:
    c.relay.dispatcher.run_once()
    return sorted(run for (dag, run) in c.standin.runs if dag == dag_id)


def row(c, dag_run_id: str) -> dict:
    return next(r for r in c.relay.outbox.rows() if r["dag_run_id"] == dag_run_id)


def open_alert_run(c) -> str:
    r = c.post("/alertmanager", content=json.dumps(notification(alert("cart-7d4b9c8f6d-x2x4z"))),
               headers={"Content-Type": "application/json", "Authorization": f"Bearer {AM_TOKEN}"})
    [signal] = r.json()["signals"]
    assert signal["decision"] == "start"
    return signal["run_id"]


def test_a_v3_incident_on_a_target_with_an_open_run_attaches_once_its_details_arrive(client):
    alert_run = open_alert_run(client)
    assert send_v3(client, "Q1CART")["status"] == "accepted"  # no details yet: decided at delivery
    assert send_v3(client, "Q2OTHER")["status"] == "accepted"
    assert runs(client, "pd-flow") == ["pd-Q2OTHER"]  # another workload: its own run
    held = row(client, "pd-Q1CART")
    assert held["state"] == "held" and held["last_error"].startswith("attached") and alert_run in held["last_error"]
    assert json.loads(held["conf"])["event"]["incident"]["custom_details"] == CART  # fetched, kept
    assert [(e.kind, e.source) for e in signals.for_run("am-flow", alert_run)] == [
        ("started", "alertmanager"), ("attached", "pagerduty")]
    assert runs(client, "pd-flow") == ["pd-Q2OTHER"]  # held for good: no later pass starts it


def test_the_flows_own_profile_names_the_target(client):
    """The relay reads the flow's incident-profile annotations, not a copy of the tutorial's field names."""
    alert_run = open_alert_run(client)
    payload = tutorial("MAPPED1", custom_details={"ns": "shop", "app": "cart"})
    r = client.post("/mapped", content=json.dumps(payload),
                    headers={"Content-Type": "application/json", "Authorization": f"Bearer {BEARER}"})
    assert r.status_code == 202 and r.json()["status"] == "attached" and r.json()["dag_run_id"] == alert_run, r.text
    elsewhere = tutorial("MAPPED2", custom_details={"ns": "shop", "app": "web"})
    r = client.post("/mapped", content=json.dumps(elsewhere),
                    headers={"Content-Type": "application/json", "Authorization": f"Bearer {BEARER}"})
    assert r.json()["status"] == "accepted"
    assert runs(client, "mapped-flow") == ["pd-MAPPED2"]


def test_an_incidents_own_lifecycle_under_the_rule(client, monkeypatch):
    assert send_v3(client, "Q1CART")["status"] == "accepted"
    assert runs(client, "pd-flow") == ["pd-Q1CART"]
    assert send_v3(client, "Q1CART")["status"] == "duplicate"  # PagerDuty redelivers the occurrence
    # reopened while its run is still open: one remediation per target, it attaches to that run
    send_v3(client, "Q1CART", "incident.reopened", "01REOPEN1")
    assert runs(client, "pd-flow") == ["pd-Q1CART"]
    assert row(client, [r["dag_run_id"] for r in client.relay.outbox.rows() if "REOPEN1" in r["dag_run_id"]][0]
               )["state"] == "held"
    records.save(records.IncidentRecord(dag_id="pd-flow", run_id="pd-Q1CART", result="no_action"))
    # another incident on the same workload after a "no action" run: held back
    send_v3(client, "Q3CART")
    assert runs(client, "pd-flow") == ["pd-Q1CART"]
    assert row(client, "pd-Q3CART")["last_error"].startswith("suppressed") and "no_action" in row(
        client, "pd-Q3CART")["last_error"]
    # the incident reopened: it had resolved in between, so the hold lifts and it runs again
    send_v3(client, "Q1CART", "incident.reopened", "01REOPEN2")
    started = runs(client, "pd-flow")
    assert len(started) == 2 and any("reopened-01REOPEN2" in r for r in started), started
    assert [e.kind for e in signals.for_run("pd-flow", "pd-Q1CART")] == [
        "started", "attached", "suppressed", "suppressed", "resolved"]  # the reopen's hold, lifted
    reopened = next(r for r in started if "reopened-01REOPEN2" in r)
    assert [e.kind for e in signals.for_run("pd-flow", reopened)] == ["started"]


def test_the_hold_ends_when_the_triggers_suppress_seconds_pass(client, monkeypatch):
    send_v3(client, "Q1CART")
    runs(client, "pd-flow")
    records.save(records.IncidentRecord(dag_id="pd-flow", run_id="pd-Q1CART", result="escalated"))
    send_v3(client, "Q3CART")
    assert runs(client, "pd-flow") == ["pd-Q1CART"]
    real = signals.time.time
    monkeypatch.setattr(signals.time, "time", lambda: real() + 901)  # the trigger's suppress_seconds: 900
    send_v3(client, "Q4CART")  # a later incident on the workload
    assert runs(client, "pd-flow") == ["pd-Q1CART", "pd-Q4CART"]


def test_the_hold_ends_when_pagerduty_says_an_incident_on_the_target_resolved(client):
    send_v3(client, "Q1CART")
    runs(client, "pd-flow")
    records.save(records.IncidentRecord(dag_id="pd-flow", run_id="pd-Q1CART", result="no_action"))
    send_v3(client, "Q3CART")
    assert runs(client, "pd-flow") == ["pd-Q1CART"]  # held back
    # the trigger does not run on incident.resolved: answered "ignored", yet the hold lifts (the v3 event has no
    # details: the target comes from the incident's earlier delivery)
    assert send_v3(client, "Q1CART", "incident.resolved", "01RESOLVED")["status"] == "ignored"
    assert [e.kind for e in signals.for_run("pd-flow", "pd-Q1CART")][-1] == "resolved"
    send_v3(client, "Q4CART")
    assert runs(client, "pd-flow") == ["pd-Q1CART", "pd-Q4CART"]



def test_a_delivery_whose_target_cannot_be_settled_is_retried_not_started(client, monkeypatch):
    real = signals.admit

    def unavailable(*_a, **_k):
        raise RuntimeError("signal store unavailable")

    monkeypatch.setattr(signals, "admit", unavailable)
    send_v3(client, "Q1CART")
    assert runs(client, "pd-flow") == []
    r = row(client, "pd-Q1CART")
    assert r["state"] == "pending" and r["needs_details"] == 1 and "signal store unavailable" in r["last_error"]
    monkeypatch.setattr(signals, "admit", real)
    with client.relay.outbox.engine.begin() as c:  # due now, not after its backoff
        c.execute(text("update aof_relay_outbox set next_attempt_at = 0"))
    assert runs(client, "pd-flow") == ["pd-Q1CART"]
