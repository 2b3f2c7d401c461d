"""AOF's node types as Airflow tasks: the right operator, trigger rule, edges and flow defaults for each."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from aof_airflow.factory.builder import build_dag
from aof_airflow.spec.loader import load_text

FLOW = Path(__file__).resolve().parents[2] / "integration/factory/flows_aof/node-types.yaml"


def dag():
    parsed = load_text(FLOW.read_text(), str(FLOW))
    assert not parsed.problems, parsed.problems
    return build_dag(parsed.documents[0].model, {})


def test_each_type_has_its_operator_and_the_graph_its_edges():
    d = dag()
    kinds = {t.task_id: type(t).__name__ for t in d.tasks}
    assert kinds == {"fan-out": "ParallelOperator", "pods": "ScriptOperator", "parse": "ScriptOperator",
                     "shell": "ScriptOperator", "joined": "JoinOperator", "pause": "WaitOperator",
                     "check": "ConditionalOperator", "report": "ResponseOperator", "not-taken": "EndOperator",
                     "done": "EndOperator"}
    assert d.get_task("fan-out").downstream_task_ids == {"pods", "parse", "shell"}  # `branches`
    assert not d.get_task("fan-out").upstream_task_ids  # `from: start`
    assert d.get_task("joined").trigger_rule == "all_success"
    assert d.get_task("report").node.conditions[0].when == "true"  # the connection's `when`
    assert d.get_task("check").decides and {c.id for c, _ in d.get_task("check").decides} == {"report", "not-taken"}
    assert d.get_task("done").wiring.previous == "report" and "report" in d.get_task("done").ancestors


def test_flow_config_context_labels_and_annotations():
    d = dag()
    pods = d.get_task("pods")
    assert pods.retries == 2 and pods.retry_delay == timedelta(seconds=5) and pods.max_retry_delay == timedelta(minutes=1)
    assert pods.retry_exponential_backoff == 2.0
    assert pods.node.config.script_config.timeout_seconds == 120  # spec.config.default_timeout_seconds
    assert pods.wiring.context == {"namespace": "production", "env": {"MODE": "check"}} and pods.wiring.verbose
    assert d.description == "AOF node types on Airflow" and "team:sre" in d.tags
    assert "| `runbook` | https://wiki.example/k8s |" in d.doc_md


def test_join_strategies_and_the_error_handler():
    text = FLOW.read_text().replace("strategy: all", "strategy: any").replace(
        "    verbose: true", "    verbose: true\n    error_handler: on-failure").replace(
        "  nodes:\n", "  nodes:\n    - id: on-failure\n      type: End\n      config: {message: failed}\n")
    parsed = load_text(text, "f.yaml")
    assert not parsed.problems, parsed.problems
    d = build_dag(parsed.documents[0].model, {})
    assert d.get_task("joined").trigger_rule == "one_success"
    handler = d.get_task("on-failure")
    assert handler.trigger_rule == "one_failed" and handler.upstream_task_ids == {t.task_id for t in d.tasks} - {"on-failure"}
    assert handler.wiring.error_handler and not handler.on_failure_callback


def test_approval_and_human_approval_are_the_deferrable_slack_approval():
    text = """\
apiVersion: aof.dev/v1
kind: AgentFlow
metadata: {name: approve}
spec:
  approvers: [U1]
  nodes:
    - id: note
      type: Slack
      config: {channel: "#ops", message: hi}
    - id: a
      type: Approval
      config: {message: "deploy?", timeout_seconds: 300}
    - id: b
      type: HumanApproval
      config: {message: "really?", channel: "#prod"}
    - id: go
      type: End
      conditions: [{from: b, reaction: white_check_mark}]
  connections:
    - {from: start, to: note}
    - {from: note, to: a}
    - {from: a, to: b}
    - {from: b, to: go}
"""
    parsed = load_text(text, "a.yaml")
    assert not parsed.problems, parsed.problems
    d = build_dag(parsed.documents[0].model, {})
    a, b = d.get_task("a"), d.get_task("b")
    assert type(a).__name__ == type(b).__name__ == "ApprovalNodeSensor"
    assert a.node.config.channel == "#ops" and b.node.config.channel == "#prod"  # default: the flow's channel
    assert a.retries == 0 and list(a.approvers) == ["U1"]
    assert [c.id for c, _ in b.decides] == ["go"]
