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


@dataclass(frozen=True)
class Decided:
    """A decision already made on an approval task instance."""

    outcome: str
    user: str
    source: str
    at: str | None

    def __str__(self) -> str:
        return f"already decided by {self.user} via {self.source}{f' at {self.at[:19]}' if self.at else ''}: {self.outcome}"


def decided(run_id: str, task_id: str, dag_id: str | None = None) -> list[tuple[TIRef, Decided]]:
    """The decisions recorded for approval task instances: their HITLDetail response, else (a run from before
    the Required Actions page) the sensor's own output."""
    from airflow.models.hitl import HITLDetail
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    from aof_airflow.approvals.required_action import from_response

    q = select(TaskInstance, HITLDetail).outerjoin(HITLDetail, HITLDetail.ti_id == TaskInstance.id).where(
        TaskInstance.run_id == run_id, TaskInstance.task_id == task_id)
    if dag_id:
        q = q.where(TaskInstance.dag_id == dag_id)
    out = []
    with create_session() as session:
        for ti, row in session.execute(q):
            ref = TIRef(ti.dag_id, ti.run_id, ti.task_id, ti.map_index)
            if row is not None and row.response_received and row.chosen_options:
                d = from_response(row.chosen_options, row.responded_by, row.responded_at, row.params_input)
                out.append((ref, Decided(d.outcome, d.user, d.source, d.decided_at)))
                continue
            xrow = session.scalars(XComModel.get_many(run_id=ti.run_id, key="return_value", task_ids=ti.task_id,
                                                      dag_ids=ti.dag_id, map_indexes=ti.map_index)).first()
            value = XComModel.deserialize_value(xrow) if xrow is not None else None
            if isinstance(value, dict) and value.get("outcome") and value.get("user"):
                out.append((ref, Decided(value["outcome"], value["user"], value.get("source") or "?",
                                         value.get("decided_at"))))
    return out


def message_ref(channel: str, ts: str) -> TIRef | None:
    """The approval task instance (waiting or not) that posted `channel`/`ts`, from its request XCom."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.scalars(select(XComModel).where(XComModel.key == REQUEST_KEY)
                               .order_by(XComModel.timestamp.desc()).limit(1000)).all()
        for row in rows:
            value = XComModel.deserialize_value(row)
            if isinstance(value, dict) and value.get("channel") == channel and value.get("ts") == ts:
                return TIRef(row.dag_id, row.run_id, row.task_id, row.map_index)
    return None


def why_not_waiting(channel: str, ts: str) -> str:
    """What to answer a click or reaction on a message no approval waits on any more."""
    ref = message_ref(channel, ts)
    done = decided(ref.run_id, ref.task_id, ref.dag_id) if ref else []
    return str(done[0][1]) if done else "no approval waiting on this message"


def as_dict(ref: TIRef) -> dict[str, Any]:
    return asdict(ref)
