"""Transform node: a bash script whose `export`s become flow variables."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from aof_airflow.spec.nodes.base import MAX_TIMEOUT, NodeBase, Strict


class TransformNodeConfig(Strict):
    script: str = Field(min_length=1)
    timeout_seconds: float = Field(default=60, gt=0, le=MAX_TIMEOUT)


class TransformNode(NodeBase):
    type: Literal["Transform"]
    config: TransformNodeConfig
