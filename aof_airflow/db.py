"""Our tables live in a database we share with Airflow (its metadata DB by default; Postgres with several machines).

Each area declares its own `Table`s on the shared `metadata` below and calls `ensure_tables()` before use;
one engine per URL per process. `[aof] database_url` (env `AOF_DATABASE_URL`) names the database; without it,
Airflow's own URL is used where the process can see it. Airflow 3 hides that URL from task processes (task
code must not reach the metadata DB), so deployments whose tasks keep state of ours -- agent memory on the
`airflow` backend, the remediation change record -- set `database_url` on the workers.
"""

from __future__ import annotations

import threading

from sqlalchemy import MetaData, Table, create_engine, event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DatabaseError

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
        create_tables(eng)
        _created.add(key)
    return eng


def create_tables(bind: Engine | Connection, tables: list[Table] | None = None, attempts: int = 3) -> None:
    """`create_all` that survives another process creating the same tables at the same moment.

    `checkfirst` looks, then creates: the relay, a task and the scheduler's listener starting together all see
    a table missing and one of them gets "already exists" (SQLite) or a unique violation (Postgres). Looking
    again then finds it. On a connection each try is its own savepoint, so a failed CREATE leaves the caller's
    transaction usable.
    """
    for attempt in range(attempts):
        try:
            if isinstance(bind, Connection):
                with bind.begin_nested():
                    metadata.create_all(bind, tables=tables, checkfirst=True)
            else:
                metadata.create_all(bind, tables=tables, checkfirst=True)
            return
        except DatabaseError:
            if attempt == attempts - 1:
                raise
