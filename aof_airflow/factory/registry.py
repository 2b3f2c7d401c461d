"""Node type -> the operator that builds its Airflow task.

One import per node type's operator module: an operator class that declares `node_types` registers itself
(`operators.base.NodeMixin`), and the class methods it inherits or overrides (`plan_kwargs`, `trigger_rule_for`,
`build`) are what the factory asks of a node type.
"""

from __future__ import annotations

from typing import Any, Mapping

from airflow.sdk import BaseOperator

# isort: off
from aof_airflow.operators.agent import AgentOperator
from aof_airflow.operators.transform import TransformOperator
from aof_airflow.operators.conditional import ConditionalOperator
from aof_airflow.operators.slack import SlackMessageOperator
from aof_airflow.operators.http import HttpNodeOperator
from aof_airflow.operators.script import ScriptOperator
from aof_airflow.operators.approval import ApprovalNodeSensor
from aof_airflow.operators.wait import WaitOperator
from aof_airflow.operators.parallel import ParallelOperator
from aof_airflow.operators.join import JoinOperator
from aof_airflow.operators.end import EndOperator
from aof_airflow.operators.response import ResponseOperator
# isort: on
from aof_airflow.operators.base import operator_for
from aof_airflow.spec.models import Agent, Node


def build_task(node: Node, kwargs: dict[str, Any], agents: Mapping[str, Agent]) -> BaseOperator:
    """The task of `node`; `kwargs` holds task_id, the NodeMixin fields and BaseOperator's arguments."""
    return operator_for(node).build(node, kwargs, agents)
