"""What a workload's metric history says, as verdicts the rules engine's preconditions can use.

WHY verdicts and not series: a precondition asks one question ("does memory grow with uptime?", "is the CPU
saturated because load rose?") and must say on what figures it answered. The reader that queries a metrics
store (Prometheus, through the `prometheus_default` Connection) turns series into these verdicts with the
figures in `evidence`; the engine never sees PromQL. A history that could not be read says so (`examined`
False and why): the diagnosis then reports "metrics not examined", never "metrics fine".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

MemoryTrend = Literal["grows-with-uptime", "flat-near-limit", "flat", "unknown"]
CpuTrend = Literal["saturated", "normal", "unknown"]
LoadTrend = Literal["rising", "steady", "unknown"]
RestartTrend = Literal["after-growing-memory", "soon-after-start", "none", "unknown"]


@dataclass(frozen=True)
class WorkloadHistory:
    """Verdicts over a window of the workload's history, each backed by a sentence with figures.

    :param examined: whether the history was read at all; False with `not_examined_because` otherwise.
    :param memory: working set against uptime and the limit (a leak grows with uptime; a limit too low is
        flat near the limit from the start).
    :param cpu: usage against the CPU limit (or request when there is no limit), over the window.
    :param load: the request rate (or, without one, the traffic the workload's pods receive) over the window.
    :param restarts: when the container restarts happen relative to its memory and its start.
    :param evidence: one sentence per verdict, with the figures it rests on.
    """

    examined: bool
    window_seconds: float = 0.0
    memory: MemoryTrend = "unknown"
    cpu: CpuTrend = "unknown"
    load: LoadTrend = "unknown"
    restarts: RestartTrend = "unknown"
    evidence: tuple[str, ...] = ()
    not_examined_because: str | None = None
    source: str = ""
    queries: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def unavailable(cls, why: str, source: str = "") -> WorkloadHistory:
        return cls(examined=False, not_examined_because=why, source=source)


class HistorySource(Protocol):
    """Anything that can answer for one workload: the Prometheus reader, or a test's hand-built history."""

    def workload_history(self, namespace: str, pods: list[str], containers: list[str], *,
                         deadline: float) -> WorkloadHistory:
        """Verdicts for these pods' containers, answered before `deadline` (time.monotonic()) or unavailable."""
        ...
