"""Failure escalation is an Airflow notifier: any task's `on_failure_callback` posts one Slack message (through
the Slack provider's hook, here to the lab's Slack Web API stand-in) naming the flow, the node and the error,
and says the incident is left open. What names the incident is the flow's incident profile."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import BaseNotifier

from aof_airflow.operators.escalation import NodeFailureNotifier, RunTimeoutNotifier
from aof_airflow.spec.incident import IncidentProfile

slack = pytest.importorskip("aof_lab.sandbox.slack", reason="the lab package (Slack stand-in) is not installed")
CONF = {"event": {"incident": {"id": "P42", "title": "disk full"}, "alert": {"ref": "OG-7"}}}


@pytest.fixture
def channel(monkeypatch):
    with slack.SlackWebAPI(channels=(*slack.DEFAULT_CHANNELS, "ops", "escalations")) as srv:
        monkeypatch.setenv("AIRFLOW_CONN_SLACK_DEFAULT", json.dumps(
            {"conn_type": "slack", "password": srv.token, "extra": {"base_url": srv.base_url}}))
        monkeypatch.delenv("AOF_ESCALATION_CHANNEL", raising=False)
        yield srv


def context(task, exception: BaseException, conf=CONF) -> dict:
    return {"task": task, "ti": SimpleNamespace(task_id=task.task_id, try_number=2), "exception": exception,
            "dag_run": SimpleNamespace(run_id="manual__1", conf=conf)}


def test_any_airflow_task_can_use_it_as_its_failure_callback(channel):
    notifier = NodeFailureNotifier(flow_name="nightly", channel="#ops")
    assert isinstance(notifier, BaseNotifier)
    task = PythonOperator(task_id="load", python_callable=lambda: None, on_failure_callback=notifier)
    notifier(context(task, ValueError("bad <row> & {{ jinja }}")))  # how Airflow calls a task callback
    [msg] = channel.messages("#ops")
    assert "AOF flow `nightly` failed at node `load`" in msg["text"]
    assert "ValueError: bad &lt;row&gt; &amp; {{ jinja }}" in msg["text"]  # escaped, never rendered
    assert "*PagerDuty incident*: P42 left open for manual handling" in msg["text"]
    assert "`manual__1` (attempt 2)" in msg["text"]


def test_the_flows_profile_names_the_incident_and_the_channel_setting_wins(channel, monkeypatch):
    monkeypatch.setenv("AOF_ESCALATION_CHANNEL", "#escalations")
    profile = IncidentProfile.from_annotations({"aof.dev/incident-id": "${event.alert.ref}",
                                                "aof.dev/incident-system": "Opsgenie"})
    task = PythonOperator(task_id="t", python_callable=lambda: None)
    NodeFailureNotifier(flow_name="f", channel="#ops", incident=profile)(context(task, RuntimeError("x")))
    assert channel.messages("#ops") == []
    [msg] = channel.messages("#escalations")
    assert "*Opsgenie incident*: OG-7 left open" in msg["text"]


def test_the_run_timeout_notifier_speaks_only_for_a_timed_out_run(channel):
    notifier = RunTimeoutNotifier(flow_name="f", channel="#ops")
    dag_run = SimpleNamespace(run_id="scheduled__1", conf=CONF)
    notifier({"reason": "task_failure", "dag_run": dag_run})
    assert channel.messages("#ops") == []
    notifier({"reason": "timed_out", "dag_run": dag_run, "run_id": "scheduled__1"})
    [msg] = channel.messages("#ops")
    assert "AOF flow `f` timed out" in msg["text"] and "P42 left open" in msg["text"]


def test_a_slack_outage_is_logged_not_raised(monkeypatch, capfd):
    monkeypatch.setenv("AIRFLOW_CONN_SLACK_DEFAULT", json.dumps(
        {"conn_type": "slack", "password": "xoxb-x", "extra": {"base_url": "http://127.0.0.1:9/api/"}}))
    task = PythonOperator(task_id="t", python_callable=lambda: None)
    NodeFailureNotifier(flow_name="f", channel="#ops")(context(task, RuntimeError("x")))
    out, err = capfd.readouterr()  # Airflow's structlog writes the task log lines, not the logging module
    assert "could not post the escalation of f to Slack #ops" in out + err
