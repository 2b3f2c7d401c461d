"""The approval sensor on real Airflow (api-server, scheduler, dag-processor, triggerer) + the Slack stand-in.

One stack serves every scenario (each is its own DAG run) because a stack costs ~30 s on this machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest

from aof_lab.sandbox.slack import SlackWebAPI
from tests.harness.airflow_stack import AirflowStack

pytestmark = pytest.mark.integration
SIGNING_SECRET = "test-signing-secret-approvals"

DAG_FILE = textwrap.dedent('''
    from airflow.sdk import DAG, task
    from airflow.sdk.exceptions import AirflowSkipException
    from aof_airflow.approvals.sensor import SlackApprovalSensor

    def build(dag_id, timeout_seconds):
        with DAG(dag_id, schedule=None, catchup=False) as dag:
            ask = SlackApprovalSensor(
                task_id="request-approval", channel="#incidents",
                message="CRITICAL: Human Approval Required\\nReact with ✅ approve, ⏸️ pause, ❌ skip",
                approvers=["U_ONCALL", "S_SRE_LEAD"], timeout_seconds=timeout_seconds)

            @task(task_id="remediate")
            def remediate(ti=None):
                out = ti.xcom_pull(task_ids="request-approval")
                # what the factory's condition `reaction == "white_check_mark"` does
                if out["reaction"] != "white_check_mark":
                    raise AirflowSkipException(f"not approved: {out['outcome']}")
                return {"remediated_by_approval_of": out["user"]}

            ask >> remediate()
        return dag

    approval_wait = build("approval_wait", 900)
    approval_timeout = build("approval_timeout", 12)
''')


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    dags = tmp_path_factory.mktemp("dags")
    (dags / "approval_dags.py").write_text(DAG_FILE)
    slack = SlackWebAPI().start()
    conn = json.dumps({"conn_type": "slack", "password": slack.token, "extra": {"base_url": slack.base_url}})
    stack = AirflowStack(dags, env={
        "AIRFLOW_CONN_SLACK_DEFAULT": conn,
        "AOF_SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "AOF_APPROVAL_POLL_MIN_SECONDS": "1", "AOF_APPROVAL_POLL_MAX_SECONDS": "3",
        "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[3]), os.environ.get("PYTHONPATH", "")]),
    }, keep_home=bool(os.environ.get("AOF_KEEP_HOME")), config={"triggerer": {"triggerer_health_check_threshold": 10}, "core": {"parallelism": 8},
              # this 2-core box is shared with other test runs: let a slow api-server answer the worker
              "workers": {"execution_api_timeout": 90, "execution_api_retries": 10}})
    with stack as af:
        af.wait_for_dag("approval_wait", timeout=120)
        af.wait_for_dag("approval_timeout", timeout=60)
        yield af, slack
    slack.stop()


def wait_task(af, dag_id, run_id, task_id, state, timeout=90.0) -> None:
    deadline = time.monotonic() + timeout
    got = None
    while time.monotonic() < deadline:
        try:
            got = af.task_states(dag_id, run_id).get(task_id)
        except httpx.HTTPError:  # a 2-core box shared with other test runs: the api-server may be slow
            time.sleep(1)
            continue
        if got == state:
            return
        time.sleep(0.5)
    af.dump_logs()
    raise AssertionError(f"{dag_id}/{run_id}/{task_id} is {got!r}, expected {state!r}")


def wait_run(af, dag_id, run_id, timeout=180.0) -> str:
    """Like af.wait_for_run, but a slow api-server answer is retried rather than failing the test."""
    deadline = time.monotonic() + timeout
    state = None
    while time.monotonic() < deadline:
        try:
            run = af.get_run(dag_id, run_id)
        except httpx.HTTPError:
            time.sleep(1)
            continue
        state = run and run["state"]
        if state in ("success", "failed"):
            return state
        time.sleep(0.5)
    af.dump_logs()
    raise AssertionError(f"{dag_id}/{run_id} still {state!r} after {timeout}s")


def states_of(af, dag_id, run_id) -> dict:
    for _ in range(5):
        try:
            return af.task_states(dag_id, run_id)
        except httpx.HTTPError:
            time.sleep(2)
    return af.task_states(dag_id, run_id)


def xcom(af, dag_id, run_id, key, task_id="request-approval"):
    r = af.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}",
               params={"deserialize": "true"})
    return r.json().get("value") if r.status_code == 200 else None


def request_of(af, run_id, dag_id="approval_wait", timeout=60.0) -> dict:
    """The approval message of a run, as the sensor published it (XCom `aof_approval_request`)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            req = xcom(af, dag_id, run_id, "aof_approval_request")
        except httpx.HTTPError:
            req = None
        if req:
            return req
        time.sleep(0.5)
    raise AssertionError(f"no approval request published for {run_id}")


def replies(slack, req) -> list[str]:
    return [m.get("text", "") for m in slack.thread(req["channel"], req["ts"])[1:]]


def start(af, run_id, dag_id="approval_wait") -> dict:
    af.trigger(dag_id, run_id=run_id)
    wait_task(af, dag_id, run_id, "request-approval", "deferred")
    return request_of(af, run_id, dag_id)


def test_decisions_by_reaction(env):
    af, slack = env
    reqs = {r: start(af, r) for r in ("approve", "skip", "pause")}
    # a non-approver's ✅ and the bot's own are ignored: still deferred after several polls
    slack.react(reqs["approve"]["channel"], reqs["approve"]["ts"], "white_check_mark", "U_DEV")
    slack.react(reqs["approve"]["channel"], reqs["approve"]["ts"], "white_check_mark", slack.bot_user_id)
    time.sleep(8)
    assert states_of(af, "approval_wait", "approve")["request-approval"] == "deferred"

    slack.react(reqs["approve"]["channel"], reqs["approve"]["ts"], "white_check_mark", "U_ONCALL")
    slack.react(reqs["skip"]["channel"], reqs["skip"]["ts"], "x", "U_SRE_LEAD")  # via the S_SRE_LEAD group
    slack.react(reqs["pause"]["channel"], reqs["pause"]["ts"], "double_vertical_bar", "U_ONCALL")
    for r in reqs:
        assert wait_run(af, "approval_wait", r, timeout=180) == "success"
    states = {r: states_of(af, "approval_wait", r) for r in reqs}
    assert states["approve"] == {"request-approval": "success", "remediate": "success"}
    assert states["skip"] == {"request-approval": "success", "remediate": "skipped"}
    assert states["pause"] == {"request-approval": "success", "remediate": "skipped"}
    assert any("Approved by <@U_ONCALL>" in t for t in replies(slack, reqs["approve"]))
    assert any("Skipped by <@U_SRE_LEAD>" in t for t in replies(slack, reqs["skip"]))
    assert any("Paused by <@U_ONCALL>" in t for t in replies(slack, reqs["pause"]))
    assert not any("U_DEV" in t for t in replies(slack, reqs["approve"]))
    # the node's output, which the flow's conditions read
    out = xcom(af, "approval_wait", "approve", "return_value")
    assert (out["outcome"], out["user"], out["reaction"]) == ("approved", "U_ONCALL", "white_check_mark")
    assert xcom(af, "approval_wait", "skip", "return_value")["outcome"] == "skipped"
    assert xcom(af, "approval_wait", "pause", "return_value")["outcome"] == "paused"
    # posted with the loud-warning-free text (approvers were configured) and the buttons
    parent = slack.thread(reqs["approve"]["channel"], reqs["approve"]["ts"])[0]
    assert "No approvers" not in parent["text"]
    assert any(b.get("type") == "actions" for b in parent.get("blocks") or [])


def test_timeout_fails_the_gate_and_remediation_does_not_run(env):
    af, slack = env
    req = start(af, "timeout", "approval_timeout")
    assert wait_run(af, "approval_timeout", "timeout", timeout=180) == "failed"
    states = states_of(af, "approval_timeout", "timeout")
    assert states["request-approval"] == "failed"
    assert states["remediate"] == "upstream_failed"
    assert any("timed out" in t for t in replies(slack, req))
    assert xcom(af, "approval_timeout", "timeout", "approval")["outcome"] == "timed_out"


def test_triggerer_sigkill_loses_nothing(env):
    af, slack = env
    req = start(af, "crash")
    af.kill_process("triggerer")
    time.sleep(2)
    # decided while no triggerer runs at all: the reaction waits in Slack
    slack.react(req["channel"], req["ts"], "white_check_mark", "U_SRE_LEAD")
    time.sleep(3)
    assert states_of(af, "approval_wait", "crash")["request-approval"] == "deferred"
    af.start_process("triggerer")
    assert wait_run(af, "approval_wait", "crash", timeout=150) == "success"
    assert states_of(af, "approval_wait", "crash")["remediate"] == "success"
    assert any("Approved by <@U_SRE_LEAD>" in t for t in replies(slack, req))


def test_aofctl_approve_resumes(env):
    af, slack = env
    req = start(af, "cli")
    aofctl = [str(Path(sys.executable).parent / "aofctl")]
    bad = subprocess.run(aofctl + ["approve", "no-such-run", "--decision", "approve", "--user", "U_ONCALL"],
                         env=af.env, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and "no approval waiting" in bad.stderr
    # a non-approver's CLI decision is recorded but does not count
    r = subprocess.run(aofctl + ["approve", "cli", "--decision", "approve", "--user", "U_DEV"],
                       env=af.env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    time.sleep(5)
    assert states_of(af, "approval_wait", "cli")["request-approval"] == "deferred"
    t0 = time.monotonic()
    r = subprocess.run(aofctl + ["approve", "cli", "--decision", "approve", "--user", "U_ONCALL"],
                       env=af.env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert wait_run(af, "approval_wait", "cli", timeout=180) == "success"
    assert states_of(af, "approval_wait", "cli")["remediate"] == "success"
    assert any("Approved by <@U_ONCALL> (via aofctl)" in t for t in replies(slack, req))
    print(f"aofctl approve -> run success in {time.monotonic() - t0:.1f}s")


def test_slack_button_through_the_relay_in_the_api_server(env):
    from urllib.parse import urlencode

    from slack_sdk.signature import SignatureVerifier

    af, slack = env
    req = start(af, "button")

    def click(user: str, decision: str) -> httpx.Response:
        payload = {"type": "block_actions", "user": {"id": user},
                   "container": {"type": "message", "channel_id": req["channel"], "message_ts": req["ts"]},
                   "actions": [{"action_id": f"aof_approval:{decision}", "value": decision}]}
        body = urlencode({"payload": json.dumps(payload)}).encode()
        ts = str(int(time.time()))
        return httpx.post(f"{af.base_url}/aof/relay/slack/actions", content=body, timeout=60, headers={
            "Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": SignatureVerifier(SIGNING_SECRET).generate_signature(timestamp=ts, body=body)})

    forged = httpx.post(f"{af.base_url}/aof/relay/slack/actions", content=b"payload=%7B%7D", timeout=60,
                        headers={"X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": "v0=00"})
    assert forged.status_code == 401
    r = click("U_DEV", "approve")
    assert r.status_code == 200 and r.json()["recorded"] == 1, r.text
    time.sleep(5)
    assert states_of(af, "approval_wait", "button")["request-approval"] == "deferred"
    r = click("U_ONCALL", "pause")
    assert r.status_code == 200 and r.json()["recorded"] == 1, r.text
    assert wait_run(af, "approval_wait", "button", timeout=180) == "success"
    assert states_of(af, "approval_wait", "button")["remediate"] == "skipped"
    assert any("Paused by <@U_ONCALL> (button)" in t for t in replies(slack, req))


# ---------------------------------------------------------------- Airflow's Required Actions (human-in-the-loop)

def hitl(af, run_id, dag_id="approval_wait") -> dict:
    r = af.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/request-approval/-1/hitlDetails")
    assert r.status_code == 200, r.text
    return r.json()


def answer_in_rest_api(af, run_id, option, dag_id="approval_wait") -> httpx.Response:
    return af.api("PATCH", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/request-approval/-1/hitlDetails",
                  json={"chosen_options": [option], "params_input": {}})


def aofctl_approve(af, run_id, decision, user) -> subprocess.CompletedProcess:
    return subprocess.run([str(Path(sys.executable).parent / "aofctl"), "approve", run_id, "--decision", decision,
                           "--user", user], env=af.env, capture_output=True, text=True, timeout=120)


def test_approval_answered_on_airflows_required_actions_page_resumes_the_run(env, tmp_path):
    from tests.harness.airflow_ui import airflow_page

    af, slack = env
    req = start(af, "ui")
    pending = af.api("GET", "/api/v2/dags/~/dagRuns/~/hitlDetails", params={"response_received": "false"}).json()
    mine = [h for h in pending["hitl_details"] if h["task_instance"]["dag_run_id"] == "ui"]
    assert [h["options"] for h in mine] == [["Approve", "Pause", "Skip"]], pending
    assert mine[0]["task_instance"]["state"] == "deferred" and "Human Approval Required" in mine[0]["subject"]

    with airflow_page(af.base_url, af.username, af.password, shots=tmp_path) as page:
        page.goto(f"{af.base_url}/required_actions")
        page.get_by_text("approval_wait / ui:", exact=False).first.click()  # the pending row's subject
        page.wait_for_url("**/tasks/request-approval/required_actions")
        page.get_by_role("button", name="Approve", exact=True).click()
        page.get_by_text("from admin", exact=False).first.wait_for()
        page.screenshot(path=str(tmp_path / "answered.png"), full_page=True)

    assert wait_run(af, "approval_wait", "ui", timeout=180) == "success"
    assert states_of(af, "approval_wait", "ui") == {"request-approval": "success", "remediate": "success"}
    out = xcom(af, "approval_wait", "ui", "return_value")
    assert (out["outcome"], out["user"], out["source"]) == ("approved", "admin", "airflow-ui")
    assert any("Approved by admin in Airflow (Required Actions)" in t for t in replies(slack, req))
    # one decision: every later one, from any channel, is refused and told who decided
    assert answer_in_rest_api(af, "ui", "Skip").status_code == 409
    late = aofctl_approve(af, "ui", "skip", "U_ONCALL")
    assert late.returncode == 1 and "already decided by admin via airflow-ui" in late.stderr, late.stderr
    assert hitl(af, "ui")["chosen_options"] == ["Approve"]


def test_a_reaction_is_the_one_decision_for_every_other_channel(env):
    af, slack = env
    req = start(af, "first")
    slack.react(req["channel"], req["ts"], "double_vertical_bar", "U_ONCALL")
    assert wait_run(af, "approval_wait", "first", timeout=180) == "success"
    row = hitl(af, "first")  # Airflow's Required Actions now shows what Slack decided, by whom and where
    assert row["response_received"] and row["chosen_options"] == ["Pause"]
    assert row["params_input"] == {"decided_by": "U_ONCALL", "via": "reaction"}
    assert answer_in_rest_api(af, "first", "Approve").status_code == 409
    late = aofctl_approve(af, "first", "approve", "U_SRE_LEAD")
    assert late.returncode == 1 and "already decided by U_ONCALL via reaction" in late.stderr, late.stderr
    assert states_of(af, "approval_wait", "first")["remediate"] == "skipped"
    assert sum("Paused by <@U_ONCALL>" in t for t in replies(slack, req)) == 1
