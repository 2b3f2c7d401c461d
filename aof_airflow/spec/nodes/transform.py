"""Transform node: a bash script whose `export`s become flow variables."""

from __future__ import annotations

import re
from typing import ClassVar, Literal

from pydantic import Field

from aof_airflow.spec.nodes.base import GRACE, MAX_TIMEOUT, NodeBase, Strict

_EXPORT = re.compile(r"^\s*export\s+([A-Za-z_][A-Za-z0-9_]*)=", re.MULTILINE)


def transform_exports(script: str) -> list[str]:
    """Names a Transform script exports (`export NAME=...` lines), in order, without repeats."""
    return list(dict.fromkeys(_EXPORT.findall(script)))


class TransformNodeConfig(Strict):
    script: str = Field(min_length=1)
    timeout_seconds: float = Field(default=60, gt=0, le=MAX_TIMEOUT)


class TransformNode(NodeBase):
    type: Literal["Transform"]
    config: TransformNodeConfig
    template_fields: ClassVar[tuple[str, ...]] = ("script",)
    sets_variables: ClassVar[bool] = True

    def exports(self) -> list[str]:
        return transform_exports(self.config.script)

    def execution_seconds(self) -> float | None:
        return self.config.timeout_seconds + GRACE
