"""Decisions that arrive without polling Slack (aofctl, Slack buttons / Events), kept on the task instance.

Why XCom and not a table of ours: in Airflow 3 neither task code nor triggers may touch the metadata DB
(the supervisor blocks it); a trigger can only read through the task SDK. So a decision is appended to the
waiting sensor's own XCom `aof_approval_decisions` by a process that has DB access (the `aofctl` CLI, the
relay inside the api-server), and the trigger reads it with `BaseXCom.aget_one`. It survives a triggerer
restart, shows in the UI's XCom tab, and is cleared with the task instance. Decisions are append-only; the
trigger applies the approver rule, so a non-approver's click never blocks a later approver's.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

DECISIONS_KEY = "aof_approval_decisions"
REQUEST_KEY = "aof_approval_request"  # pushed by the sensor: {channel, ts, permalink, deadline}
TRIGGER_CLASSPATH = "aof_airflow.approvals.trigger.SlackApprovalTrigger"


@dataclass(frozen=True)
class TIRef:
    dag_id: str
    run_id: str
    task_id: str
    map_index: int = -1


# ------------------------------------------------------------------ reader: the trigger (task SDK only)

async def read_decisions(ref: TIRef) -> list[dict[str, Any]]:
    from airflow.sdk.bases.xcom import BaseXCom

    value = await BaseXCom.aget_one(key=DECISIONS_KEY, dag_id=ref.dag_id, task_id=ref.task_id, run_id=ref.run_id,
                                    map_index=ref.map_index)
    return _as_records(value)


def _as_records(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, str):  # written serialized by an older writer: be lenient, never crash the poller
        try:
            value = json.loads(value)
        except ValueError:
            return []
    if not isinstance(value, list):
        return []
    return [v for v in value if isinstance(v, dict) and {"reaction", "user"} <= v.keys()]


# ------------------------------------------------------------------ writers: processes with DB access

def record_decision(ref: TIRef, *, reaction: str, user: str, source: str) -> None:
    """Append one decision to the task instance's XCom (read-modify-write in one transaction)."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = session.scalars(XComModel.get_many(run_id=ref.run_id, key=DECISIONS_KEY, task_ids=ref.task_id,
                                                 dag_ids=ref.dag_id, map_indexes=ref.map_index)).first()
        current = _as_records(XComModel.deserialize_value(row)) if row is not None else []
        current.append({"reaction": reaction, "user": user, "source": source,
                        "decided_at": datetime.now(timezone.utc).isoformat()})
        # serialize=False: stored as plain JSON, exactly like values the Execution API writes, so the
        # trigger's BaseXCom.aget_one reads back the list (serialize=True would store a JSON string).
        XComModel.set(DECISIONS_KEY, current, dag_id=ref.dag_id, task_id=ref.task_id, run_id=ref.run_id,
                      map_index=ref.map_index, serialize=False, session=session)


def waiting_approvals(run_id: str | None = None, task_id: str | None = None,
                      dag_id: str | None = None) -> list[tuple[TIRef, str | None, dict[str, Any]]]:
    """Task instances (ref, state, trigger kwargs) whose deferral is one of our approval triggers."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.trigger import Trigger
    from airflow.utils.session import create_session
    from sqlalchemy import select

    q = select(TaskInstance, Trigger).join(Trigger, TaskInstance.trigger_id == Trigger.id).where(
        Trigger.classpath == TRIGGER_CLASSPATH)
    if run_id:
        q = q.where(TaskInstance.run_id == run_id)
    if task_id:
        q = q.where(TaskInstance.task_id == task_id)
    if dag_id:
        q = q.where(TaskInstance.dag_id == dag_id)
    out = []
    with create_session() as session:
        for ti, trig in session.execute(q):
            state = getattr(ti.state, "value", ti.state)
            out.append((TIRef(ti.dag_id, ti.run_id, ti.task_id, ti.map_index), state, dict(trig.kwargs)))
    return out


def ref_for_message(channel: str, ts: str) -> TIRef | None:
    """The waiting task instance whose approval message is `channel`/`ts` (for Slack buttons / Events)."""
    for ref, _state, kw in waiting_approvals():
        if kw.get("channel") == channel and kw.get("ts") == ts:
            return ref
    return None


def as_dict(ref: TIRef) -> dict[str, Any]:
    return asdict(ref)
