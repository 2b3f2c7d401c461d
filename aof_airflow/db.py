"""Our tables live in a database we share with Airflow (its metadata DB by default; Postgres with several machines).

Each area declares its own `Table`s on the shared `metadata` below and calls `ensure_tables()` before use;
one engine per URL per process. `[aof] database_url` (env `AOF_DATABASE_URL`) names the database; without it,
Airflow's own URL is used where the process can see it. Airflow 3 hides that URL from task processes (task
code must not reach the metadata DB), so deployments whose tasks keep state of ours -- agent memory on the
`airflow` backend, the remediation change record -- set `database_url` on the workers.
"""

from __future__ import annotations

import threading

from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError

from aof_airflow.config import settings

metadata = MetaData()
_engines: dict[str, Engine] = {}
_created: set[tuple[str, frozenset[str]]] = set()
_lock = threading.Lock()


class StateDatabaseUnavailable(RuntimeError):
    pass


def database_url() -> str:
    url = settings().database_url
    if url:
        return url
    from airflow.configuration import conf

    url = conf.get("database", "sql_alchemy_conn", fallback="")
    try:
        make_url(url)
    except ArgumentError:
        raise StateDatabaseUnavailable(
            "aof-airflow keeps its state (change records, agent memory, approvals, relay outbox, incident records) "
            "in a database, and this process cannot see Airflow's (Airflow 3 hides it from task processes): set "
            "[aof] database_url (env AOF_DATABASE_URL) to the database our tables live in") from None
    return url


def engine(url: str | None = None) -> Engine:
    url = url or database_url()
    with _lock:
        if url not in _engines:
            # a ping before each checkout guards against a server that dropped the connection; a file has none
            eng = create_engine(url, pool_pre_ping=not url.startswith("sqlite"), future=True)
            if url.startswith("sqlite"):
                event.listen(eng, "connect", _sqlite_pragmas)
            _engines[url] = eng
        return _engines[url]


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    # Airflow's scheduler shares this file: wait for its locks instead of failing at once.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def ensure_tables(url: str | None = None) -> Engine:
    """Create our tables (only ours: Airflow's migrations own the rest) once per process, URL and set of tables
    (a module imported later, e.g. the signal tables after the incident records, adds its own)."""
    eng = engine(url)
    key = (str(eng.url), frozenset(metadata.tables))
    if key not in _created:
        metadata.create_all(eng, checkfirst=True)
        _created.add(key)
    return eng
