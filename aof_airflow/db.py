"""Our tables live in the Airflow metadata database (SQLite locally, Postgres with several machines).

Each area declares its own `Table`s on the shared `metadata` below and calls `ensure_tables()` before use;
one engine per URL per process. `AOF_DATABASE_URL` overrides the URL (tests, a relay outside Airflow).
"""

from __future__ import annotations

import os
import threading

from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import Engine

metadata = MetaData()
_engines: dict[str, Engine] = {}
_created: set[str] = set()
_lock = threading.Lock()


def database_url() -> str:
    url = os.environ.get("AOF_DATABASE_URL")
    if url:
        return url
    from airflow.configuration import conf

    return conf.get("database", "sql_alchemy_conn")


def engine(url: str | None = None) -> Engine:
    url = url or database_url()
    with _lock:
        if url not in _engines:
            eng = create_engine(url, pool_pre_ping=True, future=True)
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
    """Create our tables (only ours: Airflow's migrations own the rest) once per process and URL."""
    eng = engine(url)
    key = str(eng.url)
    if key not in _created:
        metadata.create_all(eng, checkfirst=True)
        _created.add(key)
    return eng
