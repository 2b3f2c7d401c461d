"""A trigger's `events` decide which event types start a run (exact names or patterns); a flow without a relay
trigger gets no route."""

from __future__ import annotations

import json
from types import SimpleNamespace

from aof_airflow.relay.flows import Route, build_routes
from aof_airflow.relay.normalize import normalize
from aof_airflow.spec.triggers import PagerDutyConfig, PagerDutyTrigger, ScheduleTrigger, WebhookConfig


def _flow(name: str, trigger) -> SimpleNamespace:
    return SimpleNamespace(name=name, spec=SimpleNamespace(trigger=trigger))


def test_webhook_config_defaults_to_incident_triggered():
    r = Route(_flow("f", None), WebhookConfig(path="/x"))
    assert r.events == ("incident.triggered",) and r.starts_run("incident.triggered")
    assert not r.starts_run("incident.acknowledged") and r.methods == ["POST"] and r.path == "/x"


def test_events_patterns():
    r = Route(_flow("f", None), WebhookConfig(path="/pd", events=["incident.triggered", "incident.responder.*"]))
    assert r.path == "/pd" and r.starts_run("incident.responder.added") and not r.starts_run("service.updated")
    assert Route(_flow("f", None), WebhookConfig(path="/p", events=["*"])).starts_run("pagey.ping")


def test_a_pagerduty_trigger_with_events_is_routed_and_others_are_not():
    flows = {"a": _flow("a", PagerDutyTrigger(type="PagerDuty", config=PagerDutyConfig(path="/pd", events=["incident.*"]))),
             "b": _flow("b", ScheduleTrigger(type="Schedule", config={"cron": "* * * * *"})),
             "c": _flow("c", None)}
    routes = build_routes(flows)
    assert list(routes) == ["/pd"] and routes["/pd"].starts_run("incident.acknowledged")
    assert routes["/pd"].methods == ["POST"]


def test_control_characters_are_replaced_at_the_edge_and_kept_as_received():
    ev = normalize({"event": {"incident": {"id": "N1", "title": "a\x00b\u202e", "ke\x01y": "\ud800",
                                           "custom_details": {"namespace": "prod"}}}})
    inc = ev.conf["event"]["incident"]
    assert inc["title"] == "a\ufffdb\u202e" and inc["ke\ufffdy"] == "\ufffd"  # RTL is text: passed on as is
    received = ev.conf["aof"]["received"]
    assert json.loads(received["event.incident.title"]) == "a\x00b\u202e"
    assert received["event.incident.ke\ufffdy"] == '"\\ud800"' and json.loads(received["event.incident.ke\ufffdy (key)"]) == "ke\x01y"
    assert all(v.isascii() for v in received.values())  # carried anywhere: JSON escapes only
