"""Node type -> the function that builds its Airflow task. One entry per AgentFlow node type."""

from __future__ import annotations

from typing import Any, Callable, Mapping

from airflow.sdk import BaseOperator

from aof_airflow.operators.agent import AgentOperator
from aof_airflow.operators.approval import ApprovalNodeSensor
from aof_airflow.operators.conditional import ConditionalOperator
from aof_airflow.operators.http import HttpNodeOperator
from aof_airflow.operators.slack import SlackMessageOperator
from aof_airflow.operators.transform import TransformOperator
from aof_airflow.spec.models import Agent, Node

# builder(node, kwargs, agents) -> operator. `kwargs` holds task_id, the NodeMixin fields and BaseOperator args.
Builder = Callable[[Node, dict[str, Any], Mapping[str, Agent]], BaseOperator]


def _agent(node: Node, kw: dict[str, Any], agents: Mapping[str, Agent]) -> BaseOperator:
    if node.config.agent not in agents:
        raise KeyError(f"node {node.id!r} runs agent {node.config.agent!r}, which no Agent file defines "
                       f"(known: {', '.join(sorted(agents)) or 'none'})")
    return AgentOperator(agent=agents[node.config.agent], **kw)


def _slack(node: Node, kw: dict[str, Any], agents: Mapping[str, Agent]) -> BaseOperator:
    approvers = kw.pop("approvers", None)  # the flow's `approvers`, for approval nodes
    if not node.config.wait_for_reaction:
        return SlackMessageOperator(**kw)
    # the sensor never retries, whatever default_task_retries says: a second try would ask again
    return ApprovalNodeSensor(approvers=approvers, **{**kw, "retries": 0})


REGISTRY: dict[str, Builder] = {
    "Transform": lambda node, kw, agents: TransformOperator(**kw),
    "Conditional": lambda node, kw, agents: ConditionalOperator(**kw),
    "HTTP": lambda node, kw, agents: HttpNodeOperator(**kw),
    "Agent": _agent,
    "Slack": _slack,
}


def build_task(node: Node, kwargs: dict[str, Any], agents: Mapping[str, Agent]) -> BaseOperator:
    try:
        builder = REGISTRY[node.type]
    except KeyError:
        raise KeyError(f"node {node.id!r}: no builder for node type {node.type!r}") from None
    return builder(node, kwargs, agents)
