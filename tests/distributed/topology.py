"""The issue's native multi-process topology on one machine: Postgres, Redis, CeleryExecutor with N workers,
scheduler, dag-processor, triggerer, api-server and two relays -- the same `DemoSystem` the demo runs, with
Airflow's distributed options. Shared by the tests (one per session) and `benchmarks/bench_distributed.py`.

Fault detection is tightened so the fault tests finish in minutes: a task whose worker died is noticed after
`HEARTBEAT_TIMEOUT` seconds (Airflow's default 300), a task whose Celery message was lost (Redis restart) is
re-queued after `QUEUED_TIMEOUT` seconds (default 600).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aof_lab.local.demo import CREDENTIALS, DemoSystem
from tests.distributed.services import PostgresDatabase, RedisServer

ROOT = Path(__file__).resolve().parents[2]
HEARTBEAT_TIMEOUT = 20
QUEUED_TIMEOUT = 90


def airflow_config(workers: int) -> dict[str, dict[str, Any]]:
    """Settings that differ from LocalAirflow's: room for every worker slot, fast fault detection."""
    return {
        # each worker runs --concurrency 4; as in docker-compose.yaml, what dies with its worker runs again
        "core": {"parallelism": 4 * max(1, workers), "default_task_retries": 1},
        # A task's first call to the Execution API can take tens of seconds on a loaded 2-core machine; with
        # the default 5 s the Task SDK retries a PATCH /run the server already applied, gets 400, and fails.
        "workers": {"execution_api_timeout": 120},
        "scheduler": {
            "task_instance_heartbeat_timeout": HEARTBEAT_TIMEOUT,
            "task_instance_heartbeat_timeout_detection_interval": 5,
            "task_queued_timeout": QUEUED_TIMEOUT,
            "task_queued_timeout_check_interval": 10,
        },
    }


def without_credentials() -> dict[str, str]:
    """This process's environment minus real service credentials: the sandbox stands in for all of them."""
    names = {n for group in CREDENTIALS.values() for n in group}
    return {k: v for k, v in os.environ.items() if k not in names}


# one sandbox workload answers several incidents in one session, three of them at once in the Redis test: more
# than the default budget of changes and of concurrent remediations (those guards have their own tests)
# several incidents at once on the sandbox's one leaking workload are these tests' subject (workers, brokers and
# schedulers failing under them), not one remediation per target: each incident gets its run
SESSION_ENV = {"AOF_REMEDIATION_BUDGET": "20", "AOF_MAX_CONCURRENT_REMEDIATIONS": "4",
               "AOF_RELAY_ONE_RUN_PER_TARGET": "false"}


@dataclass
class Topology:
    state_dir: Path
    workers: int = 2
    relays: int = 2
    extra_env: dict[str, str] = field(default_factory=dict)  # added to SESSION_ENV
    dags_folder: Path = ROOT / "dags"
    db: PostgresDatabase | None = None
    redis: RedisServer | None = None
    system: DemoSystem | None = None

    def start(self) -> Topology:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        try:
            self.db = PostgresDatabase().start()
            self.redis = RedisServer(self.state_dir / "redis").start()
            options = {"celery_workers": self.workers, "db_url": self.db.url, "broker_url": self.redis.url,
                       "config": airflow_config(self.workers), "startup_timeout": 240.0}
            self.system = DemoSystem(self.state_dir / "demo", self.dags_folder, port=0, relay_port=0,
                                     environ=without_credentials(), extra_env={**SESSION_ENV, **self.extra_env},
                                     airflow_options=options, relays=self.relays)
            self.system.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.system is not None:
            self.system.stop()
        if self.redis is not None:
            self.redis.stop()
        if self.db is not None:
            self.db.stop()

    def __enter__(self) -> Topology:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def copy_dags(target: Path) -> Path:
    shutil.copytree(ROOT / "dags", target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def fresh_incident(system: DemoSystem, scenario: str, incident_id: str) -> dict:
    """The scenario's webhook payload under a new incident id, opened in the sandbox PagerDuty too (the flow's
    close-pagerduty PUT needs an incident to resolve), with the scenario's workload failing again in the sandbox
    cluster (an earlier test of the session may have healed it)."""
    from aof_lab.sandbox.scenario import load_scenario

    sc = load_scenario(scenario)
    system.sandbox.kube.rearm(sc.name)
    body = sc.payload()
    inc = body["event"]["incident"]
    inc["id"] = incident_id
    inc["html_url"] = f"https://sandbox.pagerduty.invalid/incidents/{incident_id}"
    system.sandbox.pagerduty.add_incident(incident_id, inc["title"], inc["service"]["name"], inc["urgency"],
                                          dict(inc["custom_details"]))
    return body


def resolves(system: DemoSystem, incident_id: str) -> list:
    """PagerDuty PUTs that resolved `incident_id` (the flow's last word to the outside world)."""
    return [r for r in system.sandbox.pagerduty.requests
            if r.method == "PUT" and r.path == f"/incidents/{incident_id}" and r.status == 200]
