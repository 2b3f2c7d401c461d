"""The tutorial's Steps 5 and 6 for real: Airflow's four processes, the relay, the sandbox, the seed YAML as written.

TEST001 is auto-remediated, verified, announced and resolved in PagerDuty; TEST002 (critical) waits deferred
until an approver clicks ✅ on the sandbox's Slack page in headless Chromium; TEST003's restart does not heal
the cluster, so the run rolls back and escalates, and its PagerDuty incident stays open.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page

from aof_lab.local.demo import CREDENTIALS, FLOW, DemoSystem
from aof_lab.sandbox.scenario import load_scenario
from tests.harness.browser import chromium, page  # noqa: F401  (pytest fixtures)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1500)]

ROOT = Path(__file__).resolve().parents[2]
PAYLOADS = ROOT / "examples" / "payloads"
SETTLE = 900  # seconds: generous, CI machines are small and shared


@pytest.fixture(scope="module")
def system(request):
    # Not tmp_path: pytest keeps only its last three temp dirs, and a concurrent session would delete
    # this Airflow's home (its SQLite DB included) under the running processes.
    state = Path(tempfile.mkdtemp(prefix="aof-e2e-"))
    environ = {k: v for k, v in os.environ.items() if k not in {n for names in CREDENTIALS.values() for n in names}}
    for inc in ("TEST001", "TEST002", "TEST003"):
        Path(f"/tmp/incident-{inc}.json").unlink(missing_ok=True)
    demo = DemoSystem(state, ROOT / "dags", port=0, relay_port=0, environ=environ,
                      extra_env={"AOF_RULES_VERIFY_WINDOW": "10"})
    with demo:
        for body in (json.loads((PAYLOADS / "test1-noncritical.json").read_text()),
                     json.loads((PAYLOADS / "test2-critical.json").read_text()),
                     load_scenario("remediation-fails-verification").payload()):
            r = demo.send(body)
            assert r.status_code == 202, r.text
        yield demo
    if request.session.testsfailed:
        print(f"\nkept the e2e state for a look: {state}")
    else:
        shutil.rmtree(state, ignore_errors=True)


class Tasks(dict):
    """Task states, and the failed tasks' logs to show when an expectation about them fails."""

    logs = ""

    def expect(self, ok: bool, what: str) -> None:
        if not ok:  # pytest.fail: an assert's message would be cut short, and the logs are the point
            pytest.fail(f"{what}\ntask states: {dict(self)}\n{self.logs}", pytrace=False)


def settle(system: DemoSystem, run_id: str, states=("success", "failed")) -> tuple[str, Tasks]:
    client = system.airflow.client
    system.wait_for_run(run_id)
    state = client.wait_for_run(FLOW, run_id, states=states, timeout=SETTLE)
    tasks = Tasks(client.task_states(FLOW, run_id))
    base = system.airflow.home / "logs" / "tasks" / f"dag_id={FLOW}" / f"run_id={run_id}"
    tasks.logs = "\n".join(f"--- {p.relative_to(base)}\n{p.read_text(errors='replace')[-4000:]}"
                            for t, st in tasks.items() if st == "failed"
                            for p in sorted((base / f"task_id={t}").glob("*.log")))
    return state, tasks


def slack_texts(system: DemoSystem) -> list[str]:
    return [m["text"] for m in system.sandbox.slack.messages("#incidents")]


def pd_writes(system: DemoSystem, incident: str) -> list:
    return [r for r in system.sandbox.pagerduty.requests if r.method == "PUT" and r.path == f"/incidents/{incident}"]


def test_test001_is_auto_remediated_verified_and_resolved(system):
    state, tasks = settle(system, "pd-TEST001")
    tasks.expect(state == "success", 'state == "success"')
    ran = {"parse-alert", "diagnose", "notify-diagnosis", "check-severity", "auto-approve", "remediate", "verify-fix",
           "remediation-failed", "notify-success", "close-pagerduty", "log-incident"}
    tasks.expect({t for t, s in tasks.items() if s == "success"} == ran, '{t for t, s in tasks.items() if s == "success"} == ran')
    tasks.expect({t for t, s in tasks.items() if s == "skipped"} == {"request-approval", "rollback", "escalate"}, '{t for t, s in tasks.items() if s == "skipped"} == {"request-approval", "rollback", "escalate"}')
    (put,) = pd_writes(system, "TEST001")
    assert put.status == 200 and put.headers.get("From")
    assert put.body["incident"]["status"] == "resolved"
    assert "Auto-resolved by AOF: " in put.body["incident"]["resolution"]
    texts = slack_texts(system)
    assert any("High memory usage on api-deployment" in t and "Incident Detected" in t for t in texts)
    assert any("Incident Auto-Resolved" in t and "High memory usage on api-deployment" in t for t in texts)
    record = json.loads(Path("/tmp/incident-TEST001.json").read_text())  # the tutorial's own log-incident node
    assert record["incident_id"] == "TEST001" and record["result"] == "success"


def test_test002_waits_deferred_until_an_approver_clicks_in_the_sandbox_page(system, page: Page):
    client = system.airflow.client
    system.wait_for_run("pd-TEST002")
    deadline = time.monotonic() + SETTLE
    while client.task_states(FLOW, "pd-TEST002").get("request-approval") != "deferred":
        assert time.monotonic() < deadline, client.task_states(FLOW, "pd-TEST002")
        time.sleep(1)
    time.sleep(3)
    tasks = Tasks(client.task_states(FLOW, "pd-TEST002"))
    tasks.expect(tasks["request-approval"] == "deferred" and tasks.get("remediate") in (None, "none"), 'tasks["request-approval"] == "deferred" and tasks.get("remediate") in (None, "none")')
    approval = next(m for m in system.sandbox.slack.messages("#incidents") if "Human Approval Required" in m["text"])
    assert "Database cluster down" in approval["text"]

    button = f"#react-white_check_mark-{approval['ts'].replace('.', '-')}"
    page.goto(system.sandbox.slack.page_url("incidents"))
    page.select_option("#user", "U_ONCALL")
    page.click(button)  # waits for the button, then a real mouse click
    page.wait_for_function("document.body.innerText.includes('U_ONCALL') || document.querySelector('.reaction') !== null")

    state, tasks = settle(system, "pd-TEST002")
    tasks.expect(tasks["request-approval"] == "success", 'tasks["request-approval"] == "success"')
    tasks.expect(tasks["remediate"] in ("success", "failed") and tasks["remediate"] != "skipped", 'tasks["remediate"] in ("success", "failed") and tasks["remediate"] != "skipped"')
    tasks.expect(tasks["auto-approve"] == "skipped", 'tasks["auto-approve"] == "skipped"')
    thread = system.sandbox.slack.thread("#incidents", approval["ts"])
    assert any("U_ONCALL" in m["text"] for m in thread[1:]), thread


def test_test003_failed_verification_rolls_back_escalates_and_leaves_pagerduty_open(system):
    state, tasks = settle(system, "pd-TEST003")
    tasks.expect(tasks["remediate"] == "success", 'tasks["remediate"] == "success"')
    tasks.expect(tasks["rollback"] == "success" and tasks["escalate"] == "success", 'tasks["rollback"] == "success" and tasks["escalate"] == "success"')
    tasks.expect(tasks["notify-success"] == "skipped" and tasks["close-pagerduty"] == "skipped", 'tasks["notify-success"] == "skipped" and tasks["close-pagerduty"] == "skipped"')
    assert pd_writes(system, "TEST003") == []
    assert system.sandbox.pagerduty.incident("TEST003")["status"] != "resolved"
    assert any("Auto-Remediation FAILED" in t and "Checkout pods OOMKilled" in t for t in slack_texts(system))
