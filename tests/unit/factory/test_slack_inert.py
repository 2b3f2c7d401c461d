"""No value renders as Slack formatting: every hostile value in every `${...}` of the seed's Slack messages,
posted by the real Slack node operator to the Slack stand-in, adds no bold, italic, strike, code, quote,
list, link or mention to what the template alone makes (counted with the stand-in's reading of Slack's
formatting rules, aof_lab/sandbox/slack_format.py); the template's own Markdown still formats."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from pydantic import TypeAdapter

from aof_airflow.operators.escalation import escalation_text
from aof_airflow.operators.slack import SlackMessageOperator, enrichment_notice
from aof_airflow.services.slack import escape
from aof_airflow.spec.incident import Incident
from aof_airflow.spec.models import Node
from tests.locations import SEED_FLOW

sandbox = pytest.importorskip("aof_lab.sandbox.slack", reason="the lab package (Slack stand-in) is not installed")
from aof_lab.sandbox.slack_format import formatting

NODES = {n["id"]: n for n in yaml.safe_load(Path(SEED_FLOW).read_text())["spec"]["nodes"]}
SLACK_NODES = [n for n in NODES.values() if n["type"] == "Slack" and not n["config"].get("wait_for_reaction")]
HOSTILE = [
    "*RESOLVED*", "_ignore_", "~closed~", "`kubectl delete ns prod`", "```\nrm -rf /\n```", "> quoted by admin",
    "\n*Status*: resolved by @admin", "ok\n> fake quote\n- fake item\n1. fake step", "- bullet", "• bullet",
    "3) third", "＊fullwidth bold＊", "＿fullwidth italic＿", "～fullwidth strike～", "＞ fullwidth quote",
    "<https://evil.example|click me>", "<mailto:boss@evil.example|mail>", "<@U024BE7LH>", "<!here>", "<!channel>",
    "<!everyone>", "<!subteam^S0123ABC|@oncall>", "<#C024BE7LR|general>", "<!date^1392734382^{date}|x>",
    "&lt;!channel&gt; &amp; &#60;", "[Acknowledge here](https://evil.example/login)", "*a* _b_ ~c~ `d` *e*",
    "x*y*z a_b_c", "**double**", "__double__", "*", "_", "~", "`", "* * *", "*_~`>&<", "\u202e*bidi*",
    "*" * 5000, "_x_ " * 3000,
]
BENIGN = "value"
TALLY = {"values": 0, "messages posted": 0, "formatting spans added by values": 0}


@pytest.fixture(scope="module")
def slack():
    with sandbox.SlackWebAPI() as srv:
        yield srv


@pytest.fixture(autouse=True)
def slack_conn(monkeypatch, slack):
    monkeypatch.setenv("AIRFLOW_CONN_SLACK_DEFAULT", json.dumps(
        {"conn_type": "slack", "password": slack.token, "extra": {"base_url": slack.base_url}}))


def post(slack, node: dict, value: str) -> str:
    """The node run by its operator with every value it reads set to `value`; the text the stand-in stored."""
    output = {k: value for k in ("severity", "root_cause", "impact", "recommended_action", "confidence",
                                 "action_taken", "result")}
    xcoms = {"parse-alert": {k: value for k in ("INCIDENT_ID", "INCIDENT_TITLE", "INCIDENT_SERVICE", "INCIDENT_URL")},
             "diagnose": output, "remediate": output, "rollback": output, "verify-fix": output}
    n = TypeAdapter(Node).validate_python({k: v for k, v in node.items() if k != "conditions"})  # run them all
    task = SlackMessageOperator(task_id=n.id, flow_name="f", node=n, ancestors=list(xcoms), transforms=["parse-alert"])
    ti = SimpleNamespace(xcom_pull=lambda task_ids, key="return_value": [xcoms.get(t) for t in task_ids])
    run = SimpleNamespace(run_id="r", conf={}, start_date=datetime.now(timezone.utc))
    out = task.execute({"ti": ti, "dag_run": run})
    [msg] = [m for m in slack.messages("#incidents") if m["ts"] == out["ts"]]
    TALLY["messages posted"] += 1
    return msg["text"]


def test_the_templates_own_markdown_still_formats(slack):
    text = post(slack, NODES["notify-diagnosis"], BENIGN)
    assert "*Incident Detected*" in text and "*Root Cause*: value" in text
    assert formatting(text)["bold"] >= 8


def test_no_value_renders_as_formatting_in_any_seed_message(slack):
    benign = {n["id"]: formatting(post(slack, n, BENIGN)) for n in SLACK_NODES}
    added: list[tuple[str, str, Counter]] = []
    for value in HOSTILE:
        TALLY["values"] += 1
        for node in SLACK_NODES:
            extra = formatting(post(slack, node, value)) - benign[node["id"]]
            if extra:
                added.append((node["id"], value[:40], extra))
                TALLY["formatting spans added by values"] += sum(extra.values())
    print("\nslack formatting:", json.dumps(TALLY))
    assert not added, added[:10]


@pytest.mark.parametrize("value", HOSTILE)
def test_the_escalation_and_the_enrichment_notice_add_no_formatting(value):
    base = formatting(escalation_text("f", "n", RuntimeError(BENIGN), "r", 1, Incident(BENIGN, "PagerDuty")))
    esc = escalation_text("f", "n", RuntimeError(value), "r", 1, Incident(value, "PagerDuty"))
    assert formatting(esc) - base == Counter()
    task = SimpleNamespace(get_flat_relatives=lambda upstream: [])
    notice = enrichment_notice(task, {"aof": {"enrichment": {"what": value, "from": value, "reason": value}}})
    benign = enrichment_notice(task, {"aof": {"enrichment": {"what": BENIGN, "from": BENIGN, "reason": BENIGN}}})
    assert formatting(notice) - formatting(benign) == Counter()


def test_a_value_keeps_its_text_a_marker_inside_a_word_unchanged():
    assert escape("snake_case_name a*b*c") == "snake_case_name a*b*c"
    assert escape("*RESOLVED*") == "\u2217RESOLVED\u2217"
    assert escape("<!here> & `x`") == "&lt;!here&gt; &amp; \u02cbx\u02cb"
    assert escape("a\n> b") == "a\n\u00ad&gt; b"


@pytest.mark.parametrize("user", ["U1> <!channel", "*boss*", "<https://evil.example|x>"])
def test_an_approvers_name_that_is_not_a_slack_id_is_text(user):
    from aof_airflow.approvals.outcome import thread_text

    for source in ("cli", "airflow-ui", "slack-button"):
        text = thread_text("approved", user, source)
        assert formatting(text) - formatting(thread_text("approved", "someone", source)) == Counter()
