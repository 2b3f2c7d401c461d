"""The incident record table (on the Airflow metadata DB) and its repository.

One row per dag run (`dag_id`, `run_id` unique): the listener upserts it when a run finishes, and
`aofctl`/the daily report/the UI read it. Scalar columns are the ones metrics and filters need; the
complete record (per-node timings, actions with dry-run and snapshot, approval) lives in `record`
as JSON so a new field never needs a migration.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    select,
)
from sqlalchemy.engine import Connection, Engine

from aof_airflow.db import ensure_tables, metadata

# Results a record can end with (the tutorial's outcomes plus the ones it never wrote down).
RESULTS = (
    "auto_resolved",  # remediation succeeded (auto-approved or approved by a human)
    "escalated",  # remediation failed: rolled back and handed to on-call
    "skipped_at_approval",  # a human reacted ❌ / ⏸️, or nobody decided before the approval timed out
    "failed",  # a node failed for good: the run itself failed
    "timed_out",  # the run hit the flow's timeout (dagrun_timeout)
    "no_action",  # the run succeeded without remediating or escalating (e.g. remediation never ran)
)

incidents = Table(
    "aof_incident_records",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dag_id", String(250), nullable=False),
    Column("run_id", String(250), nullable=False),
    Column("incident_id", String(250)),
    Column("title", Text),
    Column("service", String(250)),
    Column("severity", String(32)),
    Column("urgency", String(32)),
    Column("root_cause", Text),
    Column("result", String(32), nullable=False),
    Column("run_state", String(32)),
    Column("approval_outcome", String(32)),  # auto | approved | paused | skipped | timeout | None
    Column("approved_by", String(250)),
    Column("approval_wait_seconds", Float),
    Column("escalated", Boolean, nullable=False, default=False),
    Column("failed_node", String(250)),
    Column("input_tokens", Integer, nullable=False, default=0),
    Column("output_tokens", Integer, nullable=False, default=0),
    Column("started_at", DateTime(timezone=True)),
    Column("ended_at", DateTime(timezone=True)),
    Column("duration_seconds", Float),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("record", JSON, nullable=False),
    UniqueConstraint("dag_id", "run_id", name="uq_aof_incident_records_run"),
)


@dataclass
class IncidentRecord:
    """Everything we know about one run of a flow, whatever path it took."""

    dag_id: str
    run_id: str
    result: str
    run_state: str | None = None
    incident_id: str | None = None
    title: str | None = None
    service: str | None = None
    severity: str | None = None
    urgency: str | None = None
    url: str | None = None
    namespace: str | None = None
    resource: str | None = None
    enrichment: dict[str, Any] | None = None  # set when the run started without its custom details, and why
    root_cause: str | None = None
    recommended_action: str | None = None
    remediation: dict[str, Any] | None = None  # the remediation agent's output (action_taken, result, ...)
    actions: list[dict[str, Any]] = field(default_factory=list)  # each: node, command, dry_run, snapshot, result, ok, shadow
    approval: dict[str, Any] | None = None  # {outcome, reaction, by, wait_seconds, node}
    escalated: bool = False
    escalation: dict[str, Any] | None = None  # {node, reason, rollback}
    failed_node: str | None = None
    error: str | None = None
    usage: dict[str, int] = field(default_factory=lambda: {"input_tokens": 0, "output_tokens": 0, "calls": 0})
    models: dict[str, str] = field(default_factory=dict)  # node -> model that answered ("builtin:k8s-rules" shows)
    nodes: list[dict[str, Any]] = field(default_factory=list)  # node, state, start, end, duration_seconds, try
    started_at: datetime | None = None
    ended_at: datetime | None = None
    duration_seconds: float | None = None
    recorded_at: datetime | None = None

    @property
    def shadow_actions(self) -> list[dict[str, Any]]:
        """Changes shadow mode recorded instead of applying them ("would have run")."""
        return [a for a in self.actions if a.get("shadow")]

    @property
    def approval_outcome(self) -> str | None:
        return (self.approval or {}).get("outcome")

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("started_at", "ended_at", "recorded_at"):
            d[k] = _iso(d[k])
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> IncidentRecord:
        known = {f for f in cls.__dataclass_fields__}
        kw = {k: v for k, v in d.items() if k in known}
        for k in ("started_at", "ended_at", "recorded_at"):
            if isinstance(kw.get(k), str):
                kw[k] = datetime.fromisoformat(kw[k])
        return cls(**kw)

    def row(self) -> dict[str, Any]:
        ap = self.approval or {}
        return {
            "dag_id": self.dag_id,
            "run_id": self.run_id,
            "incident_id": self.incident_id,
            "title": self.title,
            "service": self.service,
            "severity": self.severity,
            "urgency": self.urgency,
            "root_cause": self.root_cause,
            "result": self.result,
            "run_state": self.run_state,
            "approval_outcome": ap.get("outcome"),
            "approved_by": ap.get("by"),
            "approval_wait_seconds": ap.get("wait_seconds"),
            "escalated": bool(self.escalated),
            "failed_node": self.failed_node,
            "input_tokens": int(self.usage.get("input_tokens", 0)),
            "output_tokens": int(self.usage.get("output_tokens", 0)),
            "started_at": _as_utc(self.started_at),
            "ended_at": _as_utc(self.ended_at),
            "duration_seconds": self.duration_seconds,
            "recorded_at": _as_utc(self.recorded_at) or datetime.now(timezone.utc),
            "record": self.to_json(),
        }


def _iso(v: datetime | None) -> str | None:
    return v.isoformat() if isinstance(v, datetime) else v


def _utc(v: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes: everything we store is UTC.
    if v is not None and v.tzinfo is None:
        return v.replace(tzinfo=timezone.utc)
    return v


def _as_utc(v: datetime | None) -> datetime | None:
    # SQLite stores the wall clock only: convert first so string comparison in windows stays correct.
    v = _utc(v)
    return v.astimezone(timezone.utc) if v is not None else None


def save(record: IncidentRecord, conn: Connection | None = None) -> None:
    """Insert or replace the record of (dag_id, run_id): a re-run or a manual state change rewrites it."""
    record.recorded_at = record.recorded_at or datetime.now(timezone.utc)
    row = record.row()
    if conn is None:
        with ensure_tables().begin() as c:
            _upsert(c, row)
    else:
        _upsert(conn, row)


def _upsert(conn: Connection, row: dict[str, Any]) -> None:
    t = incidents
    existing = conn.execute(
        select(t.c.id).where(t.c.dag_id == row["dag_id"], t.c.run_id == row["run_id"])
    ).scalar()
    if existing is None:
        conn.execute(t.insert().values(**row))
    else:
        conn.execute(t.update().where(t.c.id == existing).values(**row))


def _from_row(r: Any) -> IncidentRecord:
    rec = IncidentRecord.from_json(dict(r.record))
    rec.started_at = _utc(r.started_at)
    rec.ended_at = _utc(r.ended_at)
    rec.recorded_at = _utc(r.recorded_at)
    return rec


def get(dag_id: str, run_id: str, engine: Engine | None = None) -> IncidentRecord | None:
    eng = engine or ensure_tables()
    with eng.connect() as c:
        r = c.execute(select(incidents).where(incidents.c.dag_id == dag_id, incidents.c.run_id == run_id)).first()
    return _from_row(r) if r else None


def query(
    *,
    dag_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = None,
    engine: Engine | None = None,
) -> list[IncidentRecord]:
    """Records newest first, by the time the run ended (falling back to when it was recorded)."""
    eng = engine or ensure_tables()
    t = incidents
    when = func.coalesce(t.c.ended_at, t.c.recorded_at)
    stmt = select(t)
    if dag_id:
        stmt = stmt.where(t.c.dag_id == dag_id)
    if since is not None:
        stmt = stmt.where(when >= _utc(since).astimezone(timezone.utc))
    if until is not None:
        stmt = stmt.where(when < _utc(until).astimezone(timezone.utc))
    stmt = stmt.order_by(when.desc(), t.c.id.desc())
    if limit:
        stmt = stmt.limit(limit)
    with eng.connect() as c:
        return [_from_row(r) for r in c.execute(stmt)]


def save_many(records: Iterable[IncidentRecord], engine: Engine | None = None) -> None:
    with (engine or ensure_tables()).begin() as c:
        for r in records:
            save(r, c)
