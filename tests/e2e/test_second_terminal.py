"""`aofctl demo` as a user runs it (`make demo | tee demo.log`), operated the way Airflow users do.

One real demo (Airflow's four processes, the relay, the sandbox) whose stdout goes through a pipe, then,
from a second terminal that has only sourced the printed env file: the tutorial's `airflow` and `aofctl`
commands; the escalated incident's run note and state in the REST API and Airflow's UI; the critical
incident's approval answered on Airflow's Required Actions page (headless Chromium); a second decision
refused; `aofctl flow logs ... | grep slack`; and finally Ctrl-C with the pipe's reader dead: 0 processes.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import pytest

from aof_airflow.airflow_rest import AirflowAPI
from aof_lab.local.demo import CREDENTIALS, FLOW

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800)]

ROOT = Path(__file__).resolve().parents[2]
SETTLE = 900  # seconds: a small, shared machine


class Demo:
    """The demo process, its stdout pipe (read by a thread, like `tee`), and a second terminal."""

    def __init__(self) -> None:
        self.state = Path(tempfile.mkdtemp(prefix="aof-demo-2nd-"))
        self.lines: list[str] = []
        self._stop_reading = threading.Event()
        r, w = os.pipe()
        env = {k: v for k, v in os.environ.items()
               if k not in {n for names in CREDENTIALS.values() for n in names}}
        env["AOF_RULES_VERIFY_WINDOW"] = "10"
        self.stderr = open(self.state.parent / f"{self.state.name}.stderr", "w+")
        self.proc = subprocess.Popen([str(Path(sys.executable).parent / "aofctl"), "demo", "--state",
                                      str(self.state), "--port", "0", "--relay-port", "0"], cwd=ROOT, stdout=w,
                                     stderr=self.stderr, stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        os.close(w)
        self._reader = threading.Thread(target=self._read, args=(r,), daemon=True)
        self._reader.start()

    def _read(self, fd: int) -> None:
        import select

        buf = b""
        while not self._stop_reading.is_set():
            if not select.select([fd], [], [], 0.2)[0]:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            buf += chunk
            *done, buf = buf.split(b"\n")
            self.lines += [ln.decode(errors="replace") for ln in done]
        os.close(fd)  # the reader is gone: the demo's next write would fail with EPIPE

    def kill_reader(self) -> None:
        self._stop_reading.set()
        self._reader.join(10)

    def wait_for_line(self, text: str, timeout: float = 600) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = next((ln for ln in self.lines if text in ln), None)
            if found:
                return found
            code = self.proc.poll()
            assert code is None, f"demo exited with {code}:\n" + "\n".join(self.lines[-50:]) + self._err()
            time.sleep(0.5)
        raise AssertionError(f"no {text!r} in the demo's output:\n" + "\n".join(self.lines[-50:]) + self._err())

    def _err(self) -> str:
        self.stderr.seek(0)
        return "\nstderr:\n" + self.stderr.read()[-3000:]

    @property
    def env_file(self) -> Path:
        return self.state / "env"

    def terminal(self, command: str, timeout: float = 300) -> subprocess.CompletedProcess:
        """A new terminal: nothing of this test's environment but HOME and a plain PATH, then `source env`."""
        env = {"HOME": os.environ.get("HOME", "/root"), "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
        return subprocess.run(["bash", "-c", f"source {shlex.quote(str(self.env_file))} && {command}"], env=env,
                              cwd=tempfile.gettempdir(), capture_output=True, text=True, timeout=timeout)

    def settings(self) -> dict[str, str]:
        out = self.terminal("env").stdout
        return dict(ln.split("=", 1) for ln in out.splitlines() if "=" in ln)

    def api(self) -> AirflowAPI:
        s = self.settings()
        return AirflowAPI(s["AOF_AIRFLOW_API_URL"], s["AOF_AIRFLOW_USERNAME"], s["AOF_AIRFLOW_PASSWORD"])


@pytest.fixture(scope="module")
def demo(request):
    d = Demo()
    try:
        d.wait_for_line("In another terminal: source")
        assert d.env_file.exists()
        yield d
    finally:
        if d.proc.poll() is None:
            os.killpg(d.proc.pid, signal.SIGTERM)
            try:
                d.proc.wait(120)
            except subprocess.TimeoutExpired:
                os.killpg(d.proc.pid, signal.SIGKILL)
        if request.session.testsfailed:
            print(f"\nkept the demo's state for a look: {d.state}")
        else:
            shutil.rmtree(d.state, ignore_errors=True)


def settle(api: AirflowAPI, run_id: str) -> str:
    deadline = time.monotonic() + SETTLE
    while time.monotonic() < deadline:
        run = api.get_run(FLOW, run_id)
        if run and run["state"] in ("success", "failed"):
            return run["state"]
        time.sleep(2)
    raise AssertionError(f"{run_id} did not end: {api.task_states(FLOW, run_id)}")


def test_a_second_terminal_runs_the_tutorials_commands_on_the_running_demo(demo):
    describe = demo.terminal(f"aofctl flow describe {FLOW}")
    assert describe.returncode == 0, describe.stderr
    assert "trigger: Webhook" in describe.stdout
    assert "nodes: parse-alert(Transform), diagnose(Agent)" in describe.stdout and "dag_loaded: True" in describe.stdout
    dags = demo.terminal("airflow dags list -o plain")
    assert dags.returncode == 0 and FLOW in dags.stdout, dags.stderr[-2000:]
    api = demo.api()
    assert settle(api, "pd-TEST001") == "success"
    status = demo.terminal(f"aofctl flow status {FLOW}")
    assert status.returncode == 0 and "pd-TEST001" in status.stdout and "auto_resolved" in status.stdout, status
    logs = demo.terminal("aofctl agent logs incident-diagnostic --runs 5")
    assert logs.returncode == 0, logs.stderr
    assert f"==> {FLOW} / pd-TEST001 / diagnose [success, try 1] <==" in logs.stdout
    assert "builtin:k8s-rules" in logs.stdout  # the node's own log lines, not just its header
    tail = demo.terminal("aofctl agent logs incident-remediation --tail 3")
    assert tail.returncode == 0 and "/ remediate [" in tail.stdout, tail.stderr
    # the old failure: a terminal without the demo's settings is told what is missing, not shown '-'
    bare = subprocess.run([str(Path(sys.executable).parent / "aofctl"), "flow", "describe", FLOW],
                          env={"HOME": "/root", "PATH": "/usr/bin:/bin", "AIRFLOW_HOME": str(demo.state / "none")},
                          cwd=tempfile.gettempdir(), capture_output=True, text=True, timeout=120)
    assert bare.returncode != 0 and f"no flow {FLOW!r}" in bare.stderr and "prints the environment file to source" in bare.stderr


def test_the_escalated_incident_is_a_failed_run_whose_note_says_why(demo, tmp_path):
    from tests.harness.airflow_ui import airflow_page

    api = demo.api()
    assert settle(api, "pd-TEST003") == "failed"
    states = api.task_states(FLOW, "pd-TEST003")
    assert states["escalate"] == "success" and states["rollback"] == "success", states
    assert not [t for t, s in states.items() if s == "failed"], states  # no task failed: the incident did
    note = api.get_run(FLOW, "pd-TEST003")["note"]
    assert note.startswith("**aof: ESCALATED to on-call: needs a human**"), note
    assert "PagerDuty incident stays open" in note
    assert settle(api, "pd-TEST001") == "success"  # the three incidents run at once: TEST003 may end first
    assert api.get_run(FLOW, "pd-TEST001")["note"].startswith("**aof: Auto-resolved**")
    s = demo.settings()
    with airflow_page(s["AOF_AIRFLOW_API_URL"], s["AOF_AIRFLOW_USERNAME"], s["AOF_AIRFLOW_PASSWORD"],
                      shots=tmp_path) as page:
        page.goto(f"{s['AOF_AIRFLOW_API_URL']}/dags/{FLOW}/runs/pd-TEST003")
        page.get_by_text("ESCALATED to on-call", exact=False).first.wait_for()
        page.screenshot(path=str(tmp_path / "escalated-run.png"), full_page=True)


def test_the_critical_incident_is_approved_on_airflows_required_actions_page(demo, tmp_path):
    from tests.harness.airflow_ui import airflow_page

    api = demo.api()
    deadline = time.monotonic() + SETTLE
    while api.task_states(FLOW, "pd-TEST002").get("request-approval") != "deferred":
        assert time.monotonic() < deadline, api.task_states(FLOW, "pd-TEST002")
        time.sleep(2)
    s = demo.settings()
    with airflow_page(s["AOF_AIRFLOW_API_URL"], s["AOF_AIRFLOW_USERNAME"], s["AOF_AIRFLOW_PASSWORD"],
                      shots=tmp_path) as page:
        page.goto(f"{s['AOF_AIRFLOW_API_URL']}/required_actions")
        page.get_by_text(f"{FLOW} / pd-TEST002:", exact=False).first.click()
        page.wait_for_url("**/tasks/request-approval/required_actions")
        page.get_by_role("button", name="Approve", exact=True).click()
        page.get_by_text("from admin", exact=False).first.wait_for()
    assert settle(api, "pd-TEST002") in ("success", "failed")
    states = api.task_states(FLOW, "pd-TEST002")
    assert states["request-approval"] == "success" and states["remediate"] in ("success", "failed"), states
    assert states["auto-approve"] == "skipped"
    assert "Approval: approved by admin via airflow-ui" in api.get_run(FLOW, "pd-TEST002")["note"]
    late = demo.terminal("aofctl approve pd-TEST002 --decision skip --user U_ONCALL")
    assert late.returncode == 1 and "already decided by admin via airflow-ui" in late.stderr, late
    logs = demo.terminal(f"aofctl flow logs {FLOW} --run pd-TEST002 | grep slack")
    assert any("slack approval approved by admin via airflow-ui" in ln for ln in logs.stdout.splitlines()), logs


def test_flow_logs_grep_slack_finds_the_slack_calls_and_the_approval_request(demo):
    r = demo.terminal(f"aofctl flow logs {FLOW} | grep slack")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert any(ln.startswith("pd-TEST002 notify-diagnosis: ") and "operators.slack" in ln for ln in lines), lines
    assert any(ln.startswith("pd-TEST002 request-approval: ") and "slack approval requested" in ln for ln in lines)
    only = demo.terminal(f"aofctl flow logs {FLOW} --run pd-TEST001 --node remediate --grep rollout")
    assert only.returncode == 0 and only.stdout.strip(), only.stderr
    assert all(ln.startswith("pd-TEST001 remediate: ") and "rollout" in ln.lower() for ln in only.stdout.splitlines())
    none = demo.terminal(f"aofctl flow logs {FLOW} --run pd-TEST001 --grep no-such-text-anywhere")
    assert none.returncode == 1 and "no log line" in none.stderr


def test_piped_ctrl_c_with_the_reader_dead_leaves_no_process(demo):
    home = str(demo.state / "airflow")
    before = psutil.Process(demo.proc.pid).children(recursive=True)
    assert len(before) >= 6, before  # api-server, scheduler, dag-processor, triggerer, relay and their workers
    demo.kill_reader()  # tee died with the Ctrl-C ...
    os.killpg(demo.proc.pid, signal.SIGINT)  # ... which also reached the demo's process group
    assert demo.proc.wait(180) == 0
    _gone, alive = psutil.wait_procs(before, timeout=30)
    assert alive == [], f"left running: {alive}"
    stray = [p for p in psutil.process_iter(["cmdline", "environ"])
             if p.info["environ"] and p.info["environ"].get("AIRFLOW_HOME") == home]
    assert stray == [], stray
    assert not demo.env_file.exists()  # nobody sources the ports of a stopped demo
