"""DAG-level settings from the flow: rate limit, schedule, labels; and the escalation text."""

from __future__ import annotations

from datetime import timedelta

from aof_airflow.factory.builder import build_dag
from aof_airflow.operators.escalation import NodeFailureNotifier, RunTimeoutNotifier, escalation_text
from aof_airflow.spec.incident import Incident
from aof_airflow.spec.loader import load_text

FLOW = """\
apiVersion: aof.dev/v1
kind: AgentFlow
metadata:
  name: nightly
  labels: {team: sre}
spec:
  trigger: {type: Schedule, config: {cron: "0 6 * * *"}}
  rate_limit: {max_concurrent: 2, timeout_seconds: 900}
  nodes:
    - id: a
      type: Transform
      config: {script: "export X=1"}
    - id: b
      type: Slack
      config: {channel: "#sre-reports", message: "done ${X}"}
  connections:
    - {from: a, to: b}
"""


def test_rate_limit_schedule_labels():
    flow = load_text(FLOW, "nightly.yaml").documents[0].model
    dag = build_dag(flow, {})
    assert dag.max_active_runs == 2 and dag.dagrun_timeout == timedelta(seconds=900)
    assert type(dag.timetable).__name__ == "CronTriggerTimetable" and dag.timetable.expression == "0 6 * * *"
    assert set(dag.tags) == {"aof", "team:sre"} and dag.get_task("a").owner == "sre"
    assert isinstance(dag.on_failure_callback, RunTimeoutNotifier) or any(
        isinstance(c, RunTimeoutNotifier) for c in (dag.on_failure_callback or []))
    callbacks = dag.get_task("b").on_failure_callback  # node-level escalation, an Airflow notifier
    assert any(isinstance(c, NodeFailureNotifier) for c in (callbacks if isinstance(callbacks, list) else [callbacks]))
    assert "event" in dag.params


def test_escalation_text_names_flow_node_error_and_incident():
    text = escalation_text("incident-auto-response", "diagnose", RuntimeError("model said <no> & left"), "manual__1", 2,
                           Incident(id="P123", system="PagerDuty"))
    assert "`incident-auto-response` failed at node `diagnose`" in text
    assert "RuntimeError: model said &lt;no&gt; &amp; left" in text and "P123 left open" in text
