"""The relay's Alertmanager receiver: auth, version-4 payloads, signals started / attached / suppressed / resolved,
alerts that name no target, and the one-remediation-per-target rule (20 alerts for one Deployment: one run)."""

from __future__ import annotations

import base64
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from aof_airflow.incidents import records, signals
from aof_airflow.relay import secrets
from aof_airflow.relay.app import create_app
from aof_airflow.relay.settings import RelaySettings
from aof_airflow.spec.loader import load_paths
from tests.locations import SEED_FLOW, SEED_PAYLOAD_CRITICAL, SEED_PAYLOAD_NONCRITICAL
from tests.unit.relay.standin import AirflowStandIn

TOKEN = "am-receiver-token-0123456789"
FLOWS = """
apiVersion: aof.dev/v1
kind: AgentFlow
metadata: {name: am-flow}
spec:
  trigger:
    type: Alertmanager
    config:
      path: /alertmanager
      auth: {type: Bearer, token: "${AM_TEST_TOKEN}"}
      suppress_seconds: 600
  nodes: [{id: a, type: Transform, config: {script: "true"}}]
---
apiVersion: aof.dev/v1
kind: AgentFlow
metadata: {name: am-basic-flow}
spec:
  trigger:
    type: Alertmanager
    config:
      path: /alertmanager/basic
      run_per: alert
      auth: {type: Basic, username: alertmanager, password: "${AM_TEST_TOKEN}"}
  nodes: [{id: a, type: Transform, config: {script: "true"}}]
"""
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PD_TOKEN = "pd-webhook-token-0123456789"


def alert(pod: str, *, alertname: str = "KubePodCrashLooping", status: str = "firing", ns: str = "shop",
          starts: str = "2026-12-07T01:00:00.123456789Z", **labels: str) -> dict:
    labels = {"alertname": alertname, "namespace": ns, "pod": pod, "severity": "warning", **labels}
    return {"status": status, "labels": labels, "annotations": {"summary": "Pod is crash looping."},
            "startsAt": starts, "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2026-12-07T02:00:00Z",
            "generatorURL": "http://prometheus/graph", "fingerprint": f"fp{abs(hash(pod + alertname)) % 10**12:012d}"}


def notification(*alerts: dict, status: str = "firing", group_key: str = '{}:{alertname="KubePodCrashLooping"}') -> dict:
    return {"version": "4", "groupKey": group_key, "truncatedAlerts": 0, "status": status, "receiver": "aof",
            "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://alertmanager",
            "alerts": list(alerts)}


@pytest.fixture
def client(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("AM_TEST_TOKEN", TOKEN)
    monkeypatch.setenv("PAGERDUTY_WEBHOOK_TOKEN", PD_TOKEN)
    monkeypatch.setenv("AOF_DATABASE_URL", f"sqlite:///{tmp_path / 'aof.db'}")
    secrets.clear_cache()
    d = tmp_path / "flows"
    d.mkdir()
    (d / "am.yaml").write_text(FLOWS)
    (d / "seed.yaml").write_text(SEED_FLOW.read_text())
    res = load_paths([d], check_graph=False)
    assert set(res.flows) == {"am-flow", "am-basic-flow", "incident-auto-response"}, res.problems
    with AirflowStandIn() as standin:
        settings = RelaySettings(airflow_api_url=standin.url, airflow_username="admin", airflow_password="admin",
                                 database_url=f"sqlite:///{tmp_path / 'aof.db'}", start_dispatcher=False)
        with TestClient(create_app(flows=res.flows, settings=settings)) as c:
            c.relay = c.app.state.relay
            c.standin = standin
            yield c
    secrets.clear_cache()


def pending_runs(c) -> list[str]:
    c.relay.dispatcher.run_once()
    return sorted(run for (_dag, run) in c.standin.runs)


def post(c, body, headers=AUTH, path="/alertmanager"):
    return c.post(path, content=json.dumps(body), headers={"Content-Type": "application/json", **headers})


def test_wrong_or_missing_credentials_are_401_and_start_nothing(client):
    body = notification(alert("cart-7d4b9c8f6d-x2x4z"))
    assert post(client, body, {"Authorization": "Bearer nope"}).status_code == 401
    assert post(client, body, {}).status_code == 401
    assert post(client, body, {"Authorization": f"Basic {TOKEN}"}).status_code == 401
    good_basic = {"Authorization": "Basic " + base64.b64encode(f"alertmanager:{TOKEN}".encode()).decode()}
    assert post(client, body, AUTH, "/alertmanager/basic").status_code == 401  # basic path wants basic
    assert post(client, body, good_basic, "/alertmanager/basic").status_code == 200
    assert len(pending_runs(client)) == 1  # only the delivery with the right credentials


@pytest.mark.parametrize("body, why", [
    ({"version": "3", "alerts": []}, "version"),
    ({**notification(alert("a-1")), "alerts": []}, "alerts"),
    ({**notification(alert("a-1")), "status": "exploded"}, "status"),
    (notification({**alert("a-1"), "labels": {"alertname": 3}}), "labels"),
    (notification({**alert("a-1"), "startsAt": "yesterday"}), "RFC 3339"),
    ({"event": {"incident": {"id": "X", "title": "pagerduty-shaped"}}}, "version"),
])
def test_a_body_that_is_not_version_4_is_a_clear_4xx_and_starts_nothing(client, body, why):
    r = post(client, body)
    assert r.status_code == 422 and why in r.json()["detail"]
    assert pending_runs(client) == []
    r = client.post("/alertmanager", content=b"{not json", headers={"Content-Type": "application/json", **AUTH})
    assert r.status_code == 400


def test_a_firing_group_starts_one_run_in_the_seed_shape_and_repeats_start_nothing(client):
    body = notification(alert("cart-7d4b9c8f6d-x2x4z"), alert("cart-7d4b9c8f6d-q9w8r"))
    first = post(client, body).json()["signals"]
    assert [s["decision"] for s in first] == ["start"]
    runs = pending_runs(client)
    assert len(runs) == 1
    conf = client.standin.runs[("am-flow", runs[0])]["conf"]
    inc = conf["event"]["incident"]
    assert inc["custom_details"]["namespace"] == "shop"
    assert inc["custom_details"]["resource"] == "deployment/cart"  # read off the ReplicaSet pod names
    assert inc["title"].startswith("KubePodCrashLooping") and inc["urgency"] == "low"
    assert len(conf["alertmanager"]["alerts"]) == 2
    # Alertmanager's repeat_interval re-sends the same group: attached, no second run
    again = post(client, body).json()["signals"]
    assert again[0]["decision"] == "attach" and again[0]["run_id"] == runs[0]
    assert pending_runs(client) == runs


def test_twenty_alerts_for_one_deployment_make_one_run_and_nineteen_attachments(client):
    pods = [f"cart-7d4b9c8f6d-{''.join('bcdfghjklm'[int(ch)] for ch in f'{i:05d}')}" for i in range(20)]
    with ThreadPoolExecutor(8) as pool:  # one alert per pod, as a bad rollout makes them, all at once
        replies = list(pool.map(lambda p: post(client, notification(alert(p), group_key=f'{{}}:{{pod="{p}"}}')), pods))
    decisions = [r.json()["signals"][0]["decision"] for r in replies]
    assert decisions.count("start") == 1 and decisions.count("attach") == 19
    runs = pending_runs(client)
    assert len(runs) == 1
    logged = signals.for_run("am-flow", runs[0])
    assert signals.summary(logged) == "1 started, 19 attached"


def test_after_no_action_the_same_signal_is_suppressed_until_it_resolves(client):
    body = notification(alert("cart-7d4b9c8f6d-x2x4z"))
    post(client, body)
    run = pending_runs(client)[0]
    records.save(records.IncidentRecord(dag_id="am-flow", run_id=run, result="no_action"))  # the listener's record
    # a new episode (new startsAt) of the same signal: held back, no run
    later = notification(alert("cart-7d4b9c8f6d-x2x4z", starts="2026-12-07T01:30:00Z"))
    r = post(client, later).json()["signals"][0]
    assert r["decision"] == "suppress" and "no_action" in r["detail"]
    assert pending_runs(client) == [run]
    # another alert name on the same target is another signal: it starts
    other = post(client, notification(alert("cart-7d4b9c8f6d-x2x4z", alertname="KubeContainerWaiting",
                                            starts="2026-12-07T01:31:00Z"))).json()["signals"][0]
    assert other["decision"] == "start"
    records.save(records.IncidentRecord(dag_id="am-flow", run_id=other["run_id"], result="auto_resolved"))
    # resolved at the source: the hold ends, the next firing starts a run
    resolved = post(client, notification(alert("cart-7d4b9c8f6d-x2x4z", status="resolved"), status="resolved"))
    assert resolved.json()["signals"][0] == {**resolved.json()["signals"][0], "decision": "resolved"}
    again = post(client, notification(alert("cart-7d4b9c8f6d-x2x4z", starts="2026-12-07T02:10:00Z"))).json()["signals"][0]
    assert again["decision"] == "start"
    assert len(pending_runs(client)) == 3


def test_suppression_ends_when_its_time_passes(client, monkeypatch):
    post(client, notification(alert("cart-7d4b9c8f6d-x2x4z")))
    run = pending_runs(client)[0]
    records.save(records.IncidentRecord(dag_id="am-flow", run_id=run, result="escalated"))
    later = notification(alert("cart-7d4b9c8f6d-x2x4z", starts="2026-12-07T01:30:00Z"))
    assert post(client, later).json()["signals"][0]["decision"] == "suppress"
    import time as _time
    real = _time.time
    monkeypatch.setattr(signals.time, "time", lambda: real() + 601)  # suppress_seconds: 600
    assert post(client, later).json()["signals"][0]["decision"] == "start"


def test_an_alert_without_a_target_is_recorded_and_escalated_not_dropped(client):
    body = notification({**alert("x"), "labels": {"alertname": "Watchdog", "severity": "none"}})
    r = post(client, body).json()["signals"][0]
    assert r["decision"] == "start"
    runs = pending_runs(client)
    conf = client.standin.runs[("am-flow", runs[0])]["conf"]
    assert "no label names a workload" in conf["event"]["incident"]["custom_details"]["target_missing"]
    assert [e.kind for e in signals.for_run("am-flow", runs[0])] == ["no-target"]


def test_resolved_is_recorded_on_the_run(client):
    post(client, notification(alert("cart-7d4b9c8f6d-x2x4z")))
    run = pending_runs(client)[0]
    r = post(client, notification(alert("cart-7d4b9c8f6d-x2x4z", status="resolved"), status="resolved")).json()
    assert r["signals"][0]["decision"] == "resolved" and r["signals"][0]["run_id"] == run
    assert [e.kind for e in signals.for_run("am-flow", run)] == ["started", "resolved"]


def test_a_pagerduty_incident_on_a_target_with_an_open_run_attaches(client):
    """The seed's PagerDuty flow and the Alertmanager flow share the rule: one remediation per target."""
    payload = json.loads(SEED_PAYLOAD_CRITICAL.read_text())
    details = payload["event"]["incident"]["custom_details"]
    ns, (kind, name) = details["namespace"], details["resource"].split("/", 1)
    opened = post(client, notification(alert(f"{name}-0", ns=ns, **{kind: name}))).json()["signals"][0]
    assert opened["decision"] == "start"
    r = post(client, payload, {"Authorization": f"Bearer {PD_TOKEN}"}, "/pagerduty/webhook")
    assert r.status_code == 202 and r.json()["status"] == "attached" and r.json()["dag_run_id"] == opened["run_id"]
    assert pending_runs(client) == [opened["run_id"]]
    # the other seed payload names another target: its run starts
    other = json.loads(SEED_PAYLOAD_NONCRITICAL.read_text())
    assert post(client, other, {"Authorization": f"Bearer {PD_TOKEN}"}, "/pagerduty/webhook").json()["status"] == "accepted"


def test_a_pending_approval_is_told_that_the_source_resolved(client, monkeypatch):
    from aof_airflow.approvals.decisions import TIRef
    from aof_airflow.relay import resolved_notice
    from aof_lab.sandbox.slack import SlackWebAPI

    post(client, notification(alert("cart-7d4b9c8f6d-x2x4z")))
    run = pending_runs(client)[0]
    with SlackWebAPI() as slack:
        from slack_sdk import WebClient

        web = WebClient(token=slack.token, base_url=slack.base_url)
        msg = web.chat_postMessage(channel="#incidents", text="CRITICAL: Human Approval Required")
        waiting = {(run, "am-flow"): [(TIRef("am-flow", run, "request-approval"), "deferred",
                                       {"channel": msg["channel"], "ts": msg["ts"], "slack_conn_id": "slack_default"})]}
        monkeypatch.setattr(resolved_notice, "_waiting", lambda r, d: waiting.get((r, d), []))
        monkeypatch.setattr(resolved_notice, "_client", lambda conn_id: web)
        r = post(client, notification(alert("cart-7d4b9c8f6d-x2x4z", status="resolved"), status="resolved")).json()
        assert r["signals"][0]["approvals_told"] == 1
        thread = slack.thread(msg["channel"], msg["ts"])
    assert "resolved at the source" in thread[-1]["text"]
