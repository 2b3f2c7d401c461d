from __future__ import annotations

import pytest


@pytest.fixture
def db(tmp_path, monkeypatch):
    """Our tables on a fresh SQLite file (AOF_DATABASE_URL), as aofctl and the report see them."""
    from aof_airflow.db import ensure_tables

    url = f"sqlite:///{tmp_path / 'aof.db'}"
    monkeypatch.setenv("AOF_DATABASE_URL", url)
    return ensure_tables(url)
