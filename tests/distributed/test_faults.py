"""Faults on the distributed topology: a Celery worker SIGKILLed while `remediate` runs, the scheduler killed
and restarted mid-run, Redis restarted (it keeps nothing on disk: queued Celery messages are lost).

Runs after test_distributed_e2e.py on the same session topology (pytest orders files by name)."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from aof_airflow import db
from aof_airflow.agent.tools.idempotency import actions_table
from aof_lab.local.demo import FLOW
from tests.distributed.faults import crash_worker, task_process_worker
from tests.distributed.topology import HEARTBEAT_TIMEOUT, QUEUED_TIMEOUT, fresh_incident, resolves

pytestmark = [pytest.mark.distributed, pytest.mark.timeout(1200)]

SETTLE = 600
API = "deployment/api"  # high-memory-api's workload: a restart heals it


def change_records(topology, run_id: str) -> list[tuple[str, str]]:
    """(node, command) of every change the agent tools recorded for the run, read from the metadata DB."""
    with db.ensure_tables(topology.db.url).connect() as conn:  # the table appears with the first record
        rows = conn.execute(select(actions_table.c.node_id, actions_table.c.command)
                            .where(actions_table.c.run_id == run_id)).all()
    return [tuple(r) for r in rows]


def api_changes(topology) -> list:
    return [a for a in topology.system.sandbox.kube.actions if a.resource.endswith("/api")]


def remediate_ti(client, dag_id: str, run_id: str) -> dict:
    return next(ti for ti in client.task_instances(dag_id, run_id) if ti["task_id"] == "remediate")


def crash_the_worker_running_remediate(topology, dag_id: str, run_id: str) -> str:
    """Wait until remediate has made (and recorded) its change, then kill the worker that runs it."""
    system = topology.system
    deadline = time.monotonic() + SETTLE
    while not any(node == "remediate" for node, _ in change_records(topology, run_id)):
        tasks = system.airflow.client.task_states(dag_id, run_id)
        assert time.monotonic() < deadline and tasks.get("remediate") not in ("success", "failed"), tasks
        time.sleep(0.3)
    ti = remediate_ti(system.airflow.client, dag_id, run_id)
    assert ti["state"] == "running", ti
    worker = task_process_worker(system.airflow, ti["id"])
    assert worker, f"no worker runs task instance {ti['id']}"
    crash_worker(system.airflow, worker)
    return worker


def restart(topology, name: str) -> None:
    airflow = topology.system.airflow
    airflow.start_process(name)
    time.sleep(2)
    assert airflow.procs.is_running(name), airflow.procs.log_tail(name, 3000)


def test_worker_crash_in_remediate_is_retried_on_the_other_worker_and_the_change_applied_once(topology):
    """The seed flow as written: its nodes leave retries to the deployment's `default_task_retries` (1 here,
    as in docker-compose.yaml). Airflow notices the dead task after the heartbeat timeout and runs it again
    on the surviving worker; the second try finds the change record and does not restart the deployment again.
    (A leaking `api`: the restart is the fix, so remediate acts; TEST003's OOM-at-start is never restarted.)"""
    system = topology.system
    client = system.airflow.client
    run_id = "pd-DIST-CRASH-1"
    before = len(api_changes(topology))
    assert system.send(fresh_incident(system, "high-memory-api", "DIST-CRASH-1")).status_code == 202
    system.wait_for_run(run_id)
    worker = crash_the_worker_running_remediate(topology, FLOW, run_id)
    restarts = api_changes(topology)[before:]
    t_crash = time.monotonic()

    deadline = time.monotonic() + SETTLE
    while (ti := remediate_ti(client, FLOW, run_id))["try_number"] < 2:
        assert time.monotonic() < deadline, ti
        time.sleep(1)
    assert time.monotonic() - t_crash >= HEARTBEAT_TIMEOUT - 5  # noticed by the heartbeat timeout, not sooner
    restart(topology, worker)
    client.wait_for_run(FLOW, run_id, timeout=SETTLE)
    ti = remediate_ti(client, FLOW, run_id)
    assert ti["state"] == "success" and ti["try_number"] == 2, ti
    # the second try found the record and did not restart the deployment again
    after = api_changes(topology)[before:]
    records = change_records(topology, run_id)
    assert len(restarts) == 1 and after == restarts, after
    assert [n for n, _ in records].count("remediate") == 1, records
    assert resolves(system, "DIST-CRASH-1")  # verified and resolved


def test_scheduler_killed_and_restarted_mid_run_the_run_completes(topology):
    system = topology.system
    client = system.airflow.client
    body = fresh_incident(system, "high-memory-api", "DIST-SCHED-1")
    assert system.send(body).status_code == 202
    system.wait_for_run("pd-DIST-SCHED-1")
    deadline = time.monotonic() + SETTLE
    while client.task_states(FLOW, "pd-DIST-SCHED-1").get("parse-alert") != "success":
        assert time.monotonic() < deadline, client.task_states(FLOW, "pd-DIST-SCHED-1")
        time.sleep(0.3)
    system.airflow.procs.kill("scheduler")  # SIGKILL: no graceful hand-over
    time.sleep(5)
    mid = client.task_states(FLOW, "pd-DIST-SCHED-1")
    assert mid.get("close-pagerduty") in (None, "none"), mid  # really mid-run
    restart(topology, "scheduler")
    state = client.wait_for_run(FLOW, "pd-DIST-SCHED-1", timeout=SETTLE)
    assert state == "success", client.task_states(FLOW, "pd-DIST-SCHED-1")
    assert len(resolves(system, "DIST-SCHED-1")) == 1


def test_redis_restarted_with_tasks_queued_no_run_is_lost(topology):
    system = topology.system
    client = system.airflow.client
    ids = [f"DIST-REDIS-{i}" for i in range(1, 4)]
    for inc in ids:
        assert system.send(fresh_incident(system, "high-memory-api", inc)).status_code == 202
    for inc in ids:
        system.wait_for_run(f"pd-{inc}")
    deadline = time.monotonic() + SETTLE
    while not any(s == "queued" for inc in ids for s in client.task_states(FLOW, f"pd-{inc}").values()):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    topology.redis.restart(down_seconds=3)  # nothing on disk: the queued messages are gone
    for inc in ids:
        state = client.wait_for_run(FLOW, f"pd-{inc}", timeout=SETTLE + 3 * QUEUED_TIMEOUT)
        assert state == "success", (inc, client.task_states(FLOW, f"pd-{inc}"))
        assert len(resolves(system, inc)) == 1, inc
