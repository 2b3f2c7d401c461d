"""An Alertmanager receiver declared by a `kind: Trigger` document, bound to a flow with a Manual trigger: the relay
serves its path with its auth (Basic with the password in an Airflow Connection; Bearer from the environment), and
its signals follow the same rules as a flow's own Alertmanager trigger (start, attach, resolve)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from aof_airflow.relay import secrets
from aof_airflow.relay.app import create_app
from aof_airflow.relay.settings import RelaySettings
from tests.unit.relay.standin import AirflowStandIn
from tests.unit.relay.test_alertmanager import alert, notification

PASSWORD = "am-basic-password-0123456789"
TOKEN = "am-bearer-token-0123456789"
FLOWS = """
apiVersion: aof.dev/v1
kind: AgentFlow
metadata: {name: shop-alerts}
spec:
  nodes: [{id: a, type: Transform, config: {script: "true"}}]
---
apiVersion: aof.dev/v1
kind: AgentFlow
metadata: {name: infra-alerts}
spec:
  nodes: [{id: a, type: Transform, config: {script: "true"}}]
---
apiVersion: aof.dev/v1
kind: Trigger
metadata: {name: shop-alertmanager}
spec:
  type: Alertmanager
  config:
    path: /alerts/shop
    suppress_seconds: 600
    auth: {type: Basic, username: alertmanager, password: "${AM_SHOP_RECEIVER}"}
  commands:
    firing: {flow: shop-alerts}
---
apiVersion: aof.dev/v1
kind: Trigger
metadata: {name: infra-alertmanager}
spec:
  type: Alertmanager
  config:
    path: /alerts/infra
    run_per: alert
    auth: {type: Bearer, token: "${AM_INFRA_TOKEN}"}
  commands:
    any: {flow: infra-alerts}
"""


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture
def client(tmp_path: Path, monkeypatch):
    # the Basic password lives in an Airflow Connection (conn id = the reference's name, lower case), as the
    # inline trigger's secrets may
    monkeypatch.setenv("AIRFLOW_CONN_AM_SHOP_RECEIVER", json.dumps({"conn_type": "http", "password": PASSWORD}))
    monkeypatch.delenv("AM_SHOP_RECEIVER", raising=False)
    monkeypatch.setenv("AM_INFRA_TOKEN", TOKEN)
    monkeypatch.setenv("AOF_DATABASE_URL", f"sqlite:///{tmp_path / 'aof.db'}")
    secrets.clear_cache()
    d = tmp_path / "flows"
    d.mkdir()
    (d / "alerts.yaml").write_text(FLOWS)
    with AirflowStandIn() as standin:
        settings = RelaySettings(airflow_api_url=standin.url, airflow_username="admin", airflow_password="admin",
                                 database_url=f"sqlite:///{tmp_path / 'aof.db'}", start_dispatcher=False)
        with TestClient(create_app(flows=d, settings=settings)) as c:
            c.relay, c.standin = c.app.state.relay, standin
            yield c
    secrets.clear_cache()


def post(c, path: str, body: dict, headers: dict[str, str]):
    return c.post(path, content=json.dumps(body), headers={"Content-Type": "application/json", **headers})


def runs(c) -> list[tuple[str, str]]:
    c.relay.dispatcher.run_once()
    return sorted(c.standin.runs)


def test_the_documents_paths_are_served_with_their_auth_and_start_their_flows(client):
    body = notification(alert("cart-7d4b9c8f6d-x2x4z"), alert("cart-7d4b9c8f6d-q9w8r"))
    for headers in ({}, basic("alertmanager", "wrong"), basic("someone", PASSWORD), {"Authorization": f"Bearer {PASSWORD}"}):
        r = post(client, "/alerts/shop", body, headers)
        assert r.status_code == 401 and r.headers["WWW-Authenticate"] == "Basic", (headers, r.text)
    assert post(client, "/alerts/infra", body, basic("alertmanager", PASSWORD)).status_code == 401  # Bearer path
    assert runs(client) == []
    r = post(client, "/alerts/shop", body, basic("alertmanager", PASSWORD))
    assert r.status_code == 200 and [s["decision"] for s in r.json()["signals"]] == ["start"], r.text
    [(dag, run)] = runs(client)
    assert dag == "shop-alerts"
    incident = client.standin.runs[(dag, run)]["conf"]["event"]["incident"]
    assert incident["custom_details"]["namespace"] == "shop"
    assert incident["custom_details"]["resource"] == "deployment/cart"
    # a repeat of the group attaches to the open run; resolved is recorded on it
    again = post(client, "/alerts/shop", notification(alert("cart-7d4b9c8f6d-x2x4z")), basic("alertmanager", PASSWORD))
    assert [(s["decision"], s["run_id"]) for s in again.json()["signals"]] == [("attach", run)]
    done = post(client, "/alerts/shop", notification(alert("cart-7d4b9c8f6d-x2x4z", status="resolved"),
                                                     status="resolved"), basic("alertmanager", PASSWORD))
    assert [(s["decision"], s["run_id"]) for s in done.json()["signals"]] == [("resolved", run)]
    # the other document: Bearer, one run per alert, its own flow
    infra = notification(alert("node-exporter-abcde", ns="monitoring", alertname="NodeDown"),
                         alert("node-exporter-fghij", ns="monitoring", alertname="NodeDown"))
    r = post(client, "/alerts/infra", infra, {"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200 and [s["decision"] for s in r.json()["signals"]] == ["start", "start"], r.text
    assert [d for d, _ in runs(client)].count("infra-alerts") == 2


def test_an_unresolved_secret_refuses_every_request(client, monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_AM_SHOP_RECEIVER")
    secrets.clear_cache()
    r = post(client, "/alerts/shop", notification(alert("cart-7d4b9c8f6d-x2x4z")), basic("alertmanager", ""))
    assert r.status_code == 503 and "credentials are not set" in r.text
    assert runs(client) == []
