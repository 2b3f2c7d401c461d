"""End node: the end of a path; its output is its rendered `message` (the flow's result), if it has one."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from aof_airflow.spec.nodes.base import NodeBase, Strict


class EndNodeConfig(Strict):
    message: str | None = None


class EndNode(NodeBase):
    type: Literal["End"]
    config: EndNodeConfig = Field(default_factory=EndNodeConfig)
    template_fields: ClassVar[tuple[str, ...]] = ("message",)
