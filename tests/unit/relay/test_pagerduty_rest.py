"""PagerDuty's REST API as the product calls it -- the relay's alert lookup and the seed's close-pagerduty HTTP
node -- against the stand-in that requires what PagerDuty's OpenAPI spec requires and rate-limits like it."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest
from airflow.sdk.exceptions import AirflowException, AirflowFailException
from pydantic import TypeAdapter

from aof_airflow.operators.http import HttpNodeOperator
from aof_airflow.relay import auth
from aof_airflow.services import pagerduty
from aof_airflow.spec.models import Node
from aof_lab.sandbox.pagerduty import PagerDutyAPI
from tests.unit.relay.cases import v3
from tests.unit.relay.conftest import SIGNING_SECRET

FROM = "aof-bot@example.com"
CLOSE = {  # the seed's close-pagerduty node, as written
    "id": "close-pagerduty", "type": "HTTP",
    "config": {"method": "PUT", "url": "https://api.pagerduty.com/incidents/${INCIDENT_ID}",
               "headers": {"Authorization": "Token token=${PAGERDUTY_API_KEY}", "Content-Type": "application/json"},
               "body": '{\n  "incident": {\n    "type": "incident_reference",\n    "status": "resolved",\n'
                       '    "resolution": "Auto-resolved by AOF: ${remediate.output.action_taken}"\n  }\n}\n'}}


@pytest.fixture()
def pd():
    with PagerDutyAPI() as srv:
        srv.add_incident("Q1DETAILS", "Disk full on db-1", "PostgreSQL", "high",
                         {"namespace": "databases", "resource": "statefulset/pg"})
        yield srv


def pd_connection(monkeypatch, pd: PagerDutyAPI, login: str | None = FROM) -> None:
    host, port = pd.base_url.split("://", 1)[1].rsplit(":", 1)
    monkeypatch.setenv("AIRFLOW_CONN_PAGERDUTY_DEFAULT", json.dumps(
        {"conn_type": "http", "host": host, "port": int(port), "schema": "http", "login": login, "password": pd.api_key}))
    monkeypatch.delenv("PAGERDUTY_API_KEY", raising=False)


def run_node(node: dict, incident: str = "Q1DETAILS", **over) -> dict:
    spec = json.loads(json.dumps(node))
    spec["config"].update(over)
    n = TypeAdapter(Node).validate_python(spec)
    task = HttpNodeOperator(task_id=n.id, flow_name="f", node=n, ancestors=["parse-alert", "remediate"],
                            transforms=["parse-alert"])
    xcoms = {"parse-alert": {"INCIDENT_ID": incident}, "remediate": {"action_taken": 'restart "api" <!channel>'}}
    ti = SimpleNamespace(xcom_pull=lambda task_ids, key="return_value": [xcoms.get(t) for t in task_ids])
    run = SimpleNamespace(run_id="manual__1", conf={}, start_date=datetime.now(timezone.utc) - timedelta(seconds=5))
    return task.execute({"ti": ti, "dag_run": run})


def test_close_pagerduty_sends_what_pagerduty_requires(monkeypatch, pd):
    pd_connection(monkeypatch, pd)
    out = run_node(CLOSE)
    assert out["incident"]["status"] == "resolved"
    (put,) = pd.requests
    assert put.headers["Accept"] == pagerduty.ACCEPT and put.headers["From"] == FROM
    assert put.headers["Content-Type"] == "application/json"
    assert put.body["incident"]["resolution"] == 'Auto-resolved by AOF: restart "api" <!channel>'


def test_a_write_without_any_from_fails_saying_where_to_set_it(monkeypatch, pd):
    pd_connection(monkeypatch, pd, login=None)
    monkeypatch.delenv("AOF_PAGERDUTY_FROM", raising=False)
    with pytest.raises(AirflowFailException, match="From.*pagerduty_default.*pagerduty_from"):
        run_node(CLOSE)
    assert pd.requests == []


def test_a_rate_limited_write_waits_for_ratelimit_reset_within_the_deadline(monkeypatch, pd):
    pd_connection(monkeypatch, pd)
    pd.throttle(2, reset_seconds=1)
    t0 = time.monotonic()
    assert run_node(CLOSE)["incident"]["status"] == "resolved"
    assert time.monotonic() - t0 >= 2.0
    assert [r.status for r in pd.requests] == [429, 429, 200]


def test_a_rate_limit_reset_past_the_deadline_fails_retryable_at_once(monkeypatch, pd):
    pd_connection(monkeypatch, pd)
    pd.throttle(1, reset_seconds=30)
    t0 = time.monotonic()
    with pytest.raises(AirflowException, match="429.*wait 30s, past the node's deadline") as e:
        run_node(CLOSE, timeout_seconds=5)
    assert not isinstance(e.value, AirflowFailException)  # Airflow's retries may try again later
    assert time.monotonic() - t0 < 3


def test_an_incident_id_cannot_leave_its_path_segment(monkeypatch, pd):
    pd_connection(monkeypatch, pd)
    with pytest.raises(AirflowFailException, match="answered 404"):
        run_node(CLOSE, incident="Q1DETAILS/../../incidents?x=1")
    assert pd.requests[0].path.startswith("/incidents/Q1DETAILS%2F..%2F..%2Fincidents%3Fx%3D1")


# ------------------------------------------------------------------------------ the relay's alert lookup


def test_alert_lookup_reads_details_and_honours_ratelimit_reset(pd):
    assert pagerduty.first_alert_details(pd.base_url, pd.api_key, "Q1DETAILS") == {
        "namespace": "databases", "resource": "statefulset/pg"}
    req = pd.requests[-1]
    assert req.headers["Accept"] == pagerduty.ACCEPT and req.headers["Content-Type"] == "application/json"
    pd.throttle(1, reset_seconds=7)
    with pytest.raises(pagerduty.DetailsUnavailable) as e:
        pagerduty.first_alert_details(pd.base_url, pd.api_key, "Q1DETAILS")
    assert e.value.retry_after == 7.0
    with pytest.raises(pagerduty.DetailsRefused, match="401"):
        pagerduty.first_alert_details(pd.base_url, "wrong-key", "Q1DETAILS")


def _signed_v3(client, iid: str):
    body = json.dumps(v3(iid)).encode()
    r = client.post("/pagerduty/v3", content=body, headers={"Content-Type": "application/json",
                                                            "X-PagerDuty-Signature": auth.sign(body, SIGNING_SECRET)})
    assert r.status_code == 202, r.text


def test_a_rate_limited_lookup_is_retried_after_the_reset_then_delivered_with_details(client, standin, pd):
    relay = client.relay
    relay.dispatcher.settings = replace(relay.settings, pagerduty_api_url=pd.base_url, pagerduty_api_key=pd.api_key)
    _signed_v3(client, "Q1DETAILS")
    pd.throttle(1, reset_seconds=1)
    relay.dispatcher.run_once()
    (row,) = relay.outbox.rows()
    assert row["state"] == "pending" and "429" in row["last_error"]
    assert row["next_attempt_at"] - time.time() > 0.5  # not before ratelimit-reset
    time.sleep(1.1)
    relay.dispatcher.run_once()
    conf = standin.runs[("pd-v3-flow", "pd-Q1DETAILS")]["conf"]
    assert conf["event"]["incident"]["custom_details"] == {"namespace": "databases", "resource": "statefulset/pg"}
    assert "aof" not in conf


def test_a_run_that_cannot_get_its_details_starts_without_them_and_says_so(client, standin, pd):
    relay = client.relay
    relay.dispatcher.settings = replace(relay.settings, pagerduty_api_url=pd.base_url, pagerduty_api_key=pd.api_key,
                                        details_wait_seconds=0.5)
    _signed_v3(client, "Q1DETAILS")
    pd.throttle(10, reset_seconds=20)
    relay.dispatcher.run_once()
    conf = standin.runs[("pd-v3-flow", "pd-Q1DETAILS")]["conf"]
    assert conf["event"]["incident"]["custom_details"] == {}
    enrichment = conf["aof"]["enrichment"]
    assert enrichment["status"] == "unavailable" and "429" in enrichment["reason"]
    assert "started without custom_details" in relay.outbox.rows()[0]["last_error"]


def test_only_the_first_slack_message_of_a_run_without_details_says_so():
    from aof_airflow.factory.scan import build_dags
    from aof_airflow.operators.slack import enrichment_notice, with_notice
    from aof_airflow.relay.normalize import without_details

    root = Path(__file__).resolve().parents[3]
    (dag,) = build_dags([root / "dags/flows", root / "dags/agents"], use_cache=False).values()
    conf = without_details({"event": {"incident": {"id": "Q1", "title": "t"}}}, "PagerDuty answered 429 <!channel>")
    first, later = dag.get_task("notify-diagnosis"), dag.get_task("notify-success")
    notice = enrichment_notice(first, conf)
    assert notice.startswith("⚠️ _This run started without custom_details (namespace, resource)")
    assert "429 &lt;!channel&gt;" in notice  # the reason is text, never markup
    assert enrichment_notice(later, conf) is None and enrichment_notice(dag.get_task("request-approval"), conf) is None
    assert enrichment_notice(first, {"event": {}}) is None
    context = {"dag_run": SimpleNamespace(conf=conf)}
    assert with_notice(first, context, "🚨 *Incident Detected*").endswith("._\n🚨 *Incident Detected*")


def test_the_incident_record_says_the_run_started_without_its_details():
    from aof_airflow.incidents.collector import RunView, build_record
    from aof_airflow.relay.normalize import without_details

    conf = without_details({"event": {"incident": {"id": "Q1", "title": "t", "custom_details": {}}}}, "PagerDuty answered 429")
    rec = build_record(RunView("incident-auto-response", "pd-Q1", "success", conf=conf))
    assert rec.enrichment["status"] == "unavailable" and rec.enrichment["reason"] == "PagerDuty answered 429"
    assert build_record(RunView("d", "r", "success", conf={"event": {"incident": {"id": "Q2"}}})).enrichment is None
