"""`pip install .` is the product alone: a clean venv gets no lab and no test code, and Airflow still builds
the seed DAG from `dags/` with it (docs/architecture.md: nothing in the product imports the lab)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def clean_venv():
    where = Path(tempfile.mkdtemp(prefix="aof-product-venv-"))
    try:
        subprocess.run([sys.executable, "-m", "venv", str(where)], check=True, timeout=120)
        pip = subprocess.run([str(where / "bin" / "pip"), "install", "-q", "-c", str(ROOT / "constraints.txt"), str(ROOT)],
                             capture_output=True, text=True, timeout=900)
        assert pip.returncode == 0, pip.stderr[-3000:]
        yield where
    finally:
        shutil.rmtree(where, ignore_errors=True)


def _run(venv: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(venv / "bin" / args[0]), *args[1:]], capture_output=True, text=True, timeout=300,
                          cwd=tempfile.gettempdir(), env=env)


def test_the_product_installs_without_the_lab_or_tests(clean_venv):
    probe = ("import importlib.util as u; "
             "print(sorted(m for m in ('aof_airflow', 'aof_lab', 'tests', 'pytest', 'hypothesis') if u.find_spec(m)))")
    out = _run(clean_venv, "python", "-c", probe)
    assert out.stdout.strip() == "['aof_airflow']", out.stdout + out.stderr
    files = _run(clean_venv, "pip", "show", "-f", "aof-airflow").stdout
    assert "sandbox" not in files and "scenarios" not in files and "aof_lab" not in files


def test_airflow_builds_the_seed_dag_with_the_product_alone(clean_venv):
    home = Path(tempfile.mkdtemp(prefix="aof-product-home-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AOF_"))}
    env.update(AIRFLOW_HOME=str(home), AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "dags"),
               AIRFLOW__CORE__LOAD_EXAMPLES="False", PATH=f"{clean_venv / 'bin'}:{env.get('PATH', '')}")
    try:
        assert _run(clean_venv, "airflow", "db", "migrate", env=env).returncode == 0
        listed = _run(clean_venv, "airflow", "dags", "list", "--local", "-o", "plain", env=env)
        assert listed.returncode == 0, listed.stderr[-3000:]
        dags = {line.split()[0] for line in listed.stdout.splitlines() if line.strip()}
        assert {"incident-auto-response", "post-incident-daily"} <= dags, listed.stdout
        errors = _run(clean_venv, "airflow", "dags", "list-import-errors", "--local", "-o", "plain", env=env)
        assert errors.returncode == 0 and "aof_flows" not in errors.stdout, errors.stdout + errors.stderr
    finally:
        shutil.rmtree(home, ignore_errors=True)
