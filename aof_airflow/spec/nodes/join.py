"""Join node: where parallel branches meet. `strategy` (AOF's): `all` (every branch succeeded), `any` (one
did), `majority` (more than half did). Its output maps each branch that ran to its output."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from aof_airflow.spec.nodes.base import NodeBase, Strict


class JoinNodeConfig(Strict):
    strategy: Literal["all", "any", "majority"] = "all"


class JoinNode(NodeBase):
    type: Literal["Join"]
    config: JoinNodeConfig = Field(default_factory=JoinNodeConfig)
    outputs_upstream: ClassVar[bool] = True  # its output maps each branch to the branch's output
