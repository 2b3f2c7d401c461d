"""Conditional node: named expressions -> `{name: bool}`, or one `condition` -> `bool`."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from aof_airflow.spec.nodes.base import NodeBase, Strict


class NamedCondition(Strict):
    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    expression: str = Field(min_length=1)


class ConditionalNodeConfig(Strict):
    conditions: list[NamedCondition] | None = None
    condition: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _one_form(self) -> ConditionalNodeConfig:
        if (self.conditions is None) == (self.condition is None):
            raise ValueError("a Conditional node takes exactly one of `conditions` (a named list) or `condition`")
        return self


class ConditionalNode(NodeBase):
    type: Literal["Conditional"]
    config: ConditionalNodeConfig
    template_fields: ClassVar[tuple[str, ...]] = ("condition", "conditions[].expression")
    condition_fields: ClassVar[tuple[str, ...]] = template_fields
