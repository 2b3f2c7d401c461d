"""The relay in front of a REAL Airflow api-server: tutorial curls, hostile input, dedup, outage."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from aof_airflow.relay import auth
from aof_airflow.relay.run_ids import incident_run_id
from tests.integration.relay.conftest import SIGNING_SECRET
from tests.locations import SEED_PAYLOADS, seed_original
from tests.unit.relay.cases import AUTH, FAILED_NOT_IGNORED, HOSTILE, TOKEN, headers_for, tutorial, v3
from tests.unit.relay.test_ingress_memory import send_gib, status_kb

pytestmark = pytest.mark.integration
DAG = "incident-auto-response"


def all_runs(stack) -> dict[str, dict]:
    runs = {}
    for dag in (DAG, "pd-v3-flow", "pd-reopen-flow"):
        for r in stack.list_runs(dag):
            runs[f"{dag}/{r['dag_run_id']}"] = r
    return runs


def wait_runs(stack, run_ids: set[str], timeout: float = 120) -> dict[str, dict]:
    deadline = time.monotonic() + timeout
    while True:
        runs = all_runs(stack)
        if run_ids <= runs.keys() or time.monotonic() > deadline:
            return runs
        time.sleep(1)


def outbox_rows(workdir: Path) -> list[dict]:
    eng = create_engine(f"sqlite:///{workdir / 'relay-outbox.db'}")
    with eng.connect() as c:
        rows = [dict(r) for r in c.execute(text("select * from aof_relay_outbox order by id")).mappings()]
    eng.dispose()
    return rows


def tutorial_curls() -> list[str]:
    """The two curl commands of the tutorial's Step 6, verbatim. The tutorial's text is not in the repository:
    where it is not beside the checkout, the same commands sending the repository's copies of its payloads."""
    original = seed_original("tutorial-incident-response.md")
    if original is None:
        return [f"curl -X POST https://your-domain.com/pagerduty/webhook \\\n"
                f"  -H \"Authorization: Bearer ${{PAGERDUTY_WEBHOOK_TOKEN}}\" \\\n"
                f"  -H \"Content-Type: application/json\" \\\n"
                f"  --data-binary @{shlex.quote(str(SEED_PAYLOADS / name))}\n"
                for name in ("test1-noncritical.json", "test2-critical.json")]
    md = original.read_text()
    step6 = md[md.index("## Step 6"):md.index("## Step 7")]
    return [b for b in re.findall(r"```bash\n(.*?)```", step6, re.S) if "curl -X POST" in b]


def test_tutorial_curls_create_one_run_each(stack, relays):
    relay, _ = relays
    curls = tutorial_curls()
    assert len(curls) == 2
    for cmd in curls:
        cmd = cmd.replace("https://your-domain.com", relay.url)  # the only change: where the relay listens
        out = subprocess.run(["bash", "-c", cmd.rstrip() + " -sS -w '\\n%{http_code}'"], capture_output=True, text=True,
                             env={**os.environ, "PAGERDUTY_WEBHOOK_TOKEN": TOKEN}, timeout=30)
        assert out.stdout.strip().endswith("202"), (out.stdout, out.stderr)
    runs = wait_runs(stack, {f"{DAG}/pd-TEST001", f"{DAG}/pd-TEST002"})
    for n, name in ((1, "test1-noncritical.json"), (2, "test2-critical.json")):
        run = runs[f"{DAG}/pd-TEST00{n}"]
        assert run["conf"] == json.loads((SEED_PAYLOADS / name).read_text())  # exactly as received
        assert run["logical_date"] is None
        assert stack.wait_for_run(DAG, f"pd-TEST00{n}", timeout=180) == "success"
        x = stack.api("GET", f"/api/v2/dags/{DAG}/dagRuns/pd-TEST00{n}/taskInstances/record/xcomEntries/return_value")
        assert x.json()["value"] == f"TEST00{n}"
    assert sum(1 for k in all_runs(stack) if k.startswith(f"{DAG}/")) == 2


HOSTILE_SIGNED = [
    ("no signature", {}, 401),
    ("signature by a retired secret", {"X-PagerDuty-Signature": "{sig:retired}"}, 403),
    ("signature of another body", {"X-PagerDuty-Signature": "{sig-other}"}, 403),
    ("v0 scheme", {"X-PagerDuty-Signature": "v0=abcdef"}, 401),
    ("garbage", {"X-PagerDuty-Signature": "v1=zz,v1="}, 403),
]


def test_hostile_requests_create_no_run(stack, relays, workdir):
    relay, _ = relays
    before = all_runs(stack)
    rows_before = len(outbox_rows(workdir))
    results = []
    with httpx.Client(base_url=relay.url, timeout=30) as c:
        for name, method, headers, body, status in HOSTILE:
            r = c.request(method, "/pagerduty/webhook", content=body, headers=headers_for(headers))
            results.append((name, r.status_code, status))
        r = c.post("/pagerduty/other", content=b"{}", headers=headers_for(AUTH))
        results.append(("unknown path", r.status_code, 404))
        body = json.dumps(v3("Q9HOSTILE")).encode()
        for name, headers, status in HOSTILE_SIGNED:
            h = {"Content-Type": "application/json"}
            for k, v in headers.items():
                v = v.replace("{sig:retired}", auth.sign(body, "retired"))
                h[k] = v.replace("{sig-other}", auth.sign(body + b" ", SIGNING_SECRET))
            r = c.post("/pagerduty/v3", content=body, headers=h)
            results.append((name, r.status_code, status))
        # Bearer on the signed flow is not its auth
        r = c.post("/pagerduty/v3", content=body, headers=headers_for(AUTH))
        results.append(("bearer instead of signature", r.status_code, 401))
    wrong = [r for r in results if r[1] != r[2]]
    assert not wrong, wrong
    assert len(results) >= 30
    time.sleep(3)  # give the dispatchers every chance to (wrongly) deliver something
    assert all_runs(stack).keys() == before.keys()
    new_rows = outbox_rows(workdir)[rows_before:]
    # every well-authenticated JSON object is recorded (answered 202): as ignored, or as failed (and reported)
    # when it is an incident no run can be made of; nothing else is stored
    assert {r["state"] for r in new_rows} <= {"ignored", "failed"} and len(new_rows) == sum(1 for c in HOSTILE if c[4] == 202)
    assert sorted(r["state"] for r in new_rows).count("failed") == len(FAILED_NOT_IGNORED)


def test_same_delivery_50_times_is_one_run(stack, relays, workdir):
    a, b = relays
    body = json.dumps(tutorial("DUP50")).encode()
    headers = {**headers_for(AUTH), "X-Webhook-Id": "8a1d3a2e-dup50"}

    def send(i: int) -> tuple[int, str]:
        url = (a if i % 2 else b).url  # alternate between two relay processes on one database
        r = httpx.post(f"{url}/pagerduty/webhook", content=body, headers=headers, timeout=30)
        return r.status_code, r.json()["status"]

    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(send, range(50)))
    assert {c for c, _ in got} == {202}
    assert [s for _, s in got].count("accepted") == 1
    runs = wait_runs(stack, {f"{DAG}/pd-DUP50"})
    time.sleep(3)
    assert [k for k in all_runs(stack) if "DUP50" in k] == [f"{DAG}/pd-DUP50"]
    assert [r["state"] for r in outbox_rows(workdir) if r["incident_id"] == "DUP50"] == ["delivered"]
    assert runs[f"{DAG}/pd-DUP50"]["conf"]["event"]["incident"]["id"] == "DUP50"


def test_signed_v3_event_gets_custom_details_from_pagerduty(stack, relays, pagerduty):
    relay, _ = relays
    pagerduty.add_incident("Q1V3REAL", "Disk full on db-1", service="PostgreSQL",
                           details={"namespace": "databases", "resource": "statefulset/pg"})
    body = json.dumps(v3("Q1V3REAL")).encode()
    sig = f"{auth.sign(body, 'old-rotated-out')},{auth.sign(body, SIGNING_SECRET)}"
    r = httpx.post(f"{relay.url}/pagerduty/v3", content=body, timeout=30,
                   headers={"Content-Type": "application/json", "X-PagerDuty-Signature": sig, "X-Webhook-Id": "w-v3-1"})
    assert r.status_code == 202, r.text
    run = wait_runs(stack, {"pd-v3-flow/pd-Q1V3REAL"})["pd-v3-flow/pd-Q1V3REAL"]
    inc = run["conf"]["event"]["incident"]
    assert inc["service"]["name"] == "PostgreSQL" and inc["title"] == "Disk full on db-1"
    assert inc["custom_details"] == {"namespace": "databases", "resource": "statefulset/pg"}
    fetch = [q for q in pagerduty.requests if q.path.startswith("/incidents/Q1V3REAL/alerts")]
    assert fetch and fetch[0].headers.get("Authorization") == "Token token=pd-integration-key-0123"
    assert fetch[0].headers.get("Accept") == "application/vnd.pagerduty+json;version=2"


def test_a_v3_incident_on_a_workload_with_an_open_run_attaches_instead_of_running(stack, relays, workdir, pagerduty):
    """One remediation per target for PagerDuty v3: the target is known once the relay has fetched the incident's
    custom details, and the second incident on the workload becomes no run of its own in Airflow."""
    relay, other = relays
    for iid in ("Q8GATEA", "Q8GATEB"):
        pagerduty.add_incident(iid, "Checkout errors", service="Shop",
                               details={"namespace": "it-gate", "resource": "deployment/checkout"})
    for iid, via in (("Q8GATEA", relay), ("Q8GATEB", other)):
        body = json.dumps(v3(iid)).encode()
        r = httpx.post(f"{via.url}/pagerduty/v3", content=body, timeout=30, headers={
            "Content-Type": "application/json", "X-PagerDuty-Signature": auth.sign(body, SIGNING_SECRET)})
        assert r.status_code == 202 and r.json()["status"] == "accepted", r.text
        if iid == "Q8GATEA":
            wait_runs(stack, {"pd-v3-flow/pd-Q8GATEA"})
    deadline = time.monotonic() + 60
    while (row := next(r for r in outbox_rows(workdir) if r["incident_id"] == "Q8GATEB"))["state"] == "pending":
        assert time.monotonic() < deadline, row
        time.sleep(1)
    assert row["state"] == "held" and "attached to the open run pd-Q8GATEA" in row["last_error"], row
    time.sleep(3)
    runs = all_runs(stack)
    assert "pd-v3-flow/pd-Q8GATEA" in runs and not [k for k in runs if "Q8GATEB" in k]


def test_relay_mounted_in_the_api_server(stack):
    r = httpx.post(f"{stack.base_url}/aof/relay/pagerduty/webhook", content=json.dumps(tutorial("MOUNT1")),
                   headers=headers_for(AUTH), timeout=30)
    assert r.status_code == 202, r.text
    assert httpx.post(f"{stack.base_url}/aof/relay/pagerduty/webhook", content=b"{}", timeout=30,
                      headers={"Content-Type": "application/json"}).status_code == 401
    assert f"{DAG}/pd-MOUNT1" in wait_runs(stack, {f"{DAG}/pd-MOUNT1"})


def test_flow_trigger_cli_goes_through_the_relay(stack, relays, workdir):
    relay, _ = relays
    ev = workdir / "cli-event.json"
    ev.write_text(json.dumps(tutorial("CLI1")))
    aofctl = str(Path(sys.executable).parent / "aofctl")
    env = {**os.environ, "PAGERDUTY_WEBHOOK_TOKEN": TOKEN}
    out = subprocess.run([aofctl, "flow", "trigger", DAG, "--event", str(ev), "--flows", str(workdir / "flows"),
                          "--url", relay.url], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["dag_run_id"] == "pd-CLI1"
    again = subprocess.run([aofctl, "flow", "trigger", DAG, "--event", str(ev), "--flows", str(workdir / "flows"),
                            "--url", relay.url], capture_output=True, text=True, env=env, timeout=60)
    assert json.loads(again.stdout)["status"] == "duplicate"
    assert f"{DAG}/pd-CLI1" in wait_runs(stack, {f"{DAG}/pd-CLI1"})


def test_50_incidents_during_a_30s_api_outage_become_50_runs(stack, relays, workdir):
    a, b = relays
    stack.stop_process("api-server")
    t0 = time.monotonic()
    ids = [f"OUT{i:03d}" for i in range(50)]
    with httpx.Client(timeout=30) as c:
        for i, iid in enumerate(ids):
            r = c.post(f"{(a if i % 2 else b).url}/pagerduty/webhook", content=json.dumps(tutorial(iid)),
                       headers={**headers_for(AUTH), "X-Webhook-Id": f"wh-{iid}"})
            assert r.status_code == 202 and r.json()["status"] == "accepted", r.text
            # PagerDuty redelivers what it thinks timed out: a few duplicates during the outage
            if i % 10 == 0:
                r = c.post(f"{(b if i % 2 else a).url}/pagerduty/webhook", content=json.dumps(tutorial(iid)),
                           headers={**headers_for(AUTH), "X-Webhook-Id": f"wh-{iid}"})
                assert r.json()["status"] == "duplicate"
    time.sleep(max(0.0, 30 - (time.monotonic() - t0)))
    pending = [r for r in outbox_rows(workdir) if r["incident_id"].startswith("OUT")]
    assert len(pending) == 50 and {r["state"] for r in pending} == {"pending"}
    assert all(r["attempts"] >= 1 for r in pending)  # they were tried while Airflow was down
    stack.start_process("api-server")
    want = {f"{DAG}/pd-{i}" for i in ids}
    runs = wait_runs(stack, want, timeout=180)
    assert want <= runs.keys(), sorted(want - runs.keys())[:5]
    time.sleep(3)
    out_runs = [k for k in all_runs(stack) if "/pd-OUT" in k]
    assert len(out_runs) == 50 == len(set(out_runs))
    rows = [r for r in outbox_rows(workdir) if r["incident_id"].startswith("OUT")]
    assert {r["state"] for r in rows} == {"delivered"}
    for k in want:
        assert runs[k]["conf"]["event"]["incident"]["id"] == k.rsplit("pd-", 1)[1]


HOSTILE_RUN_IDS = ["INC-2024..1", "..", ".", "a b", "manual__2024-01-01", "a/b", "x" * 300, "ü☃", "%2e%2e", "~"]


def test_hostile_ids_and_a_reopened_incident_become_runs_in_airflow(stack, relays, workdir):
    """Ids Airflow's run-id rules refuse as they are, through a real relay to a real api-server: each a run,
    the id unchanged in the conf; a reopened incident runs again; an id no run can be made of is reported."""
    relay, _ = relays
    want = {}
    with httpx.Client(base_url=relay.url, timeout=30) as c:
        for iid in HOSTILE_RUN_IDS:
            r = c.post("/pagerduty/webhook", content=json.dumps(tutorial(iid)), headers=headers_for(AUTH))
            assert r.status_code == 202 and r.json()["status"] == "accepted", (iid, r.text)
            assert r.json()["dag_run_id"] == incident_run_id(iid, "incident.triggered", "")
            want[f"{DAG}/{r.json()['dag_run_id']}"] = iid
        for etype, event_id in (("incident.triggered", "01REOPENA"), ("incident.reopened", "01REOPENB"),
                                ("incident.reopened", "01REOPENC")):
            body = json.loads(json.dumps(v3("Q7REOPEN", event_type=etype)))
            body["event"]["id"] = event_id
            raw = json.dumps(body).encode()
            for _ in range(2):  # PagerDuty redelivers: the same occurrence is one run
                r = c.post("/pagerduty/reopen", content=raw, headers={
                    "Content-Type": "application/json", "X-PagerDuty-Signature": auth.sign(raw, SIGNING_SECRET)})
                assert r.status_code == 202, r.text
            want[f"pd-reopen-flow/{incident_run_id('Q7REOPEN', etype, event_id)}"] = "Q7REOPEN"
        r = c.post("/pagerduty/webhook", content=json.dumps(tutorial("")), headers=headers_for(AUTH))
        assert r.status_code == 202 and r.json()["status"] == "failed"
    runs = wait_runs(stack, set(want))
    assert set(want) <= runs.keys(), sorted(set(want) - runs.keys())
    for key, iid in want.items():
        assert runs[key]["conf"]["event"]["incident"]["id"] == iid
    assert len([k for k in runs if k.startswith("pd-reopen-flow/pd-Q7REOPEN")]) == 3  # triggered + 2 reopens
    rows = [r for r in outbox_rows(workdir) if r["incident_id"] in set(HOSTILE_RUN_IDS) | {"Q7REOPEN"}]
    assert {r["state"] for r in rows} == {"delivered"}
    ready = httpx.get(f"{relay.url}/readyz", timeout=30).json()
    assert ready["status"] == "degraded" and any(u["state"] == "failed" and u["incident_id"] == ""
                                                 for u in ready["undelivered"])
    assert 'aof_relay_undelivered{state="failed"}' in httpx.get(f"{relay.url}/metrics", timeout=30).text


def test_a_delivery_airflow_cannot_take_is_retried_then_reported(stack, relays, workdir, slack):
    """Airflow answers 404 (no such DAG) for ever: the row keeps being retried and, once stuck past
    relay_stuck_after_seconds (20 s here), is reported: readiness, the metric and one Slack message."""
    relay, _ = relays
    r = httpx.post(f"{relay.url}/pagerduty/nodag", content=json.dumps(tutorial("NODAG1")), headers=headers_for(AUTH),
                   timeout=30)
    assert r.status_code == 202 and r.json()["status"] == "accepted", r.text
    deadline = time.monotonic() + 120
    while True:
        ready = httpx.get(f"{relay.url}/readyz", timeout=30).json()
        mine = [u for u in ready["undelivered"] if u["incident_id"] == "NODAG1"]
        if (mine and mine[0]["reported_in_slack"]) or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert ready["status"] == "degraded" and mine and mine[0]["state"] == "stuck", ready
    row = next(r for r in outbox_rows(workdir) if r["incident_id"] == "NODAG1")
    assert row["state"] == "pending" and row["attempts"] >= 2 and row["last_error"].startswith("404")
    posts = [m for m in slack.messages("#sre-alerts") if "NODAG1" in json.dumps(m.get("blocks"))]
    assert len(posts) == 1, posts  # two relays and the api-server's share one outbox: reported once
    assert "still retrying" in posts[0]["blocks"][1]["text"]["text"]
    assert 'aof_relay_undelivered{state="stuck"}' in httpx.get(f"{relay.url}/metrics", timeout=30).text


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


def test_a_1gb_unauthenticated_body_to_the_relay_in_the_api_server_is_cut_at_the_cap(stack):
    """The relay mounted in the api-server: the same ingress, so a stranger's 1 GiB body costs it the cap."""
    port = int(stack.base_url.rsplit(":", 1)[1])
    now = str(int(time.time()))
    slack = {"X-Slack-Request-Timestamp": now, "X-Slack-Signature": "v0=" + "0" * 64, "Content-Type": "application/json"}
    targets = [("/aof/relay/slack/actions", slack), ("/aof/relay/slack/events", slack),
               ("/aof/relay/pagerduty/v3", {"Content-Type": "application/json", "X-PagerDuty-Signature": "v1=00"})]
    for path, headers in targets:  # the relay app is built on its first request: not part of the figure
        httpx.post(f"{stack.base_url}{path}", content=b"{}", headers=headers, timeout=60)
    pids = _descendants(stack._af.procs.pid("api-server"))
    before = {p: status_kb(p) for p in pids if Path(f"/proc/{p}/status").exists()}
    results = [(path, *send_gib(port, path, headers, chunked=True)) for path, headers in targets]
    after = {p: status_kb(p) for p in before if Path(f"/proc/{p}/status").exists()}
    growth = {p: after[p]["VmHWM"] - before[p]["VmHWM"] for p in after}
    print(f"\napi-server {results}; VmHWM growth kB by process: {growth}; VmRSS after: "
          f"{ {p: after[p]['VmRSS'] for p in after} }")
    assert all(status == 413 and taken < 64 * 1024 * 1024 for _, status, taken, _ in results), results
    assert max(growth.values()) < 10 * 1024, growth


def test_no_secret_in_any_log(stack, relays):
    from tests.integration.relay.conftest import PD_KEY

    texts = [r.log.read_text(errors="replace") for r in relays]
    texts += [stack.log_text(n) for n in ("api-server", "scheduler", "dag-processor")]
    for secret in (TOKEN, SIGNING_SECRET, PD_KEY, "admin:admin", "integration-slack-signing-secret"):
        assert not any(secret in t for t in texts), secret
