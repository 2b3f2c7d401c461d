"""The decision store: approval requests and decisions that arrive without polling, in the metadata DB.

Why the DB: a decision from `aofctl approve` or from Slack's interactivity / Events request (received by the
relay, maybe on another machine) must reach the trigger on whichever triggerer runs it, and must survive a
triggerer restart. Decisions are append-only; the trigger applies the approver rule when it reads them, so a
non-approver's click never blocks a later approver's.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Iterable

from sqlalchemy import Column, DateTime, Index, Integer, String, Table, Text, and_, insert, or_, select, update

from aof_airflow import db

requests = Table(
    "aof_approval_requests",
    db.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dag_id", String(250), nullable=False),
    Column("run_id", String(250), nullable=False),
    Column("task_id", String(250), nullable=False),
    Column("map_index", Integer, nullable=False, default=-1),
    Column("channel", String(64), nullable=False),
    Column("ts", String(32), nullable=False),
    Column("permalink", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("deadline", DateTime(timezone=True), nullable=False),
    Column("outcome", String(32)),  # NULL while pending
    Column("reaction", String(64)),
    Column("decided_by", String(64)),
    Column("decided_at", DateTime(timezone=True)),
    Index("ix_aof_approval_requests_run", "run_id", "task_id"),
    Index("ix_aof_approval_requests_msg", "channel", "ts"),
)

decisions = Table(
    "aof_approval_decisions",
    db.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("channel", String(64), nullable=False),
    Column("ts", String(32), nullable=False),
    Column("reaction", String(64), nullable=False),
    Column("user", String(64), nullable=False),
    Column("source", String(32), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_aof_approval_decisions_msg", "channel", "ts"),
)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def register_request(*, dag_id: str, run_id: str, task_id: str, map_index: int, channel: str, ts: str,
                     permalink: str | None, deadline: datetime, url: str | None = None) -> None:
    eng = db.ensure_tables(url)
    with eng.begin() as conn:
        conn.execute(insert(requests).values(
            dag_id=dag_id, run_id=run_id, task_id=task_id, map_index=map_index, channel=channel, ts=ts,
            permalink=permalink, created_at=utcnow(), deadline=deadline))


def open_request(dag_id: str, run_id: str, task_id: str, map_index: int = -1,
                 url: str | None = None) -> dict[str, Any] | None:
    """The still-pending request of this task instance, so a retried/re-run sensor re-attaches to the
    message already in Slack (and the reactions already on it) instead of posting a second one."""
    eng = db.ensure_tables(url)
    with eng.connect() as conn:
        row = conn.execute(select(requests).where(
            requests.c.dag_id == dag_id, requests.c.run_id == run_id, requests.c.task_id == task_id,
            requests.c.map_index == map_index, requests.c.outcome.is_(None),
        ).order_by(requests.c.id.desc()).limit(1)).mappings().first()
    return dict(row) if row else None


def find_requests(run_id: str, task_id: str, dag_id: str | None = None,
                  url: str | None = None) -> list[dict[str, Any]]:
    eng = db.ensure_tables(url)
    q = select(requests).where(requests.c.run_id == run_id, requests.c.task_id == task_id)
    if dag_id:
        q = q.where(requests.c.dag_id == dag_id)
    with eng.connect() as conn:
        return [dict(r) for r in conn.execute(q.order_by(requests.c.id)).mappings()]


def is_request(channel: str, ts: str, url: str | None = None) -> bool:
    eng = db.ensure_tables(url)
    with eng.connect() as conn:
        return conn.execute(select(requests.c.id).where(
            requests.c.channel == channel, requests.c.ts == ts).limit(1)).first() is not None


def record_decision(*, channel: str, ts: str, reaction: str, user: str, source: str,
                    url: str | None = None) -> None:
    eng = db.ensure_tables(url)
    with eng.begin() as conn:
        conn.execute(insert(decisions).values(channel=channel, ts=ts, reaction=reaction, user=user,
                                              source=source, created_at=utcnow()))


def decisions_for(messages: Iterable[tuple[str, str]], url: str | None = None) -> dict[tuple[str, str], list[dict]]:
    """Recorded decisions of many messages in ONE query (the poller asks for all its pending at once)."""
    keys = list(messages)
    if not keys:
        return {}
    eng = db.ensure_tables(url)
    by_channel: dict[str, list[str]] = {}
    for ch, ts in keys:
        by_channel.setdefault(ch, []).append(ts)
    cond = or_(*(and_(decisions.c.channel == ch, decisions.c.ts.in_(tss)) for ch, tss in by_channel.items()))
    out: dict[tuple[str, str], list[dict]] = {}
    with eng.connect() as conn:
        for r in conn.execute(select(decisions).where(cond).order_by(decisions.c.id)).mappings():
            out.setdefault((r["channel"], r["ts"]), []).append({
                "reaction": r["reaction"], "user": r["user"], "source": r["source"],
                "decided_at": _iso(r["created_at"]),
            })
    return out


def record_outcome(*, channel: str, ts: str, outcome: str, reaction: str | None, user: str | None,
                   decided_at: datetime, url: str | None = None) -> None:
    eng = db.ensure_tables(url)
    with eng.begin() as conn:
        conn.execute(update(requests).where(
            requests.c.channel == channel, requests.c.ts == ts, requests.c.outcome.is_(None),
        ).values(outcome=outcome, reaction=reaction, decided_by=user, decided_at=decided_at))


def _iso(dt: datetime) -> str:
    if dt.tzinfo is None:  # SQLite hands naive datetimes back
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.isoformat()
