"""The relay app in-process (TestClient) against a stand-in of Airflow's dagRuns endpoint."""

from __future__ import annotations

import json
import threading
import time

import pytest

from aof_airflow.relay import auth
from aof_airflow.relay.outbox import DELIVERED, FAILED, IGNORED, PENDING
from tests.unit.relay.cases import AUTH, FAILED_NOT_IGNORED, HOSTILE, UNKNOWN_PATH, headers_for, tutorial, v3
from tests.unit.relay.conftest import OLD_SECRET, SIGNING_SECRET

PATH = "/pagerduty/webhook"
H = headers_for(AUTH)


def _post(client, body, headers=H, path=PATH):
    return client.post(path, content=body if isinstance(body, bytes) else json.dumps(body).encode(), headers=headers)


def test_tutorial_payload_is_stored_then_delivered_once(client, standin):
    raw = open("/work/shared/seed/payloads/test1-noncritical.json", "rb").read()
    r = _post(client, raw)
    assert r.status_code == 202, r.text
    assert r.json() == {"status": "accepted", "dag_id": "incident-auto-response", "dag_run_id": "pd-TEST001",
                        "id": r.json()["id"]}
    assert [row["state"] for row in client.relay.outbox.rows()] == [PENDING]
    assert client.relay.dispatcher.run_once() == 1
    assert standin.runs[("incident-auto-response", "pd-TEST001")]["conf"] == json.loads(raw)
    assert client.relay.outbox.rows()[0]["state"] == DELIVERED


@pytest.mark.parametrize("case", HOSTILE, ids=[c[0] for c in HOSTILE])
def test_hostile_requests(client, standin, case):
    name, method, headers, body, status = case
    r = client.request(method, PATH, content=body, headers=headers_for(headers))
    assert r.status_code == status, (name, r.text)
    if status != 405:
        want = "failed" if name in FAILED_NOT_IGNORED else "ignored"
        assert "detail" in r.json() or r.json().get("status") == want, r.json()
    rows = client.relay.outbox.rows()
    assert [row["state"] for row in rows] == ([] if status != 202 else [FAILED if name in FAILED_NOT_IGNORED else IGNORED])
    client.relay.dispatcher.run_once()
    assert standin.runs == {} and standin.posts == 0


def test_an_unreadable_webhook_id_is_not_a_reason_to_drop_the_incident(client):
    for _ in range(2):  # without a usable webhook id, the incident's run id still deduplicates
        r = _post(client, tutorial("LONGWH"), headers=headers_for({**AUTH, "X-Webhook-Id": "w" * 500}))
        assert r.status_code == 202, r.text
    assert [(row["dag_run_id"], row["webhook_id"]) for row in client.relay.outbox.rows()] == [("pd-LONGWH", None)]


def test_unknown_path_is_404(client):
    _, method, path, headers, body, status = UNKNOWN_PATH
    assert client.request(method, path, content=body, headers=headers_for(headers)).status_code == status


def test_missing_token_setting_refuses_everything(client, monkeypatch):
    from aof_airflow.relay import secrets

    monkeypatch.delenv("PAGERDUTY_WEBHOOK_TOKEN")
    secrets.clear_cache()
    r = _post(client, tutorial("NOTOKEN"), headers=headers_for({**AUTH, "Authorization": "Bearer "}) | {"Authorization": "Bearer x"})
    assert r.status_code == 503 and client.relay.outbox.rows() == []


def test_same_delivery_many_times_one_row_one_run(client, standin):
    body = json.dumps(tutorial("DUP1")).encode()
    codes, statuses = [], []

    def send():
        r = _post(client, body, headers={**H, "X-Webhook-Id": "wh-dup-1"})
        codes.append(r.status_code)
        statuses.append(r.json()["status"])

    threads = [threading.Thread(target=send) for _ in range(20)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert codes == [202] * 20 and statuses.count("accepted") == 1 and statuses.count("duplicate") == 19
    # a different webhook id for the same incident is still the same run
    assert _post(client, body, headers={**H, "X-Webhook-Id": "wh-dup-2"}).json()["status"] == "duplicate"
    client.relay.dispatcher.run_once()
    assert list(standin.runs) == [("incident-auto-response", "pd-DUP1")] and standin.posts == 1


def test_signed_v3_flow(client, standin):
    body = json.dumps(v3("Q1SIGNED")).encode()
    base = {"Content-Type": "application/json"}
    assert _post(client, body, base, "/pagerduty/v3").status_code == 401
    assert _post(client, body, {**base, "X-PagerDuty-Signature": auth.sign(body, "retired")}, "/pagerduty/v3").status_code == 403
    assert _post(client, body, {**base, "X-PagerDuty-Signature": auth.sign(body + b"x", SIGNING_SECRET)},
                 "/pagerduty/v3").status_code == 403
    sig = f"{auth.sign(body, 'retired')},{auth.sign(body, OLD_SECRET)}"
    r = _post(client, body, {**base, "X-PagerDuty-Signature": sig}, "/pagerduty/v3")
    assert r.status_code == 202 and r.json()["dag_run_id"] == "pd-Q1SIGNED"
    client.relay.dispatcher.run_once()
    conf = standin.runs[("pd-v3-flow", "pd-Q1SIGNED")]["conf"]
    assert conf["event"]["incident"]["service"]["name"] == "PostgreSQL"


def test_queue_size_answers_429_with_retry_after(client, standin):
    standin.queued["limited-flow"] = 2
    assert _post(client, tutorial("L1"), path="/limited").status_code == 202  # 2 queued + 0 pending < 3
    r = _post(client, tutorial("L2"), path="/limited")  # 2 queued + 1 pending
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    assert _post(client, tutorial("L1"), path="/limited").json()["status"] == "duplicate"  # dedup wins over 429
    client.relay.dispatcher.run_once()
    standin.queued["limited-flow"] = 0
    time.sleep(1.1)  # the queued count is cached ~1 s
    assert _post(client, tutorial("L2"), path="/limited").status_code == 202


def test_airflow_down_then_back(client, standin):
    standin.fail_with = 503
    assert _post(client, tutorial("DOWN1")).status_code == 202
    client.relay.dispatcher.run_once()
    row = client.relay.outbox.rows()[0]
    assert row["state"] == PENDING and row["attempts"] == 1 and "503" in row["last_error"]
    standin.fail_with = None
    time.sleep(0.2)
    client.relay.dispatcher.run_once()
    assert client.relay.outbox.rows()[0]["state"] == DELIVERED and len(standin.runs) == 1


def test_rejected_by_airflow_is_failed_not_retried(client, standin):
    standin.fail_with = 400
    assert _post(client, tutorial("BAD1")).status_code == 202
    client.relay.dispatcher.run_once()
    assert client.relay.outbox.rows()[0]["state"] == FAILED


def test_token_refreshed_after_rotation(client, standin):
    assert _post(client, tutorial("TOK1")).status_code == 202
    client.relay.dispatcher.run_once()
    standin.token = "rotated"
    assert _post(client, tutorial("TOK2")).status_code == 202
    client.relay.dispatcher.run_once()
    assert len(standin.runs) == 2 and standin.token_requests == 2


def test_health_and_ready(client):
    assert client.get("/healthz").json() == {"ok": True}
    r = client.get("/readyz")
    assert r.status_code == 200 and r.json()["routes"]["/pagerduty/webhook"] == "incident-auto-response"
