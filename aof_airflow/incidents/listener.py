"""Airflow listener: writes the incident record when a run of a flow finishes, whatever path it took.

Where it fires (Airflow 3.3): `DagRun.update_state` in the **scheduler** (success, task_failure,
all_tasks_deadlocked), the scheduler's dagrun-timeout check (`timed_out`), and the **api-server** when a
user marks a run success/failed. Both are server-side processes with ORM access. We write through the
very session that holds the DagRun (`object_session`), inside its transaction: on SQLite a second
connection would wait on the scheduler's own write lock, and the record commits atomically with the
run's final state. A record that cannot be built is logged, never raised: it must not break scheduling.

It also says what the incident came to where Airflow shows it: the run's note (auto-resolved, escalated,
approved by whom, shadow ...). An escalated incident -- remediation failed, rolled back, a human paged --
ends as a FAILED run when the scheduler finishes it: every task did its job, but the flow did not resolve
the incident, and a green run would tell the grid, alerts on failed runs and `max_consecutive_failed_dag_runs`
that nothing needs a human. A person who marks such a run success in the UI is not overruled.
"""

from __future__ import annotations

import logging
from types import ModuleType
from typing import TYPE_CHECKING

from airflow.listeners import hookimpl

from aof_airflow.config import settings
from aof_airflow.incidents import run_note

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow.models.dagrun import DagRun
    from sqlalchemy import Table
    from sqlalchemy.engine import Connection
    from sqlalchemy.orm import Session

    from aof_airflow.incidents.records import IncidentRecord

log = logging.getLogger(__name__)

_tables_ready: set[str] = set()


def _is_flow(dag_run: DagRun) -> bool:
    """Only runs of AgentFlow DAGs (tagged by the factory) or any DAG when `incident_all_dags` is on."""
    if settings().incident_all_dags:
        return True
    dag = getattr(dag_run, "dag", None)
    tags = {str(getattr(t, "name", t)) for t in (getattr(dag, "tags", None) or ())}
    if tags & {"aof", "agentflow"}:
        return True
    conf = getattr(dag_run, "conf", None) or {}
    return isinstance(conf, dict) and isinstance(conf.get("event"), dict) and "incident" in conf["event"]


def record_run(dag_run: DagRun, msg: str | None) -> None:
    from sqlalchemy.orm import object_session  # the plugin loads in every Airflow process: only when a run ends

    from aof_airflow.db import create_tables  # the plugin loads in every Airflow process: only when a run ends
    from aof_airflow.incidents import collector, records  # as above (the collector reads Airflow's models)

    session = object_session(dag_run)
    if session is None:
        # the plugin loads in every Airflow process: only when a run ends
        from airflow.utils.session import create_session

        with create_session() as s:
            _write(s, dag_run, msg, collector, records, create_tables)
        return
    _write(session, dag_run, msg, collector, records, create_tables)


def _write(session: Session, dag_run: DagRun, msg: str | None, collector: ModuleType, records: ModuleType,
           create_tables: Callable[[Connection, list[Table]], None]) -> None:
    # Flush so the run's new state and end_date are visible to our reads in this same transaction.
    # A SAVEPOINT on the session's connection, not `session.begin_nested()`: the scheduler runs this under
    # `prohibit_commit` (any Session commit, even of a nested transaction, raises "UNEXPECTED COMMIT - THIS
    # WILL BREAK HA LOCKS!"). If anything of ours fails, only the savepoint is rolled back and the
    # scheduler's transaction goes on untouched (on Postgres a failed statement would otherwise abort it).
    session.flush()
    conn = session.connection()
    with conn.begin_nested():
        key = str(conn.engine.url)
        if key not in _tables_ready:
            create_tables(conn, [records.incidents])
            _tables_ready.add(key)
        rec = collector.collect(dag_run.dag_id, dag_run.run_id, session=session, msg=msg)
        # The object in hand is the truth (its end_date may not be flushed to the row we read yet).
        collector.apply_run_state(rec, getattr(dag_run.state, "value", dag_run.state), dag_run.start_date,
                                  dag_run.end_date)
        if _fails_the_run(rec, msg):
            # the plugin loads in every Airflow process: only when a run ends
            from airflow.utils.state import DagRunState

            dag_run.set_state(DagRunState.FAILED)
            rec.run_state = "failed"
        records.save(rec, conn)
    _set_note(session, dag_run, run_note.note_text(rec))
    log.info("aof: incident record %s/%s -> %s (run %s)", dag_run.dag_id, dag_run.run_id, rec.result, rec.run_state)


def _fails_the_run(rec: IncidentRecord, msg: str | None) -> bool:
    """An escalation the scheduler is about to call a success (not a person's manual mark)."""
    return rec.result == "escalated" and rec.run_state == "success" and msg == "success"


def _set_note(session: Session, dag_run: DagRun, text: str) -> None:
    """The run's note, unless a person wrote one (a note set in the UI or REST API carries its user id).
    Set on the run as loaded in `session` (the caller's object may be detached, e.g. under `dag.test()`)."""
    from sqlalchemy.orm import object_session  # the plugin loads in every Airflow process: only when a run ends

    if object_session(dag_run) is not session:
        from airflow.models.dagrun import DagRun  # the plugin loads in every Airflow process: only when a run ends

        dag_run = session.get(DagRun, dag_run.id) or dag_run
    current = getattr(dag_run, "dag_run_note", None)
    if current is not None and current.user_id is not None:
        return
    dag_run.note = text


def _safe(dag_run: DagRun, msg: str | None) -> None:
    try:
        if _is_flow(dag_run):
            record_run(dag_run, msg)
    except Exception:  # never let a record break the scheduler
        log.exception("aof: could not write the incident record of %s/%s",
                      getattr(dag_run, "dag_id", "?"), getattr(dag_run, "run_id", "?"))


@hookimpl
def on_dag_run_success(dag_run: DagRun, msg: str) -> None:
    _safe(dag_run, msg)


@hookimpl
def on_dag_run_failed(dag_run: DagRun, msg: str) -> None:
    _safe(dag_run, msg)
