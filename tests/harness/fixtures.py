"""pytest fixture factory: one real Airflow stack shared by every test of a module or session.

Starting Airflow costs 10-30 s on this machine, so test modules share a stack:

    # tests/integration/foo/conftest.py
    from tests.harness.fixtures import airflow_stack_fixture
    airflow = airflow_stack_fixture(dags={"my_dag.py": SOURCE},
                                    env=lambda request: {"AIRFLOW_CONN_SLACK": request.getfixturevalue("slack_url")})

`dags` is a folder, a {filename: source} dict written to a temp folder, or a callable(folder).
`env` / `config` are dicts or callables(request) -> dict (to point connections at stand-ins that are
themselves fixtures). Process logs are printed at teardown when any test using the stack failed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Union

import pytest

from tests.harness.airflow_stack import ALL_PROCESSES, AirflowStack

DagsSpec = Union[str, os.PathLike, Mapping[str, str], Callable[[Path], Any]]


def _resolve(value: Any, request: pytest.FixtureRequest) -> Any:
    return value(request) if callable(value) else value


def airflow_stack_fixture(
    dags: DagsSpec,
    *,
    scope: str = "module",  # live processes: never kept for the rest of the session
    processes: Iterable[str] = ALL_PROCESSES,
    env: Mapping[str, str] | Callable[[pytest.FixtureRequest], Mapping[str, str]] | None = None,
    config: Mapping[str, Mapping[str, Any]] | Callable[[pytest.FixtureRequest], Mapping] | None = None,
):
    """Return a pytest fixture (assign it to a module-level name) that yields a started AirflowStack."""
    procs = tuple(processes)

    @pytest.fixture(scope=scope)
    def _stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
        if isinstance(dags, (str, os.PathLike)):
            folder = Path(dags)
        else:
            folder = tmp_path_factory.mktemp("dags")
            if callable(dags):
                dags(folder)
            else:
                for name, source in dags.items():
                    (folder / name).parent.mkdir(parents=True, exist_ok=True)
                    (folder / name).write_text(source)
        failed_before = request.session.testsfailed
        with AirflowStack(folder, processes=procs, env=_resolve(env, request),
                          config=_resolve(config, request)) as stack:
            yield stack
            if request.session.testsfailed > failed_before:
                stack.dump_logs()

    return _stack
