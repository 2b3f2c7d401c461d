"""Parallel node: a fan-out point; its `branches` (node ids) start when it has run, side by side."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from aof_airflow.spec.nodes.base import NodeBase, Strict


class ParallelNodeConfig(Strict):
    branches: list[str] = Field(default_factory=list)


class ParallelNode(NodeBase):
    type: Literal["Parallel"]
    config: ParallelNodeConfig = Field(default_factory=ParallelNodeConfig)
