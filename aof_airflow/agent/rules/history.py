"""Where the rules engine gets a workload's metric history: the one entry point for a metrics reader.

WHY a registry: the engine is built by the agent runtime from a model reference, with no place to pass a
reader; a deployment with Prometheus (the `prometheus_default` Connection) registers its reader once, at
start-up, and every diagnosis asks it. `Gatherer(history=...)` overrides it per call (tests). When nothing is
registered, the `prometheus_default` Airflow Connection is the source when it exists
(`services/prometheus.py`). Without any, the diagnosis lists "metrics history" as not examined, and the
preconditions that need it stay unproven.

    from aof_airflow.agent.rules.history import use_history_source
    use_history_source(my_reader)  # any object with workload_history(namespace, pods, containers, *, deadline)
"""

from __future__ import annotations

import functools
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from aof_airflow.services.metrics_history import HistorySource, WorkloadHistory

_source: HistorySource | None = None
_factory: Callable[[], HistorySource | None] | None = None


def use_history_source(source: HistorySource | Callable[[], HistorySource | None] | None) -> None:
    """Register the history source (or a zero-argument factory called at each diagnosis); None removes it."""
    global _source, _factory
    if source is not None and not hasattr(source, "workload_history") and callable(source):
        _source, _factory = None, source  # type: ignore[assignment]
    else:
        _source, _factory = source, None  # type: ignore[assignment]


def history_source() -> HistorySource | None:
    """The registered source, else the `prometheus_default` Connection's reader, else None."""
    if _factory is not None:
        return _factory()
    if _source is not None:
        return _source
    return _from_connection()


@functools.cache
def _from_connection() -> HistorySource | None:
    """Looked up once per process: a remediation re-diagnoses every few seconds while it verifies."""
    from aof_airflow.services.prometheus import history_source_from_connection  # httpx only when diagnosing

    return history_source_from_connection()


def ask(source: HistorySource, ns: str, pods: list[str], containers: list[str], deadline: float) -> Future[WorkloadHistory]:
    """The history of these pods, asked on a thread of its own (the diagnosis reads the cluster meanwhile)."""
    pool = ThreadPoolExecutor(max_workers=1)
    future = pool.submit(_ask, source, ns, pods, containers, deadline)
    pool.shutdown(wait=False)
    return future


def _ask(source: HistorySource, ns: str, pods: list[str], containers: list[str], deadline: float) -> WorkloadHistory:
    """A history source that fails is "not examined", never a failed diagnosis."""
    from aof_airflow.services.metrics_history import WorkloadHistory

    try:
        return source.workload_history(ns, pods, containers, deadline=deadline)
    except Exception as e:  # any reader error: the diagnosis goes on without the history
        return WorkloadHistory.unavailable(f"{type(e).__name__}: {e}")
