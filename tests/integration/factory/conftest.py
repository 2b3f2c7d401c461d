"""A private Airflow home (SQLite, migrated once) whose dags folder holds aof_flows.py + the seed flow and agents,
the Slack and PagerDuty stand-ins, and `run_flow(...)`: one `dag.test` in a subprocess that sees them all."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest

from aof_lab.sandbox.pagerduty import PagerDutyAPI
from aof_lab.sandbox.slack import SlackWebAPI
from tests.harness.in_process import in_process_env

REPO = Path(__file__).resolve().parents[3]
RUNNER = Path(__file__).with_name("run_flow.py")
PD_FROM = "aof-bot@example.com"


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    home = tmp_path_factory.mktemp("airflow-home")
    dags = home / "dags"
    dags.mkdir()
    shutil.copy(REPO / "dags/aof_flows.py", dags / "aof_flows.py")
    shutil.copytree(REPO / "dags/flows", dags / "flows")
    shutil.copytree(REPO / "dags/agents", dags / "agents")
    (home / "memory").mkdir()
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=in_process_env(home, dags), check=True,
                   capture_output=True, timeout=300)
    return home, dags


@pytest.fixture()
def slack() -> Any:
    with SlackWebAPI() as s:
        yield s


@pytest.fixture()
def pagerduty() -> Any:
    with PagerDutyAPI() as p:
        yield p


@pytest.fixture()
def run_flow(airflow_home, slack, pagerduty, tmp_path) -> Callable[..., dict[str, Any]]:
    """run_flow(payload, llm_env, dag_id=..., extra_env=...) -> {state, tasks: {id: state}, xcom: {...}, ...}."""
    home, dags = airflow_home

    def run(payload: dict[str, Any], llm_env: dict[str, str], *, dag_id: str = "incident-auto-response",
            extra_env: dict[str, str] | None = None) -> dict[str, Any]:
        env = in_process_env(home, dags)
        env.update(llm_env)
        # The scripted model recommends changes with no cluster behind it: there is no evidence for the guard on
        # models' changes to check (agent/action_guard.py; tested against the sandbox cluster in tests/unit/rules).
        env["AOF_MODEL_CHANGES_NEED_EVIDENCE"] = "false"
        env["AIRFLOW_CONN_SLACK_DEFAULT"] = json.dumps(
            {"conn_type": "slack", "password": slack.token, "extra": {"base_url": slack.base_url}})
        host_port = pagerduty.base_url.split("://", 1)[1]
        host, port = host_port.rsplit(":", 1)
        env["AIRFLOW_CONN_PAGERDUTY_DEFAULT"] = json.dumps(
            {"conn_type": "http", "host": host, "port": int(port), "schema": "http", "login": PD_FROM,
             "password": pagerduty.api_key})
        env.update(extra_env or {})
        conf_path, out_path = tmp_path / "conf.json", tmp_path / "out.json"
        conf_path.write_text(json.dumps(payload))
        proc = subprocess.run([sys.executable, str(RUNNER), dag_id, str(conf_path), str(out_path)], env=env,
                              capture_output=True, text=True, timeout=400)
        if proc.returncode != 0 or not out_path.exists():
            raise AssertionError(f"runner failed ({proc.returncode}):\n{proc.stdout[-6000:]}\n{proc.stderr[-6000:]}")
        out = json.loads(out_path.read_text())
        out["log"] = proc.stdout + proc.stderr
        for task, xs in out.get("xcom", {}).items():
            for k, v in xs.items():
                if isinstance(v, str):
                    try:
                        xs[k] = json.loads(v)
                    except ValueError:
                        pass
        return out

    return run
