"""The durable hand-off between the HTTP answer and the Airflow API: a table, not a queue in memory.

A webhook is INSERTed (and committed, together with those arriving alongside it) before the relay
answers 202. Unique constraints do the dedup, so two relay processes on one database cannot both accept
the same delivery: one insert wins, the other's does nothing (ON CONFLICT DO NOTHING) and the relay
answers "duplicate". Dispatchers claim rows with a conditional UPDATE
(a lease), so two of them never deliver the same row at once -- and if they did, the dag_run_id
derived from the occurrence (run_ids.py) makes Airflow answer 409 to the second.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import os
import socket
import sqlite3
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    Float,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    bindparam,
    event,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from aof_airflow import db
from aof_airflow.relay.group_commit import GroupCommit

PENDING, DELIVERED, IGNORED, FAILED = "pending", "delivered", "ignored", "failed"
HELD = "held"  # no run of its own: its target's open run took it, or a hold (relay/signal_gate.py)

outbox = Table(
    "aof_relay_outbox",
    db.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("flow", String(250), nullable=False),
    Column("dag_id", String(250), nullable=False),
    Column("dag_run_id", String(250), nullable=True),  # NULL for recorded-only (ignored) events
    Column("webhook_id", String(250), nullable=True),
    Column("event_type", String(100), nullable=False),
    Column("incident_id", String(100), nullable=False),
    Column("source", String(30), nullable=False),
    Column("needs_details", Integer, nullable=False, default=0),
    Column("conf", Text, nullable=False),
    Column("state", String(20), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", Float, nullable=False),
    Column("claimed_until", Float, nullable=False, default=0.0),
    Column("claimed_by", String(100), nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("delivered_at", Float, nullable=True),
    UniqueConstraint("dag_id", "dag_run_id", name="uq_aof_relay_outbox_run"),
    UniqueConstraint("webhook_id", name="uq_aof_relay_outbox_webhook"),
    Index("ix_aof_relay_outbox_due", "state", "next_attempt_at"),
)

# One row per outbox row the relay reported as not handed over (reports.py): the insert is the claim, so
# two relays on one database post one Slack message, and a restart does not post it again.
reported = Table(
    "aof_relay_reports",
    db.metadata,
    Column("row_id", Integer, primary_key=True, autoincrement=False),
    Column("at", Float, nullable=False),
    Column("posted", Integer, nullable=False, default=0),
    Column("detail", Text, nullable=True),
)


# Built once: SQLAlchemy spends more CPU building a statement than SQLite spends running it.
_DUE = (outbox.c.state == PENDING, outbox.c.next_attempt_at <= bindparam("c_now"),
        outbox.c.claimed_until < bindparam("c_now"))
# write first (no read-then-upgrade lock dance on SQLite); the outer conditions are re-checked on
# Postgres when another relay updated a row in between, so a row is never leased twice
_CLAIM = (update(outbox)
          .where(outbox.c.id.in_(select(outbox.c.id).where(*_DUE).order_by(outbox.c.next_attempt_at, outbox.c.id)
                                 .limit(bindparam("c_limit", type_=Integer)).scalar_subquery()), *_DUE)
          .values(claimed_until=bindparam("c_until"), claimed_by=bindparam("c_token")))
_CLAIMED = select(outbox).where(outbox.c.claimed_by == bindparam("c_token")).order_by(outbox.c.id)


@functools.cache
def _settle_statement(cols: tuple[str, ...]):
    return (update(outbox).where(outbox.c.id == bindparam("o_id"), outbox.c.claimed_by == bindparam("o_claim"))
            .values({col: bindparam(col) for col in cols}))


@dataclass
class Row:
    id: int
    flow: str
    dag_id: str
    dag_run_id: str
    incident_id: str
    needs_details: bool
    conf: dict[str, Any]
    attempts: int
    claim: str = ""
    created_at: float = 0.0  # when the webhook was accepted (time.time())
    event_type: str = ""


@dataclass(frozen=True)
class Outcome:
    """What became of one claimed row: the column values to write (see delivered/retry/failed)."""
    row: Row
    values: dict[str, Any]


def _with_conf(values: dict[str, Any], conf: dict[str, Any] | None) -> dict[str, Any]:
    if conf is not None:  # custom_details fetched: keep them, do not fetch again
        values.update(conf=json.dumps(conf, separators=(",", ":")), needs_details=0)
    return values


def delivered(row: Row, note: str | None = None, conf: dict[str, Any] | None = None) -> Outcome:
    return Outcome(row, _with_conf(dict(state=DELIVERED, delivered_at=time.time(), claimed_until=0.0,
                                        attempts=row.attempts + 1, last_error=note), conf))


def retry(row: Row, error: str, delay: float, conf: dict[str, Any] | None = None) -> Outcome:
    return Outcome(row, _with_conf(dict(attempts=row.attempts + 1, last_error=error[:2000],
                                        next_attempt_at=time.time() + delay, claimed_until=0.0), conf))


def held(row: Row, note: str, conf: dict[str, Any] | None = None) -> Outcome:
    return Outcome(row, _with_conf(dict(state=HELD, delivered_at=time.time(), claimed_until=0.0,
                                        attempts=row.attempts + 1, last_error=note[:2000]), conf))


def failed(row: Row, error: str) -> Outcome:
    return Outcome(row, dict(state=FAILED, attempts=row.attempts + 1, last_error=error[:2000], claimed_until=0.0))


_tuned: set[str] = set()
_sqlite_writers: dict[str, threading.Lock] = {}


def _writer_lock(url: str) -> contextlib.AbstractContextManager:
    """One writer at a time per SQLite file in this process.

    SQLite lets one transaction write; the others wait in its busy handler, which sleeps in steps of up
    to 100 ms. Under a burst of webhooks those sleeps, not the inserts, made the 202 slow; queueing on a
    lock hands the file over in microseconds. Postgres needs no such thing.
    """
    if not url.startswith("sqlite"):
        return contextlib.nullcontext()
    return _sqlite_writers.setdefault(url, threading.Lock())


def _tune_sqlite(url: str, synchronous: str) -> None:
    """A relay-only SQLite file: WAL (readers never block the 202's insert) and the chosen fsync policy.

    synchronous=FULL (default) fsyncs the WAL on every commit: an accepted webhook survives a power
    loss. NORMAL survives a crash of the relay process but not of the machine; it is much faster on slow
    disks. Never applied to Airflow's own metadata DB, whose journal mode is Airflow's business.
    """
    if not url.startswith("sqlite") or url in _tuned:
        return
    mode = synchronous.upper()
    if mode not in ("FULL", "NORMAL", "EXTRA"):
        raise ValueError(f"relay_sqlite_synchronous must be FULL, NORMAL or EXTRA, not {synchronous!r}")
    eng = db.engine(url)

    def _pragmas(dbapi_conn, _record) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA synchronous={mode}")
        cur.close()

    event.listen(eng, "connect", _pragmas)
    eng.dispose()  # connections made before the listener get replaced
    _tuned.add(url)


def _insert_or_skip(dialect: str):
    """INSERT .. ON CONFLICT DO NOTHING RETURNING id where the database has it (SQLite >= 3.35, Postgres)."""
    if dialect == "sqlite" and sqlite3.sqlite_version_info >= (3, 35):
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    elif dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        return None
    return dialect_insert(outbox).on_conflict_do_nothing().returning(outbox.c.id)


class Outbox:
    def __init__(self, url: str | None = None, sqlite_synchronous: str = "FULL") -> None:
        if url:
            _tune_sqlite(url, sqlite_synchronous)
        self.engine: Engine = db.ensure_tables(url)
        self._writing = _writer_lock(str(self.engine.url))
        self._insert_or_skip = _insert_or_skip(self.engine.dialect.name)
        self._adds: GroupCommit[dict[str, Any], int | None] = GroupCommit(self._insert_many, name="aof-relay-outbox")
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._claims = itertools.count()

    def close(self) -> None:
        self._adds.close()

    def ping(self) -> None:
        with self.engine.connect() as c:
            c.execute(select(func.count()).select_from(outbox).where(outbox.c.id < 0))

    def add(self, **row: Any) -> int | None:
        """Store one accepted webhook, committed when this returns; None if it duplicates an earlier one
        (same webhook id or run). Concurrent calls share a transaction (see group_commit.py)."""
        return self.add_future(**row).result()

    def add_future(self, *, flow: str, dag_id: str, dag_run_id: str | None, webhook_id: str | None, event_type: str,
                   incident_id: str, source: str, needs_details: bool, conf: dict[str, Any],
                   state: str = PENDING, last_error: str | None = None) -> Future:
        """`add` without waiting: the Future's result is the row id (or None) once committed."""
        now = time.time()
        return self._adds.submit(dict(
            flow=flow, dag_id=dag_id, dag_run_id=dag_run_id, webhook_id=webhook_id, event_type=event_type,
            incident_id=incident_id, source=source, needs_details=int(needs_details),
            conf=json.dumps(conf, separators=(",", ":")), state=state, attempts=0, next_attempt_at=now,
            claimed_until=0.0, created_at=now, last_error=last_error))

    def _insert_many(self, rows: list[dict[str, Any]]) -> list[int | None]:
        """One transaction; a row that hits a unique constraint (a duplicate) yields None, the others their id."""
        with self._writing, self.engine.begin() as c:
            if self._insert_or_skip is not None:
                return [c.execute(self._insert_or_skip, row).scalar() for row in rows]
            ids: list[int | None] = []
            for row in rows:  # dialects without ON CONFLICT DO NOTHING: a savepoint per row
                try:
                    with c.begin_nested():
                        ids.append(int(c.execute(insert(outbox).values(**row)).inserted_primary_key[0]))
                except IntegrityError:
                    ids.append(None)
            return ids

    def exists(self, dag_id: str, dag_run_id: str | None, webhook_id: str | None) -> bool:
        conds = [and_(outbox.c.dag_id == dag_id, outbox.c.dag_run_id == dag_run_id)] if dag_run_id else []
        if webhook_id:
            conds.append(outbox.c.webhook_id == webhook_id)
        if not conds:
            return False
        with self.engine.connect() as c:
            return c.execute(select(outbox.c.id).where(or_(*conds)).limit(1)).first() is not None

    def pending_count(self, dag_id: str) -> int:
        with self.engine.connect() as c:
            return int(c.execute(select(func.count()).select_from(outbox).where(
                outbox.c.dag_id == dag_id, outbox.c.state == PENDING)).scalar_one())

    def claim(self, limit: int, lease_seconds: float = 60.0) -> list[Row]:
        """Lease up to `limit` due rows to this worker; a crashed worker's lease simply runs out."""
        now = time.time()
        token = f"{self.worker_id}:{next(self._claims)}"
        with self._writing, self.engine.begin() as c:
            c.execute(_CLAIM, {"c_now": now, "c_limit": limit, "c_until": now + lease_seconds, "c_token": token})
            got = c.execute(_CLAIMED, {"c_token": token}).mappings().all()
        return [Row(r["id"], r["flow"], r["dag_id"], r["dag_run_id"], r["incident_id"], bool(r["needs_details"]),
                    json.loads(r["conf"]), r["attempts"], token, r["created_at"], r["event_type"]) for r in got]

    def settle(self, outcomes: list[Outcome]) -> None:
        """Record what became of claimed rows, all in one transaction (one statement per kind of outcome).
        A row whose lease ran out and was claimed again meanwhile is left to its new holder."""
        kinds: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for o in outcomes:
            kinds.setdefault(tuple(sorted(o.values)), []).append({**o.values, "o_id": o.row.id, "o_claim": o.row.claim})
        if not kinds:
            return
        with self._writing, self.engine.begin() as c:
            for cols, params in kinds.items():
                c.execute(_settle_statement(cols), params)

    def undelivered(self, failed_since: float, pending_before: float, limit: int = 100) -> list[dict[str, Any]]:
        """Rows that did not become a run: failed since `failed_since`, or pending since before `pending_before`
        (Airflow down or refusing for that long), oldest first, without their conf."""
        cols = [c for c in outbox.c if c.name != "conf"]
        q = (select(*cols, reported.c.posted).select_from(outbox.outerjoin(reported, reported.c.row_id == outbox.c.id))
             .where(or_(and_(outbox.c.state == FAILED, outbox.c.created_at >= failed_since),
                        and_(outbox.c.state == PENDING, outbox.c.created_at < pending_before)))
             .order_by(outbox.c.id).limit(limit))
        with self.engine.connect() as c:
            return [dict(r) for r in c.execute(q).mappings()]

    def claim_report(self, row_id: int, retry_before: float) -> bool:
        """True when this process is to report the row: nobody did, or an earlier post failed before `retry_before`."""
        now = time.time()
        with self._writing, self.engine.begin() as c:
            hit = c.execute(select(reported.c.posted, reported.c.at).where(reported.c.row_id == row_id)).first()
            if hit is None:
                try:
                    with c.begin_nested():
                        c.execute(insert(reported).values(row_id=row_id, at=now, posted=0))
                    return True
                except IntegrityError:
                    return False
            if hit.posted or hit.at > retry_before:
                return False
            return c.execute(update(reported).where(reported.c.row_id == row_id, reported.c.at == hit.at)
                             .values(at=now)).rowcount == 1

    def report_done(self, row_id: int, posted: bool, detail: str) -> None:
        with self._writing, self.engine.begin() as c:
            c.execute(update(reported).where(reported.c.row_id == row_id)
                      .values(posted=int(posted), detail=detail[:2000]))

    def rows(self, **where: Any) -> list[dict[str, Any]]:
        """All rows (for `aofctl flow trigger --direct` and tests), oldest first."""
        q = select(outbox).order_by(outbox.c.id)
        for k, v in where.items():
            q = q.where(outbox.c[k] == v)
        with self.engine.connect() as c:
            return [dict(r) for r in c.execute(q).mappings()]
