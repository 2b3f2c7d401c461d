"""A node's template context, built from the XComs of the ancestors it reads (docs/architecture.md, "How a value travels").

Only ancestors are read, so a value cannot leak in from a branch that did not run; an ancestor that was
skipped (or has not run) has no XCom and is simply absent, which makes `${that.output...}` an
UnknownReference with the name, never a silent empty string.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Mapping, Sequence

from airflow.sdk.types import RuntimeTaskInstanceProtocol

from aof_airflow.services.event_text import clean

NOT_RUN = None  # what xcom_pull answers for a task that pushed nothing: skipped, or never ran


def pull_outputs(ti: RuntimeTaskInstanceProtocol, ancestors: Sequence[str]) -> dict[str, Any]:
    """{ancestor id: its return value} for the ancestors that produced one: one xcom_pull call (one request
    per task id in Airflow 3, hence the factory passes only the ancestors the node reads)."""
    if not ancestors:
        return {}
    values = ti.xcom_pull(task_ids=list(ancestors), key="return_value")
    if not isinstance(values, list):  # a single task id answers with the bare value
        values = [values]
    return {tid: v for tid, v in zip(ancestors, values) if v is not NOT_RUN}


def flow_info(flow_name: str, run_id: str | None, started: datetime | None, now: datetime | None = None) -> dict:
    """`${flow.*}`: duration is measured from the run's start, as the tutorial's resolution time means."""
    now = now or datetime.now(timezone.utc)
    duration = int((now - started).total_seconds()) if started else 0
    return {"run_id": run_id, "name": flow_name, "duration_seconds": max(duration, 0)}


def build_roots(
    conf: Mapping[str, Any] | None,
    outputs: Mapping[str, Any],
    transforms: Sequence[str],
    flow: Mapping[str, Any],
) -> dict[str, Any]:
    """Template roots: flow variables (exports of ancestor Transforms, in topological order, later wins),
    then every top-level key of the run's conf, then `<node>.output`, then `flow`.

    The conf's and the outputs' text is made carriable here too (services/event_text.py): the relay already did
    it for what it delivers, but a run triggered from the UI, the REST API or the CLI, or a model answering
    with a NUL, must not make a later node fail (a NUL cannot be an environment variable of a Transform)."""
    roots: dict[str, Any] = {}
    for tid in transforms:
        exported = outputs.get(tid)
        if isinstance(exported, Mapping):
            roots.update(exported)
    roots.update(clean(dict(conf or {}), {}))
    for tid, value in outputs.items():
        roots[tid] = {"output": clean(value, {})}
    roots["flow"] = dict(flow)
    return roots
