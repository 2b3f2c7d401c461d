"""The node types of an AgentFlow: one module per type, holding its pydantic model and its facts.

A new node type is its model module here plus one import line below (a `NodeBase` subclass that declares
`type: Literal[...]` registers itself; see `base.py` for what a type says about itself), and its operator
module (a `NodeMixin` subclass declaring `node_types`) plus one import line in `factory/registry.py`. Types
AOF defines that this project cannot run are in UNSUPPORTED, with the reason: `aofctl validate` says so at
the node's line instead of building a DAG that fails later.
"""

from __future__ import annotations

from typing import Annotated, Union

from pydantic import Field

from aof_airflow.spec.nodes.base import NodeBase, NodeCondition, Strict, node_types

# One import per node type, in the order `aofctl schema` and error messages list them.
# isort: off
from aof_airflow.spec.nodes.agent import AgentNode, AgentNodeConfig, InlineAgent
from aof_airflow.spec.nodes.transform import TransformNode, TransformNodeConfig
from aof_airflow.spec.nodes.conditional import ConditionalNode, ConditionalNodeConfig, NamedCondition
from aof_airflow.spec.nodes.slack import SlackNode, SlackNodeConfig
from aof_airflow.spec.nodes.http import HTTPNode, HTTPNodeConfig
from aof_airflow.spec.nodes.script import ScriptNode
from aof_airflow.spec.nodes.approval import ApprovalNode
from aof_airflow.spec.nodes.wait import WaitNode
from aof_airflow.spec.nodes.parallel import ParallelNode
from aof_airflow.spec.nodes.join import JoinNode
from aof_airflow.spec.nodes.end import EndNode
from aof_airflow.spec.nodes.response import ResponseNode
# isort: on

NODE_MODELS = node_types()
Node = Annotated[Union[NODE_MODELS], Field(discriminator="type")]  # type: ignore[valid-type]
NODE_TYPES = tuple(t for m in NODE_MODELS for t in m.type_names())

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
