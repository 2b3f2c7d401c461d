"""The tutorial's TEST001 and TEST002 through the distributed topology (Postgres, Redis, two Celery workers,
two relays): what `tests/e2e` proves on one process of each kind must hold when the state is shared."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from aof_lab.local.demo import FLOW
from tests.distributed.topology import ROOT, resolves

pytestmark = [pytest.mark.distributed, pytest.mark.timeout(1200)]

PAYLOADS = ROOT / "examples" / "payloads"
SETTLE = 600


def payload(name: str) -> bytes:
    return (PAYLOADS / name).read_bytes()


def test_same_delivery_to_both_relays_creates_one_run_and_test001_resolves(topology):
    system = topology.system
    body = payload("test1-noncritical.json")
    with ThreadPoolExecutor(2) as pool:  # both relays at the same instant: the dedup is the shared DB's
        answers = list(pool.map(lambda i: system.send(body, webhook_id="dist-delivery-1", relay=i), (0, 1)))
    assert [a.status_code for a in answers] == [202, 202], [a.text for a in answers]
    assert sorted(a.json()["status"] for a in answers) == ["accepted", "duplicate"], [a.text for a in answers]

    system.wait_for_run("pd-TEST001")
    state = system.airflow.client.wait_for_run(FLOW, "pd-TEST001", timeout=SETTLE)
    tasks = system.airflow.client.task_states(FLOW, "pd-TEST001")
    assert state == "success", tasks
    runs = [r for r in system.airflow.client.list_runs(FLOW)
            if (r.get("conf") or {}).get("event", {}).get("incident", {}).get("id") == "TEST001"]
    assert len(runs) == 1, runs
    assert {t for t, s in tasks.items() if s == "skipped"} == {"request-approval", "rollback", "escalate"}, tasks
    (put,) = resolves(system, "TEST001")
    assert put.body["incident"]["status"] == "resolved"
    texts = [m["text"] for m in system.sandbox.slack.messages("#incidents")]
    assert any("Incident Auto-Resolved" in t and "High memory usage on api-deployment" in t for t in texts)
    hosts = {ti.get("hostname") for ti in system.airflow.client.task_instances(FLOW, "pd-TEST001")}
    assert hosts - {None, ""}, "Celery workers record where each task ran"


def test_test002_waits_deferred_until_an_approver_reacts_then_remediates(topology):
    system = topology.system
    client = system.airflow.client
    r = system.send(payload("test2-critical.json"), relay=1)  # the second relay this time
    assert r.status_code == 202, r.text
    system.wait_for_run("pd-TEST002")
    deadline = time.monotonic() + SETTLE
    while client.task_states(FLOW, "pd-TEST002").get("request-approval") != "deferred":
        tasks = client.task_states(FLOW, "pd-TEST002")
        assert time.monotonic() < deadline and "failed" not in tasks.values(), tasks
        time.sleep(1)
    time.sleep(3)  # deferred holds: nothing runs on without a human
    tasks = client.task_states(FLOW, "pd-TEST002")
    assert tasks["request-approval"] == "deferred" and tasks.get("remediate") in (None, "none"), tasks
    assert resolves(system, "TEST002") == []
    approval = next(m for m in system.sandbox.slack.messages("#incidents") if "Human Approval Required" in m["text"])
    assert "Database cluster down" in approval["text"]

    system.sandbox.slack.react("#incidents", approval["ts"], "white_check_mark", "U_ONCALL")
    client.wait_for_run(FLOW, "pd-TEST002", timeout=SETTLE)
    tasks = client.task_states(FLOW, "pd-TEST002")
    assert tasks["request-approval"] == "success" and tasks["auto-approve"] == "skipped", tasks
    assert tasks["remediate"] == "success", tasks
    assert any(a.resource.endswith("postgres") for a in system.sandbox.kube.actions), system.sandbox.kube.actions
    thread = system.sandbox.slack.thread("#incidents", approval["ts"])
    assert any("U_ONCALL" in m["text"] for m in thread[1:]), thread
