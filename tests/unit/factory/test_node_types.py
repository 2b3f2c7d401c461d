"""Each node type owns its facts: a model that registers itself, an operator that registers for it, and the
builder and the reference checks asking the type instead of switching on it."""

from __future__ import annotations

from aof_airflow.factory.builder import execution_timeout, plan_flow, with_flow_defaults
from aof_airflow.operators.base import _OPERATORS
from aof_airflow.spec.edges import effective_conditions
from aof_airflow.spec.loader import load_paths
from aof_airflow.spec.nodes import NODE_MODELS, NODE_TYPES, ScriptNode
from aof_airflow.spec.nodes.base import GRACE
from tests.locations import SEED_AGENTS, SEED_FLOW


def test_every_node_type_has_exactly_one_operator():
    assert sorted(_OPERATORS) == sorted(NODE_TYPES)
    assert len({m.__name__ for m in NODE_MODELS}) == len(NODE_MODELS)


def test_template_fields_name_the_yaml_paths_of_a_types_templates():
    node = ScriptNode.model_validate({"id": "s", "type": "Script", "config": {"scriptConfig": {
        "command": "echo ${event.a}", "env": {"B": "${event.b}"}, "timeout_seconds": 5}}})
    assert list(node.templates(3)) == [
        (("spec", "nodes", 3, "config", "scriptConfig", "command"), "echo ${event.a}"),
        (("spec", "nodes", 3, "config", "scriptConfig", "env", "B"), "${event.b}"),
    ]


def test_a_waiting_slack_node_runs_as_the_approval_with_the_flows_defaults():
    [flow] = load_paths([SEED_FLOW, SEED_AGENTS]).flows.values()
    plan = plan_flow(flow)
    ask = flow.node("request-approval")
    assert ask.operator_key() == "Approval" and _OPERATORS["Approval"].__name__ == "ApprovalNodeSensor"
    assert plan.task_kwargs["request-approval"]["approvers"] == flow.spec.approvers
    assert "approvers" not in plan.task_kwargs["notify-diagnosis"]  # a plain post takes none
    assert plan.task_kwargs["remediate"]["incident"] is plan.incident
    assert plan.transforms["remediate"] == ["parse-alert", "auto-approve"]
    script = ScriptNode.model_validate({"id": "s", "type": "Script", "config": {"scriptConfig": {"command": "x"}}})
    slower = with_flow_defaults(script, flow.model_copy(update={"spec": flow.spec.model_copy(update={
        "config": flow.spec.config.model_copy(update={"default_timeout_seconds": 90})})}), [])
    assert slower.config.script_config.timeout_seconds == 90
    assert execution_timeout(slower).total_seconds() == 90 + GRACE
    assert effective_conditions(flow)["rollback"][0].from_ == "remediation-failed"
