"""A bad `[aof]` setting stops every real Airflow component at start, naming the setting and what it expects.

Airflow's plugin loader catches an `Exception` from a plugin's import, logs it and runs on without the plugin; before
aof_airflow/plugin.py raised past it, the api-server, scheduler, dag-processor and triggerer all stayed up (and the
api-server healthy) with `shadow_mode = ture`, our listener, relay and limits silently absent, and a Celery
worker's task ran to success.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import pytest

from aof_lab.local.stack import AIRFLOW_PROCESSES, LocalAirflow
from tests.locations import REPO

pytestmark = pytest.mark.integration

CASES = [  # how it is set, the expected words of the error
    ({"env": {"AOF_SHADOW_MODE": "ture"}}, ["setting shadow_mode = 'ture'", "expected a boolean"]),
    ({"config": {"aof": {"remediation_budget": "three"}}},
     ["setting remediation_budget = 'three'", "expected a whole number from 0 to 1000"]),
    ({"config": {"aof": {"shadow_mod": "true"}}}, ["[aof] shadow_mod is not a setting (did you mean shadow_mode?)"]),
]


@pytest.mark.parametrize(("how", "words"), CASES, ids=["AOF_SHADOW_MODE=ture", "[aof] remediation_budget=three",
                                                       "[aof] shadow_mod"])
def test_each_airflow_component_exits_at_start_naming_the_setting(how, words):
    home = Path(tempfile.mkdtemp(prefix="aof-bad-settings-"))
    af = LocalAirflow(home, REPO / "dags", env=how.get("env"), config=how.get("config"))
    try:
        af.write_config()
        af.migrate()
        for name in AIRFLOW_PROCESSES:
            af.procs.start(name, af.argv(name))
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and any(af.procs.exit_code(n) is None for n in AIRFLOW_PROCESSES):
            time.sleep(1)
        codes = {n: af.procs.exit_code(n) for n in AIRFLOW_PROCESSES}
        running = [n for n, c in codes.items() if c is None]
        assert not running, f"still running with a bad setting: {running}"
        for name in AIRFLOW_PROCESSES:
            log = af.procs.log_tail(name, 20000)
            assert codes[name] != 0, (name, log[-2000:])
            assert "aof-airflow: not starting" in log and all(w in log for w in words), (name, log[-3000:])
    finally:
        af.stop()
        shutil.rmtree(home, ignore_errors=True)


MARKER_DAG = '''
import pendulum
from airflow.sdk import DAG, task

with DAG("marker", schedule=None, start_date=pendulum.datetime(2024, 1, 1), catchup=False):
    @task
    def touch(**context):
        open(context["dag_run"].conf["path"], "w").write("ran")
    touch()
'''


def test_a_celery_workers_task_with_a_bad_setting_runs_nothing(tmp_path):
    """The worker (CeleryExecutor, Postgres, Redis) is the one process started with the typo: its task's process
    loads plugins through the Task SDK; the task fails naming the setting, and its body never runs. (Before, the
    SDK's loader went on without our plugin and the task ran.)"""
    from aof_lab.local.processes import ManagedProcesses
    from tests.distributed.services import PostgresDatabase, RedisServer
    from tests.harness import machine

    machine.require_postgres()
    machine.require("redis-server")
    (tmp_path / "dags").mkdir()
    (tmp_path / "dags" / "marker.py").write_text(MARKER_DAG)
    db, redis = PostgresDatabase("aof_badset").start(), RedisServer(tmp_path / "redis").start()
    af = LocalAirflow(tmp_path / "airflow", tmp_path / "dags", celery_workers=1, db_url=db.url, broker_url=redis.url,
                      processes=("api-server", "scheduler", "dag-processor"), startup_timeout=240)
    worker = ManagedProcesses(tmp_path / "worker-logs", {**af.env, "AOF_SHADOW_MODE": "ture"}, cwd=tmp_path)
    try:
        af.write_config()
        af.migrate()
        for name in af.processes:  # not af.start(): that would start a worker of its own, with good settings
            af.procs.start(name, af.argv(name))
        af.wait_api_up()
        worker.start("worker-1", af.argv("worker-1"))
        af.client.wait_for_dag("marker", 120)
        marker = tmp_path / "ran"
        af.client.trigger("marker", {"path": str(marker)}, run_id="bad-setting")
        assert af.client.wait_for_run("marker", "bad-setting", ("success", "failed"), 240) == "failed"
        assert not marker.exists()
        logs = "".join(p.read_text(errors="replace") for p in (tmp_path / "airflow").rglob("attempt=*.log"))
        assert "aof-airflow: not starting: setting shadow_mode = 'ture'" in logs, logs[-3000:]
    finally:
        worker.stop_all()
        af.stop()
        redis.stop()
        db.stop()
