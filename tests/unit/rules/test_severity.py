"""Severity from impact: every replica behind a Service pinned at its CPU limit, or logging errors, is high (users
see it now); the same without a Service in front (a worker, an exporter) is not raised by this rule."""

from __future__ import annotations

from aof_airflow.agent.rules.diagnose import severity_for
from aof_airflow.agent.rules.inventory import inventory

from .test_actions import at, deployment, obs, pod

SERVICE = {"metadata": {"name": "api"}, "spec": {"selector": {"app": "api"}}}


def serving(errors: bool = False, cpu: int = 100, service: bool = True):
    d = deployment(replicas=2, ready=2)
    pods = [pod(f"api-{i}", started=at(30)) for i in (1, 2)]
    line = f"{at(0.05)} " + ("error upstream: x509: certificate has expired" if errors else "info served 120 requests")
    return obs(deployment=d, target=d, pods=pods, services=[SERVICE] if service else [],
               logs={"api-1/api": line, "api-2/api": line}, cpu_usage={"api-1": cpu, "api-2": cpu})


def sev(o) -> str:
    return severity_for(o, inventory(o))[0]


def test_errors_in_every_serving_replica_are_high() -> None:
    assert sev(serving()) == "low"
    assert sev(serving(errors=True)) == "high"
    assert sev(serving(errors=True, service=False)) == "medium"


def test_every_serving_replica_at_its_cpu_limit_is_high() -> None:
    assert sev(serving(cpu=995)) == "high"
    assert sev(serving(cpu=995, service=False)) == "medium"
