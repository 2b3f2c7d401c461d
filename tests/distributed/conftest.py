"""One distributed topology per test session (starting it costs ~2-3 minutes on this machine): Postgres,
a private Redis, CeleryExecutor with two workers, scheduler, dag-processor, triggerer, api-server, two relays."""

from __future__ import annotations

import pytest

from tests.distributed.topology import Topology, copy_dags
from tests.harness import machine

VERIFY_WINDOW = "15"  # seconds the remediation agent watches after a change: long enough to crash it mid-way


@pytest.fixture(scope="package")  # torn down when tests/distributed ends, not at session end
def topology(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest):
    why = machine.incident_files_of_another_user()  # before the 2-3 minutes of starting the topology
    if why:
        pytest.skip(why)
    machine.require_postgres()  # the machine's server hosts a fresh database
    machine.require("redis-server")  # installed with apt-get when root; a private one runs on a free port
    state = tmp_path_factory.mktemp("distributed")
    dags = copy_dags(state / "dags")
    topo = Topology(state, workers=2, relays=2, dags_folder=dags,
                    extra_env={"AOF_RULES_VERIFY_WINDOW": VERIFY_WINDOW})
    with topo:
        failed_before = request.session.testsfailed
        yield topo
        if request.session.testsfailed > failed_before and topo.system and topo.system.airflow:
            topo.system.airflow.dump_logs(6000)
