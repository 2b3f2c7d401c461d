"""A bad `[aof]` setting stops every real Airflow component at start, naming the setting and what it expects.

Airflow's plugin loader catches an `Exception` from a plugin's import, logs it and runs on without the plugin; before
aof_airflow/plugin.py raised past it, the api-server, scheduler, dag-processor and triggerer all stayed up (and the
api-server healthy) with `shadow_mode = ture`, our listener, relay and limits silently absent.
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
