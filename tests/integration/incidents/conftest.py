"""A private, migrated Airflow home (SQLite) per test module, and `run_in_airflow(...)` in a subprocess."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest

from tests.harness.in_process import in_process_env

REPO = Path(__file__).resolve().parents[3]
RUNNER = Path(__file__).with_name("run_in_airflow.py")


class Home:
    def __init__(self, root: Path, dag_files: list[Path]) -> None:
        self.home = root
        self.dags = root / "dags"
        self.dags.mkdir(parents=True)
        for f in dag_files:
            shutil.copy(f, self.dags / f.name)
        shutil.copytree(REPO / "dags" / "agents", self.dags / "agents")
        (root / "memory").mkdir()
        self.env = in_process_env(root, self.dags, AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{root / 'airflow.db'}",
                                  AOF_AGENTS_FOLDER=str(self.dags / "agents"))
        self.db_url = self.env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
        subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=self.env, check=True,
                       capture_output=True, timeout=600)

    def run(self, dag_id: str, runs: list[dict[str, Any]], *, extra_env: dict[str, str] | None = None,
            seed: list[dict[str, Any]] | None = None, timeout: float = 900) -> dict[str, Any]:
        tag = runs[0]["name"]
        confs, out = self.home / f"confs-{tag}.json", self.home / f"out-{tag}.json"
        confs.write_text(json.dumps(runs))
        argv = [sys.executable, str(RUNNER), dag_id, str(confs), str(out)]
        if seed is not None:
            (self.home / f"seed-{tag}.json").write_text(json.dumps(seed, default=str))
            argv.append(str(self.home / f"seed-{tag}.json"))
        proc = subprocess.run(argv, env={**self.env, **(extra_env or {})}, capture_output=True, text=True,
                              timeout=timeout)
        if proc.returncode != 0 or not out.exists():
            raise AssertionError(f"runner failed ({proc.returncode}):\n{proc.stdout[-5000:]}\n{proc.stderr[-5000:]}")
        result = json.loads(out.read_text())
        result["log"] = proc.stdout + proc.stderr
        return result


@pytest.fixture(scope="module")
def airflow_home(tmp_path_factory, request) -> Callable[[list[Path]], Home]:
    def make(dag_files: list[Path]) -> Home:
        return Home(tmp_path_factory.mktemp("aof-incidents"), dag_files)
    return make
