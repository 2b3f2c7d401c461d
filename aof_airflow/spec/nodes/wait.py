"""Wait node: `duration` (AOF's `30s`, `5m`, `1h`, `500ms`), waited on the triggerer, holding no worker slot."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import field_validator

from aof_airflow.spec.nodes.base import MAX_TIMEOUT, NodeBase, Strict

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_UNIT = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def duration_seconds(text: str) -> float:
    m = _DURATION.match(text)
    if not m:
        raise ValueError(f"duration {text!r} is not a duration: write a number and a unit, e.g. `30s`, `5m`, `1h`")
    return float(m.group(1)) * _UNIT[m.group(2)]


class WaitNodeConfig(Strict):
    duration: str

    @field_validator("duration", mode="before")
    @classmethod
    def _duration(cls, v: object) -> object:
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            v = f"{v}s"
        if isinstance(v, str):
            seconds = duration_seconds(v)
            if not 0 < seconds <= MAX_TIMEOUT:
                raise ValueError(f"duration {v!r} must be more than 0 and at most 7 days")
        return v

    @property
    def seconds(self) -> float:
        return duration_seconds(self.duration)


class WaitNode(NodeBase):
    type: Literal["Wait"]
    config: WaitNodeConfig
