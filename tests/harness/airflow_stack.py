"""A real Airflow 3.3 stack (api-server, scheduler, dag-processor, triggerer) for integration tests.

Why a harness and not mocks: the relay, the DAG factory and the approval sensor are only correct if real
Airflow accepts what they produce. It is the product's own launcher (`aof_lab.local.stack.LocalAirflow`,
what `make demo` runs) in a temp AIRFLOW_HOME, so the tests prove the configuration users get; stopping
kills whole process groups, so no orphan keeps a port or the SQLite file busy.

    with AirflowStack(dags_dir, env={"AIRFLOW_CONN_SLACK_DEFAULT": ...}) as af:
        af.wait_for_dag("my_dag")
        af.trigger("my_dag", {"x": 1}, run_id="r1")
        assert af.wait_for_run("my_dag", "r1") == "success"
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Iterable, Mapping

import httpx

from aof_airflow.airflow_rest import AirflowAPIError as StackError
from aof_lab.local.stack import AIRFLOW_PROCESSES as ALL_PROCESSES
from aof_lab.local.stack import LocalAirflow, airflow_bin, free_port

__all__ = ["ALL_PROCESSES", "AirflowStack", "StackError", "airflow_bin", "free_port"]
PASSWORD = "admin"


class AirflowStack:
    """Real Airflow processes under a temp AIRFLOW_HOME; use as a context manager."""

    def __init__(
        self,
        dags_folder: str | os.PathLike[str],
        *,
        processes: Iterable[str] = ALL_PROCESSES,
        env: Mapping[str, str] | None = None,
        config: Mapping[str, Mapping[str, Any]] | None = None,
        startup_timeout: float = 300.0,  # an api-server (re)start took >120 s at load 17
        keep_home: bool = False,
    ) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="aof-airflow-"))
        self.keep_home = keep_home
        self._af = LocalAirflow(self.home, Path(dags_folder), processes=processes, env=env, config=config,
                                password=PASSWORD, startup_timeout=startup_timeout)
        self.dags_folder = self._af.dags_folder
        self.processes = self._af.processes
        self.port, self.base_url = self._af.port, self._af.base_url
        self.username, self.password = self._af.username, self._af.password
        self.startup_seconds: float | None = None

    def __enter__(self) -> AirflowStack:
        try:
            self.start()
        except BaseException:
            self.dump_logs()
            self.stop()
            raise
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.dump_logs()
        self.stop()

    def start(self) -> None:
        self._af.start()
        self.startup_seconds = self._af.startup_seconds

    def stop(self) -> None:
        self._af.stop()
        if not self.keep_home:
            shutil.rmtree(self.home, ignore_errors=True)

    @property
    def env(self) -> dict[str, str]:
        """The environment the Airflow processes run with (for `airflow ...` CLI calls in tests)."""
        return dict(self._af.env)

    @property
    def db_url(self) -> str:
        return self._af.db_url

    def airflow(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        """Run an `airflow ...` CLI command against this stack."""
        return subprocess.run([airflow_bin(), *args], env=self._af.env, capture_output=True, text=True,
                              timeout=timeout, cwd=self.home, start_new_session=True)

    # ---------------------------------------------------------------------------------- processes

    def start_process(self, name: str) -> None:
        self._af.start_process(name)

    def stop_process(self, name: str, timeout: float = 15.0) -> None:
        self._af.procs.stop(name, timeout)

    def kill_process(self, name: str, sig: int = 9) -> None:
        """Send `sig` to the whole group (a crash, for fault tests); the process can be started again."""
        self._af.procs.kill(name, sig)

    def is_running(self, name: str) -> bool:
        return self._af.procs.is_running(name)

    # --------------------------------------------------------------------------------------- REST

    def token(self) -> str:
        return self._af.client.token()

    def api(self, method: str, path: str, **kw: Any) -> httpx.Response:
        return self._af.client.api(method, path, **kw)

    def trigger(self, dag_id: str, conf: dict | None = None, run_id: str | None = None) -> dict:
        return self._af.client.trigger(dag_id, conf, run_id)

    def wait_for_dag(self, dag_id: str, timeout: float = 60) -> dict:
        return self._af.client.wait_for_dag(dag_id, timeout)

    def get_run(self, dag_id: str, run_id: str) -> dict | None:
        return self._af.client.get_run(dag_id, run_id)

    def list_runs(self, dag_id: str, **params: Any) -> list[dict]:
        return self._af.client.list_runs(dag_id, **params)

    def wait_for_run(self, dag_id: str, run_id: str, states: Iterable[str] = ("success", "failed"),
                     timeout: float = 120) -> str:
        return self._af.client.wait_for_run(dag_id, run_id, states, timeout)

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        return self._af.client.task_states(dag_id, run_id)

    def import_errors(self) -> list[dict]:
        return self._af.client.import_errors()

    # -------------------------------------------------------------------------------- diagnostics

    def log_text(self, name: str) -> str:
        p = self._af.procs.log_path(name)
        return p.read_text(errors="replace") if p.exists() else ""

    def dump_logs(self, tail: int = 12000) -> None:
        """Print the tail of every process log (called on failure)."""
        self._af.dump_logs(tail)
