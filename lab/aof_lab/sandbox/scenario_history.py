"""A scenario's metric history (`history:`): the series Prometheus would hold for the hours before the incident.

Written in a scenario as

    history:
      step: 60                     # seconds between samples
      series:
      - metric: container_memory_working_set_bytes
        labels: {namespace: cache, pod: session-cache-gdmbecdlbh-m1n2b, container: session-cache}
        values: "200Mi+5Mix59 200Mi+5Mix59"      # oldest first; the last sample is "now"

`values` uses promtool's expanding notation (`a+bxN` is a, a+b, ..., a+N*b: N+1 samples; `a-bxN`; `axN`
repeats; `_` is a missing sample), with Kubernetes quantity suffixes allowed (`Mi`, `Gi`, `m`). The series
are written into Prometheus' TSDB with `promtool tsdb create-blocks-from openmetrics` before it starts
(aof_lab.monitoring.history), so a rate or a trend over the last hours is there from the first query.

WHY this notation: it is the one Prometheus' own rule tests use, so a scenario reads like a `promtool test
rules` file, and a leak (a ramp that restarts) and a flat line near the limit are one short string each.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

_QUANTITY = r"-?[0-9.]+(?:e[+-]?[0-9]+)?(?:[KMGT]i|[kKMGTm])?"
_TERM = re.compile(rf"^(?P<a>{_QUANTITY}|_)(?:(?P<op>[+-])(?P<b>{_QUANTITY}))?(?:x(?P<n>[0-9]+))?$")
_UNITS = {"": 1, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "m": 1e-3,
          "Ki": 1024, "Mi": 1024 ** 2, "Gi": 1024 ** 3, "Ti": 1024 ** 4}
METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def _number(text: str) -> float:
    m = re.fullmatch(r"(-?[0-9.]+(?:e[+-]?[0-9]+)?)([KMGT]i|[kKMGTm]?)", text)
    if not m:
        raise ValueError(f"{text!r} is not a number or a quantity")
    return float(m.group(1)) * _UNITS[m.group(2)]


def expand(values: str) -> list[float | None]:
    """promtool's series notation, expanded: `1+1x3 _ 5x2` -> [1, 2, 3, 4, None, 5, 5, 5]."""
    out: list[float | None] = []
    for term in values.split():
        m = _TERM.match(term)
        if not m:
            raise ValueError(f"{term!r}: write a value (`512Mi`), a ramp (`200Mi+5Mix59`), a repeat (`1x10`) or `_`")
        if m["a"] == "_":
            out += [None] * (int(m["n"]) if m["n"] else 1)
            continue
        a = _number(m["a"])
        n = int(m["n"]) if m["n"] else 0
        step = (_number(m["b"]) * (-1 if m["op"] == "-" else 1)) if m["b"] else 0.0
        out += [a + i * step for i in range(n + 1)]
    return out


class HistorySeries(BaseModel):
    model_config = ConfigDict(extra="forbid")

    metric: str
    labels: dict[str, str] = Field(default_factory=dict)
    values: str

    @field_validator("metric")
    @classmethod
    def _metric_name(cls, v: str) -> str:
        if not METRIC_NAME.match(v):
            raise ValueError(f"{v!r} is not a Prometheus metric name")
        return v

    @field_validator("labels")
    @classmethod
    def _label_names(cls, v: dict[str, str]) -> dict[str, str]:
        for k in v:
            if not LABEL_NAME.match(k) or k.startswith("__"):
                raise ValueError(f"{k!r} is not a label name a series may carry")
        return v

    @field_validator("values")
    @classmethod
    def _expands(cls, v: str) -> str:
        if not expand(v):
            raise ValueError("values is empty")
        return v

    def points(self) -> list[float | None]:
        return expand(self.values)


class MetricHistory(BaseModel):
    """The hours before the incident, sampled every `step` seconds, ending at the moment the sandbox loads."""

    model_config = ConfigDict(extra="forbid")

    step: int = Field(60, ge=5, le=3600)
    series: list[HistorySeries] = Field(min_length=1)

    def samples(self, end: float) -> list[tuple[HistorySeries, list[tuple[float, float]]]]:
        """Each series with its (timestamp, value) points, the last one at `end` (unix seconds)."""
        out = []
        for s in self.series:
            pts = s.points()
            first = end - (len(pts) - 1) * self.step
            out.append((s, [(first + i * self.step, v) for i, v in enumerate(pts) if v is not None]))
        return out
