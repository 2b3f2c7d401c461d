"""One remediation per target: which run a signal belongs to, and which signals are held back.

A signal is a target resource and an alert name (`<ns>/<kind>/<name>#<alertname>`). While a run for a target is
open, a new signal for that target attaches to it -- recorded here and shown with the run's outcome -- instead of
starting another diagnosis (a bad rollout makes one alert per pod; Alertmanager repeats every
`repeat_interval`). After a run ends with no action or an escalation, the signals it was about start nothing
until they resolve or `suppress_seconds` pass: a human already has it, or the engine already judged it.

Three small tables on our database (the one the incident records live in): the open run per target, the
suppressions per signal, and every decision (`events`), which the incidents page and `aofctl flow logs` show.
A run is open until its incident record exists (the listener writes it when the run ends) or its flow's
timeout has passed; the check is made when the next signal arrives, so no process has to watch.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Column, Float, Index, Integer, String, Table, Text, delete, insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from aof_airflow.db import ensure_tables, metadata
from aof_airflow.incidents.records import incidents  # registers the records table before ensure_tables runs

SUPPRESSING = ("no_action", "escalated", "skipped_at_approval", "failed", "timed_out")
Kind = Literal["start", "attach", "suppress"]

targets = Table(
    "aof_signal_targets", metadata,
    Column("target", String(300), primary_key=True),
    Column("dag_id", String(250), nullable=False),
    Column("run_id", String(250), nullable=False),
    Column("signal", String(500), nullable=False),
    Column("state", String(10), nullable=False),  # open | closed
    Column("outcome", String(32)),
    Column("suppress_seconds", Float, nullable=False),
    Column("opened_at", Float, nullable=False),
    Column("open_until", Float, nullable=False),
    Column("closed_at", Float),
)
suppressions = Table(
    "aof_signal_suppressions", metadata,
    Column("signal", String(500), primary_key=True),
    Column("until", Float, nullable=False),
    Column("dag_id", String(250), nullable=False),
    Column("run_id", String(250), nullable=False),
    Column("outcome", String(32), nullable=False),
)
events = Table(
    "aof_signal_events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("source", String(30), nullable=False),  # alertmanager | pagerduty
    Column("signal", String(500), nullable=False),
    Column("target", String(300)),
    Column("kind", String(20), nullable=False),  # started | attached | suppressed | resolved | no-target
    Column("dag_id", String(250)),
    Column("run_id", String(250)),
    Column("detail", Text),
    Index("ix_aof_signal_events_run", "dag_id", "run_id"),
)


@dataclass(frozen=True)
class Decision:
    kind: Kind
    dag_id: str | None = None
    run_id: str | None = None
    detail: str = ""


@dataclass(frozen=True)
class SignalEvent:
    at: float
    source: str
    signal: str
    kind: str
    run_id: str | None
    detail: str


def _record(c: Connection, now: float, source: str, signal: str, target: str | None, kind: str,
            dag_id: str | None, run_id: str | None, detail: str = "") -> None:
    c.execute(insert(events).values(at=now, source=source, signal=signal[:500], target=target, kind=kind,
                                    dag_id=dag_id, run_id=run_id, detail=detail[:2000]))


def _run_outcome(c: Connection, dag_id: str, run_id: str) -> str | None:
    """The result its incident record ends with, None while the run has none (it is still going)."""
    return c.execute(select(incidents.c.result).where(incidents.c.dag_id == dag_id,
                                                      incidents.c.run_id == run_id)).scalar()


def _close(c: Connection, row, outcome: str, now: float) -> None:
    c.execute(update(targets).where(targets.c.target == row.target, targets.c.run_id == row.run_id)
              .values(state="closed", outcome=outcome, closed_at=now))
    if outcome not in SUPPRESSING or row.suppress_seconds <= 0:
        return
    about = {s for (s,) in c.execute(select(events.c.signal).where(
        events.c.dag_id == row.dag_id, events.c.run_id == row.run_id, events.c.kind.in_(("started", "attached"))))}
    for signal in about | {row.signal}:
        c.execute(delete(suppressions).where(suppressions.c.signal == signal))
        c.execute(insert(suppressions).values(signal=signal, until=now + row.suppress_seconds, dag_id=row.dag_id,
                                              run_id=row.run_id, outcome=outcome))


def _open_run(c: Connection, target: str, now: float):
    """The target's open run, after closing it if its record says it ended (or its time ran out)."""
    row = c.execute(select(targets).where(targets.c.target == target)).first()
    if row is None or row.state != "open":
        return row
    outcome = _run_outcome(c, row.dag_id, row.run_id)
    if outcome is None and now > row.open_until:
        outcome = "timed_out"
    if outcome is not None:
        _close(c, row, outcome, now)
        return c.execute(select(targets).where(targets.c.target == target)).first()
    return row


def admit(signal: str, target: str | None, dag_id: str, run_id: str, *, source: str, suppress_seconds: float,
          open_seconds: float, detail: str = "", engine: Engine | None = None, now: float | None = None) -> Decision:
    """Start a run for this signal, attach it to the target's open run, or hold it back (suppressed)."""
    eng = engine or ensure_tables()
    for _ in range(3):  # a concurrent signal for the same target may win the insert: then we attach
        now_ = time.time() if now is None else now
        try:
            with eng.begin() as c:
                return _admit(c, signal, target, dag_id, run_id, source, suppress_seconds, open_seconds, detail, now_)
        except IntegrityError:
            continue
    raise RuntimeError(f"signal {signal}: could not settle which run it belongs to")


def _admit(c: Connection, signal: str, target: str | None, dag_id: str, run_id: str, source: str,
           suppress_seconds: float, open_seconds: float, detail: str, now: float) -> Decision:
    row = _open_run(c, target, now) if target else None
    if row is not None and row.state == "open":
        _record(c, now, source, signal, target, "attached", row.dag_id, row.run_id, detail)
        return Decision("attach", row.dag_id, row.run_id, f"attached to the open run {row.run_id} for {target}")
    sup = c.execute(select(suppressions).where(suppressions.c.signal == signal)).first()
    if sup is not None and sup.until > now:
        why = (f"suppressed until it resolves or {time.strftime('%H:%M:%S', time.gmtime(sup.until))} UTC: run "
               f"{sup.run_id} ended {sup.outcome}")
        _record(c, now, source, signal, target, "suppressed", sup.dag_id, sup.run_id, detail or why)
        return Decision("suppress", sup.dag_id, sup.run_id, why)
    if target:
        values = dict(dag_id=dag_id, run_id=run_id, signal=signal[:500], state="open", outcome=None,
                      suppress_seconds=float(suppress_seconds), opened_at=now, open_until=now + open_seconds,
                      closed_at=None)
        if row is None:
            c.execute(insert(targets).values(target=target, **values))  # IntegrityError: someone was first
        elif not c.execute(update(targets).where(targets.c.target == target, targets.c.run_id == row.run_id,
                                                 targets.c.state == "closed").values(**values)).rowcount:
            raise IntegrityError("target reopened concurrently", None, Exception())
    _record(c, now, source, signal, target, "started" if target else "no-target", dag_id, run_id, detail)
    return Decision("start", dag_id, run_id, f"started run {run_id}")


def resolve(signal: str, target: str | None, *, source: str, detail: str = "", engine: Engine | None = None,
            now: float | None = None) -> Decision | None:
    """The source says the signal resolved: its suppression ends; recorded on the run it belongs to (returned)."""
    eng = engine or ensure_tables()
    now = time.time() if now is None else now
    with eng.begin() as c:
        c.execute(delete(suppressions).where(suppressions.c.signal == signal))
        row = _open_run(c, target, now) if target else None
        run = c.execute(select(events.c.dag_id, events.c.run_id).where(events.c.signal == signal,
                                                                      events.c.kind.in_(("started", "attached")))
                        .order_by(events.c.id.desc()).limit(1)).first()
        dag_id, run_id = (row.dag_id, row.run_id) if row is not None and row.state == "open" else (
            (run.dag_id, run.run_id) if run else (None, None))
        _record(c, now, source, signal, target, "resolved", dag_id, run_id, detail)
    return Decision("attach", dag_id, run_id, "resolved at the source") if run_id else None


def for_run(dag_id: str, run_id: str, engine: Engine | None = None) -> list[SignalEvent]:
    """What happened to the signals of one run, oldest first (the incidents page, `aofctl flow logs`)."""
    with (engine or ensure_tables()).connect() as c:
        rows = c.execute(select(events).where(events.c.dag_id == dag_id, events.c.run_id == run_id)
                         .order_by(events.c.id)).all()
    return [SignalEvent(r.at, r.source, r.signal, r.kind, r.run_id, r.detail or "") for r in rows]


def events_after(after_id: int = 0, engine: Engine | None = None) -> list[tuple[int, SignalEvent]]:
    """Signal decisions newer than `after_id` (a live view follows them), oldest first."""
    with (engine or ensure_tables()).connect() as c:
        rows = c.execute(select(events).where(events.c.id > after_id).order_by(events.c.id)).all()
    return [(r.id, SignalEvent(r.at, r.source, r.signal, r.kind, r.run_id, r.detail or "")) for r in rows]


def summary(items: list[SignalEvent]) -> str:
    """`1 started, 19 attached, 1 resolved` -- the line the incidents page and the CLI print."""
    counts: dict[str, int] = {}
    for e in items:
        counts[e.kind] = counts.get(e.kind, 0) + 1
    return ", ".join(f"{n} {k}" for k, n in counts.items())


@dataclass(frozen=True)
class RunSignals:
    """The signals one run was about, as the incidents page and `aofctl flow logs` list them."""

    dag_id: str
    run_id: str
    target: str | None
    counts: dict[str, int]
    first_at: float
    last_at: float
    outcome: str  # the run's incident result, or "open" while it has none

    @property
    def summary(self) -> str:
        return ", ".join(f"{n} {k}" for k, n in self.counts.items())


def recent_runs(dag_id: str | None = None, limit: int = 50, engine: Engine | None = None) -> list[RunSignals]:
    """Runs that signals started, attached to or were held back by, newest first, with their outcome."""
    from sqlalchemy import func

    e = events
    stmt = (select(e.c.dag_id, e.c.run_id, func.max(e.c.target), e.c.kind, func.count(), func.min(e.c.at),
                   func.max(e.c.at))
            .where(e.c.run_id.is_not(None)).group_by(e.c.dag_id, e.c.run_id, e.c.kind))
    if dag_id:
        stmt = stmt.where(e.c.dag_id == dag_id)
    order = ("started", "no-target", "attached", "suppressed", "resolved")
    runs: dict[tuple[str, str], dict] = {}
    with (engine or ensure_tables()).connect() as c:
        for d, r, target, kind, n, first, last in c.execute(stmt):
            run = runs.setdefault((d, r), {"target": target, "counts": {}, "first": first, "last": last})
            run["counts"][kind] = n
            run["first"], run["last"] = min(run["first"], first), max(run["last"], last)
            run["target"] = run["target"] or target
        newest = sorted(runs, key=lambda k: runs[k]["last"], reverse=True)[:limit]
        results = {r: res for r, res in c.execute(select(incidents.c.run_id, incidents.c.result).where(
            incidents.c.run_id.in_([r for _, r in newest])))} if newest else {}
    return [RunSignals(d, r, runs[(d, r)]["target"],
                       {k: runs[(d, r)]["counts"][k] for k in order if k in runs[(d, r)]["counts"]},
                       runs[(d, r)]["first"], runs[(d, r)]["last"], results.get(r, "open")) for d, r in newest]
