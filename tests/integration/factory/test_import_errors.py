"""A bad YAML file becomes an Airflow import error of THAT file, with its line, and hides no other flow
(a real DagBag, i.e. Airflow's Python importer, reads the dags folder)."""

from __future__ import annotations

import shutil

import pytest

from tests.fakes.llm_api import FakeLLM

pytestmark = pytest.mark.integration

BROKEN = """\
apiVersion: aof.dev/v1
kind: AgentFlow
metadata:
  name: broken-flow
spec:
  nodes:
    - id: only
      type: Transform
      config:
        scrpt: echo typo
"""


def test_bad_file_is_its_own_import_error(run_flow, airflow_home, tmp_path):
    _, dags = airflow_home
    folder = tmp_path / "dags"
    shutil.copytree(dags, folder)
    (folder / "flows" / "broken.yaml").write_text(BROKEN)
    with FakeLLM() as llm:
        out = run_flow({}, llm.env(), dag_id="no-such-dag", extra_env={"AIRFLOW__CORE__DAGS_FOLDER": str(folder)})
    assert out["dag_ids"] == ["incident-auto-response"]  # the good flow is still there
    assert set(out["import_errors"]) == {"flows/broken.yaml"}, out["import_errors"]
    err = out["import_errors"]["flows/broken.yaml"]
    assert "broken.yaml:10:" in err and "scrpt" in err


def test_seed_folder_imports_without_errors(run_flow):
    with FakeLLM() as llm:
        out = run_flow({}, llm.env(), dag_id="no-such-dag")
    assert out["import_errors"] == {} and out["dag_ids"] == ["incident-auto-response"]
