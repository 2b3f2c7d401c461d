"""The durable hand-off between the HTTP answer and the Airflow API: a table, not a queue in memory.

A webhook is INSERTed (and committed) before the relay answers 202. Unique constraints do the
dedup, so two relay processes on one database cannot both accept the same delivery: one insert wins,
the other gets IntegrityError and answers "duplicate". Workers claim rows with a conditional UPDATE
(a lease), so two dispatchers never deliver the same row at once -- and if they did, the dag_run_id
derived from the incident makes Airflow answer 409 to the second.
"""

from __future__ import annotations

import itertools
import json
import os
import socket
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (Column, Float, Index, Integer, String, Table, Text, UniqueConstraint, and_, func,
                        event, insert, or_, select, update)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from aof_airflow import db

PENDING, DELIVERED, IGNORED, FAILED = "pending", "delivered", "ignored", "failed"

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


_tuned: set[str] = set()


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


class Outbox:
    def __init__(self, url: str | None = None, sqlite_synchronous: str = "FULL") -> None:
        if url:
            _tune_sqlite(url, sqlite_synchronous)
        self.engine: Engine = db.ensure_tables(url)
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._claims = itertools.count()

    def ping(self) -> None:
        with self.engine.connect() as c:
            c.execute(select(func.count()).select_from(outbox).where(outbox.c.id < 0))

    def add(self, *, flow: str, dag_id: str, dag_run_id: str | None, webhook_id: str | None, event_type: str,
            incident_id: str, source: str, needs_details: bool, conf: dict[str, Any], state: str = PENDING) -> int | None:
        """Store one accepted webhook; None if it duplicates an earlier one (same webhook id or run)."""
        now = time.time()
        try:
            with self.engine.begin() as c:
                r = c.execute(insert(outbox).values(
                    flow=flow, dag_id=dag_id, dag_run_id=dag_run_id, webhook_id=webhook_id, event_type=event_type,
                    incident_id=incident_id, source=source, needs_details=int(needs_details),
                    conf=json.dumps(conf, separators=(",", ":")), state=state, attempts=0, next_attempt_at=now,
                    claimed_until=0.0, created_at=now))
                return int(r.inserted_primary_key[0])
        except IntegrityError:
            return None

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
        due = (outbox.c.state == PENDING, outbox.c.next_attempt_at <= now, outbox.c.claimed_until < now)
        ids = select(outbox.c.id).where(*due).order_by(outbox.c.next_attempt_at, outbox.c.id).limit(limit)
        with self.engine.begin() as c:
            # write first (no read-then-upgrade lock dance on SQLite); the outer conditions are re-checked
            # on Postgres when another relay updated a row in between, so a row is never leased twice
            c.execute(update(outbox).where(outbox.c.id.in_(ids.scalar_subquery()), *due)
                      .values(claimed_until=now + lease_seconds, claimed_by=token))
            got = c.execute(select(outbox).where(outbox.c.claimed_by == token).order_by(outbox.c.id)).mappings().all()
        return [Row(r["id"], r["flow"], r["dag_id"], r["dag_run_id"], r["incident_id"], bool(r["needs_details"]),
                    json.loads(r["conf"]), r["attempts"], token) for r in got]

    def delivered(self, row: Row, note: str | None = None, conf: dict[str, Any] | None = None) -> None:
        values: dict[str, Any] = dict(state=DELIVERED, delivered_at=time.time(), claimed_until=0.0,
                                      attempts=row.attempts + 1, last_error=note)
        if conf is not None:
            values.update(conf=json.dumps(conf, separators=(",", ":")), needs_details=0)
        self._set(row, values)

    def retry(self, row: Row, error: str, delay: float, conf: dict[str, Any] | None = None) -> None:
        values: dict[str, Any] = dict(attempts=row.attempts + 1, last_error=error[:2000],
                                      next_attempt_at=time.time() + delay, claimed_until=0.0)
        if conf is not None:
            values.update(conf=json.dumps(conf, separators=(",", ":")), needs_details=0)
        self._set(row, values)

    def failed(self, row: Row, error: str) -> None:
        self._set(row, dict(state=FAILED, attempts=row.attempts + 1, last_error=error[:2000], claimed_until=0.0))

    def _set(self, row: Row, values: dict[str, Any]) -> None:
        with self.engine.begin() as c:
            c.execute(update(outbox).where(outbox.c.id == row.id, outbox.c.claimed_by == row.claim)
                      .values(**values))

    def rows(self, **where: Any) -> list[dict[str, Any]]:
        """All rows (for `aofctl relay status` and tests), oldest first."""
        q = select(outbox).order_by(outbox.c.id)
        for k, v in where.items():
            q = q.where(outbox.c[k] == v)
        with self.engine.connect() as c:
            return [dict(r) for r in c.execute(q).mappings()]
