"""Where our tables live: `[aof] database_url`, else Airflow's URL -- which Airflow 3 hides from task processes."""

import pytest

from aof_airflow import db


def test_explicit_setting_wins(monkeypatch):
    monkeypatch.setenv("AOF_DATABASE_URL", "sqlite:////tmp/aof-state.db")
    assert db.database_url() == "sqlite:////tmp/aof-state.db"


def test_airflows_url_is_the_default(monkeypatch):
    from airflow.configuration import conf

    monkeypatch.delenv("AOF_DATABASE_URL", raising=False)
    assert db.database_url() == conf.get("database", "sql_alchemy_conn")


def test_a_task_process_without_the_setting_gets_a_clear_error(monkeypatch):
    from airflow.configuration import conf

    monkeypatch.delenv("AOF_DATABASE_URL", raising=False)
    real_get = conf.get

    def blocked(section, key, *args, **kw):  # what Airflow's task supervisor leaves a task process
        return "airflow-db-not-allowed:///" if (section, key) == ("database", "sql_alchemy_conn") else real_get(section, key, *args, **kw)

    monkeypatch.setattr(conf, "get", blocked)
    with pytest.raises(db.StateDatabaseUnavailable, match=r"set \[aof\] database_url \(env AOF_DATABASE_URL\)"):
        db.database_url()


def test_the_local_launcher_tells_every_process(tmp_path):
    from aof_lab.local.stack import LocalAirflow

    af = LocalAirflow(tmp_path / "home", tmp_path / "dags")
    assert af.env["AOF_DATABASE_URL"] == af.env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]


def test_a_table_another_process_creates_meanwhile_is_not_an_error(tmp_path):
    """The relay, a task and the scheduler's listener start together: each looks, sees no table, creates it."""
    from sqlalchemy import Column, Integer, MetaData, Table, create_engine, event, inspect

    from aof_airflow.incidents.records import incidents as table

    url = f"sqlite:///{tmp_path / 'state.db'}"
    twin = Table(table.name, MetaData(), Column("id", Integer, primary_key=True))
    raced: list[str] = []

    def the_other_process_wins(target, connection, **kw):
        if not raced:  # between our look and our CREATE
            raced.append(target.name)
            twin.create(create_engine(url))

    event.listen(table, "before_create", the_other_process_wins)
    try:
        db.create_tables(create_engine(url), [table])
    finally:
        event.remove(table, "before_create", the_other_process_wins)
    assert raced == [table.name]
    assert table.name in inspect(create_engine(url)).get_table_names()


def test_a_failed_create_on_a_callers_connection_leaves_its_transaction_usable(tmp_path):
    """The scheduler's listener creates the table inside the scheduler's own transaction."""
    from sqlalchemy import create_engine, event, inspect, text

    from aof_airflow.incidents.records import incidents as table

    failed: list[str] = []

    def fails_once(target, connection, **kw):
        if not failed:
            failed.append(target.name)
            connection.exec_driver_sql(f"CREATE TABLE {target.name} (id INTEGER)")  # so our CREATE is refused

    eng = create_engine(f"sqlite:///{tmp_path / 'state.db'}")
    event.listen(table, "before_create", fails_once)
    try:
        with eng.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE callers (x INTEGER)")
            db.create_tables(conn, [table])
            conn.execute(text("INSERT INTO callers VALUES (1)"))
    finally:
        event.remove(table, "before_create", fails_once)
    assert failed == [table.name]
    columns = {c["name"] for c in inspect(eng).get_columns(table.name)}
    assert columns == {c.name for c in table.columns}  # ours, not the half-made one
    with eng.connect() as conn:
        assert conn.execute(text("SELECT x FROM callers")).scalar() == 1
