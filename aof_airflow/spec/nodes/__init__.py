"""The node types of an AgentFlow: one module per type, its pydantic model, and this table.

A new node type is its model module here plus one line in NODE_TABLE, and its operator module plus one line
in `factory.registry` (the imports below only re-export the models the rest of the package names). Types AOF defines that this project cannot run are in UNSUPPORTED, with the reason:
`aofctl validate` says so at the node's line instead of building a DAG that fails later.
"""

from __future__ import annotations

import importlib
from typing import Annotated, Union

from pydantic import BaseModel, Field

from aof_airflow.spec.nodes.agent import AgentNode, AgentNodeConfig, InlineAgent
from aof_airflow.spec.nodes.approval import ApprovalNode
from aof_airflow.spec.nodes.base import NodeBase, NodeCondition, Strict
from aof_airflow.spec.nodes.conditional import ConditionalNode, ConditionalNodeConfig, NamedCondition
from aof_airflow.spec.nodes.end import EndNode
from aof_airflow.spec.nodes.http import HTTPNode, HTTPNodeConfig
from aof_airflow.spec.nodes.join import JoinNode
from aof_airflow.spec.nodes.parallel import ParallelNode
from aof_airflow.spec.nodes.response import ResponseNode
from aof_airflow.spec.nodes.script import ScriptNode
from aof_airflow.spec.nodes.slack import SlackNode, SlackNodeConfig
from aof_airflow.spec.nodes.transform import TransformNode, TransformNodeConfig
from aof_airflow.spec.nodes.wait import WaitNode

# One line per node type: "module:NodeModel" in this package (the model's `type` literal names the type)
NODE_TABLE = (
    "agent:AgentNode",
    "transform:TransformNode",
    "conditional:ConditionalNode",
    "slack:SlackNode",
    "http:HTTPNode",
    "script:ScriptNode",
    "approval:ApprovalNode",
    "wait:WaitNode",
    "parallel:ParallelNode",
    "join:JoinNode",
    "end:EndNode",
    "response:ResponseNode",
)


def _model(entry: str) -> type[BaseModel]:
    module, _, name = entry.partition(":")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


NODE_MODELS = tuple(_model(e) for e in NODE_TABLE)
Node = Annotated[Union[NODE_MODELS], Field(discriminator="type")]  # type: ignore[valid-type]
NODE_TYPES = tuple(t for m in NODE_MODELS for t in m.model_fields["type"].annotation.__args__)  # type: ignore[union-attr]

UNSUPPORTED = {
    "Fleet": "it runs an AgentFleet, which aof-airflow does not run; use Agent nodes",
    "Discord": "no Airflow Discord provider is installed; use a Slack or HTTP node",
}

__all__ = [
    "NODE_MODELS", "NODE_TYPES", "UNSUPPORTED", "AgentNode", "AgentNodeConfig", "ApprovalNode", "ConditionalNode",
    "ConditionalNodeConfig", "EndNode", "HTTPNode", "HTTPNodeConfig", "InlineAgent", "JoinNode", "NamedCondition",
    "Node", "NodeBase", "NodeCondition", "ParallelNode", "ResponseNode", "ScriptNode", "SlackNode",
    "SlackNodeConfig", "Strict", "TransformNode", "TransformNodeConfig", "WaitNode",
]
