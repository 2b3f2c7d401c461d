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
