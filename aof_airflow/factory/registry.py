"""Node type -> the function that builds its Airflow task. One line per AgentFlow node type."""

from __future__ import annotations

from typing import Any, Callable, Mapping

from airflow.sdk import BaseOperator

from aof_airflow.operators.agent import AgentOperator
from aof_airflow.operators.approval import ApprovalNodeSensor
from aof_airflow.operators.conditional import ConditionalOperator
from aof_airflow.operators.end import EndOperator
from aof_airflow.operators.http import HttpNodeOperator
from aof_airflow.operators.join import JoinOperator
from aof_airflow.operators.parallel import ParallelOperator
from aof_airflow.operators.response import ResponseOperator
from aof_airflow.operators.script import ScriptOperator
from aof_airflow.operators.slack import SlackMessageOperator
from aof_airflow.operators.transform import TransformOperator
from aof_airflow.operators.wait import WaitOperator
from aof_airflow.spec.models import Agent, Node

# builder(node, kwargs, agents) -> operator. `kwargs` holds task_id, the NodeMixin fields and BaseOperator args.
Builder = Callable[[Node, dict[str, Any], Mapping[str, Agent]], BaseOperator]


def plain(cls: type[BaseOperator]) -> Builder:
    """The builder of a node type whose operator takes the node kwargs as they are (most do)."""

    def build(node: Node, kw: dict[str, Any], agents: Mapping[str, Agent]) -> BaseOperator:
        kw.pop("approvers", None)
        return cls(**kw)

    return build


def _agent(node: Node, kw: dict[str, Any], agents: Mapping[str, Agent]) -> BaseOperator:
    agent = kw.pop("agent", None) or agents.get(node.config.agent)  # an inline agent comes from the planner
    if agent is None:
        raise KeyError(f"node {node.id!r} runs agent {node.config.agent!r}, which no Agent file defines "
                       f"(known: {', '.join(sorted(agents)) or 'none'})")
    kw.pop("approvers", None)
    return AgentOperator(agent=agent, **kw)


def _approval(node: Node, kw: dict[str, Any], agents: Mapping[str, Agent]) -> BaseOperator:
    approvers = kw.pop("approvers", None)  # the flow's `approvers`
    # the sensor never retries, whatever default_task_retries says: a second try would ask again
    return ApprovalNodeSensor(approvers=approvers, **{**kw, "retries": 0})


def _slack(node: Node, kw: dict[str, Any], agents: Mapping[str, Agent]) -> BaseOperator:
    if node.config.wait_for_reaction:
        return _approval(node, kw, agents)
    return plain(SlackMessageOperator)(node, kw, agents)


REGISTRY: dict[str, Builder] = {
    "Transform": plain(TransformOperator),
    "Conditional": plain(ConditionalOperator),
    "HTTP": plain(HttpNodeOperator),
    "Agent": _agent,
    "Slack": _slack,
    "Approval": _approval,
    "HumanApproval": _approval,
    "Script": plain(ScriptOperator),
    "Wait": plain(WaitOperator),
    "Parallel": plain(ParallelOperator),
    "Join": plain(JoinOperator),
    "End": plain(EndOperator),
    "Response": plain(ResponseOperator),
}


def build_task(node: Node, kwargs: dict[str, Any], agents: Mapping[str, Agent]) -> BaseOperator:
    try:
        builder = REGISTRY[node.type]
    except KeyError:
        raise KeyError(f"node {node.id!r}: no builder for node type {node.type!r}") from None
    return builder(node, kwargs, agents)
