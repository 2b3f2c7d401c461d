"""Runs, task instances and task logs of a flow, from the Airflow REST API or straight from the metadata DB.

Why both: an operator's laptop reaches Airflow through the REST API (the relay's settings:
`airflow_api_url`, `airflow_username`, `airflow_password`); on the Airflow host, or in tests,
the metadata DB is enough. The DB path uses plain SQL on Airflow's `dag_run`/`task_instance`
tables so `aofctl` works without importing Airflow's ORM; logs then come from the local log folder.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import text

from aof_airflow.airflow_rest import AirflowAPI
from aof_airflow.config import setting


@dataclass
class Run:
    run_id: str
    state: str | None
    start: str | None
    end: str | None
    conf: dict[str, Any]


@dataclass
class TI:
    task_id: str
    state: str | None
    start: str | None
    end: str | None
    try_number: int
    duration: float | None = None


class LogUnavailable(LookupError):
    """A task log that cannot be read, with the reason (said to the user, never an empty section)."""


class Source(Protocol):
    def runs(self, dag_id: str, limit: int) -> list[Run]: ...
    def task_instances(self, dag_id: str, run_id: str) -> list[TI]: ...
    def log(self, dag_id: str, run_id: str, task_id: str, try_number: int) -> str: ...
    def dag(self, dag_id: str) -> dict[str, Any] | None: ...


def _s(v: Any) -> str | None:
    if v is None:
        return None
    return v.isoformat() if isinstance(v, datetime) else str(v)


def _dur(start: Any, end: Any) -> float | None:
    try:
        a = start if isinstance(start, datetime) else datetime.fromisoformat(str(start))
        b = end if isinstance(end, datetime) else datetime.fromisoformat(str(end))
        return round((b - a).total_seconds(), 3)
    except (TypeError, ValueError):
        return None


class DBSource:
    """Reads Airflow's own tables with plain SQL (SQLite or Postgres) on the shared engine."""

    def __init__(self, engine: Any = None, log_folder: str | None = None) -> None:
        from aof_airflow.db import engine as make_engine  # the metadata DB only for the `db` source

        self.engine = engine or make_engine()
        self.log_folder = log_folder

    def runs(self, dag_id: str, limit: int) -> list[Run]:
        with self.engine.connect() as c:
            rows = c.execute(text(
                "SELECT run_id, state, start_date, end_date, conf FROM dag_run WHERE dag_id = :d "
                "ORDER BY COALESCE(start_date, queued_at) DESC, id DESC LIMIT :n"), {"d": dag_id, "n": limit}).all()
        return [Run(r.run_id, r.state, _s(r.start_date), _s(r.end_date), _conf(r.conf)) for r in rows]

    def task_instances(self, dag_id: str, run_id: str) -> list[TI]:
        with self.engine.connect() as c:
            rows = c.execute(text(
                "SELECT task_id, state, start_date, end_date, try_number FROM task_instance "
                "WHERE dag_id = :d AND run_id = :r AND map_index = -1 ORDER BY start_date, task_id"),
                {"d": dag_id, "r": run_id}).all()
        return [TI(r.task_id, r.state, _s(r.start_date), _s(r.end_date), r.try_number or 0,
                   _dur(r.start_date, r.end_date)) for r in rows]

    def dag(self, dag_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as c:
            r = c.execute(text("SELECT dag_id, is_paused, timetable_summary, max_active_runs FROM dag WHERE dag_id = :d"),
                          {"d": dag_id}).first()
        return dict(r._mapping) if r else None

    def log(self, dag_id: str, run_id: str, task_id: str, try_number: int) -> str:
        folder = Path(self.log_folder or _log_folder())
        p = folder / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}" / f"attempt={try_number}.log"
        if not p.exists():
            raise LogUnavailable(f"no log file {p} (logging.base_log_folder is {folder}; on another host than "
                                 "the workers use --source api)")
        return "\n".join(_fmt_line(ln) for ln in p.read_text(errors="replace").splitlines())


def _log_folder() -> str:
    from airflow.configuration import conf  # Airflow's config only for the `db` source

    return conf.get("logging", "base_log_folder")


def _conf(v: Any) -> dict[str, Any]:
    if isinstance(v, dict):
        return v
    if isinstance(v, (bytes, str)):
        try:
            out = json.loads(v)
            return out if isinstance(out, dict) else {}
        except ValueError:  # pickled conf of old Airflow versions: not ours to read
            return {}
    return {}


def _fmt_line(line: str) -> str:
    """Airflow 3 writes structured (JSON) task-log lines: show them as `time level message`."""
    try:
        d = json.loads(line)
    except ValueError:
        return line
    return _fmt_entry(d) if isinstance(d, dict) else line


def _fmt_entry(d: Any) -> str:
    if not isinstance(d, dict):
        return str(d)
    ts = str(d.get("timestamp", ""))[:19].replace("T", " ")
    lvl = d.get("level", "")
    # The logger says which part spoke (aof_airflow.operators.slack..., slack_sdk..., the triggerer's
    # aof_airflow.approvals...): what `aofctl flow logs NAME | grep slack` finds, like Airflow's UI shows it.
    logger = str(d.get("logger") or "").removeprefix("airflow.task.operators.").removeprefix("airflow.task.")
    line = f"{ts} {lvl:<7} {f'[{logger}] ' if logger else ''}{d.get('event', '')}".rstrip()
    # An exception is logged as structured `error_detail` (type, value, frames): show what failed and why.
    for err in d.get("error_detail") or []:
        if isinstance(err, dict):
            line += f"\n    {err.get('exc_type', 'Error')}: {err.get('exc_value', '')}"
    return line


class APISource:
    """The Airflow 3 REST API (`/api/v2`), JWT from `/auth/token`."""

    def __init__(self, api: Any) -> None:
        self.api = api

    def runs(self, dag_id: str, limit: int) -> list[Run]:
        r = self.api.api("GET", f"/api/v2/dags/{dag_id}/dagRuns", params={"limit": limit, "order_by": "-start_date"})
        if r.status_code == 404:
            return []
        r.raise_for_status()
        return [Run(d["dag_run_id"], d.get("state"), d.get("start_date"), d.get("end_date"), d.get("conf") or {})
                for d in r.json()["dag_runs"]]

    def task_instances(self, dag_id: str, run_id: str) -> list[TI]:
        r = self.api.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 1000})
        r.raise_for_status()
        out = [TI(d["task_id"], d.get("state"), d.get("start_date"), d.get("end_date"), d.get("try_number") or 0,
                  d.get("duration")) for d in r.json()["task_instances"] if d.get("map_index", -1) == -1]
        return sorted(out, key=lambda t: (t.start or "~", t.task_id))

    def dag(self, dag_id: str) -> dict[str, Any] | None:
        r = self.api.api("GET", f"/api/v2/dags/{dag_id}")
        return r.json() if r.status_code == 200 else None

    def log(self, dag_id: str, run_id: str, task_id: str, try_number: int) -> str:
        r = self.api.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}",
                         params={"full_content": "true"}, headers={"Accept": "application/json"})
        if r.status_code in (403, 404):
            raise LogUnavailable(f"Airflow answered {r.status_code} for the log of {task_id} try {try_number}: "
                                 f"{_detail(r)}")
        r.raise_for_status()
        content = r.json().get("content") or []
        if isinstance(content, str):
            return content
        return "\n".join(_fmt_entry(e) if isinstance(e, dict) else str(e) for e in content)


def _detail(r: Any) -> str:
    try:
        return str(r.json().get("detail"))[:300]
    except ValueError:
        return r.text[:300]


def source(kind: str = "auto") -> Source:
    """`api` with the relay's settings, `db` on the metadata DB; `auto`: api when `airflow_api_url` is set."""
    if kind == "auto":
        kind = "api" if setting("airflow_api_url") else "db"
    if kind == "db":
        return DBSource()
    url = setting("airflow_api_url") or "http://127.0.0.1:8080"
    return APISource(AirflowAPI(url, setting("airflow_username") or "", setting("airflow_password") or ""))
