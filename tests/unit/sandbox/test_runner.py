"""`Sandbox` / `aofctl sandbox`: all three servers in one process, an env file to source, clean stop."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import httpx
from slack_sdk import WebClient

from aof_lab.sandbox.runner import Sandbox


def test_sandbox_env_points_clients_at_the_stand_ins(tmp_path):
    with Sandbox(["high-memory-api", "postgres-replicas-failing"], state_dir=tmp_path) as sb:
        env = sb.env()
        assert sb.env_path.exists() and "export KUBECONFIG=" in sb.env_path.read_text()
        slack = json.loads(env["AIRFLOW_CONN_SLACK_DEFAULT"])
        WebClient(token=slack["password"], base_url=slack["extra"]["base_url"]).chat_postMessage(channel="#incidents", text="hi")
        assert sb.slack.messages("#incidents")[0]["text"] == "hi"
        pd = httpx.get(f"{env['AOF_PAGERDUTY_API_URL']}/incidents",
                       headers={"Authorization": f"Token token={env['AOF_SANDBOX_PAGERDUTY_API_KEY']}",
                                "Accept": "application/vnd.pagerduty+json;version=2",
                                "Content-Type": "application/json"}).json()
        assert [i["id"] for i in pd["incidents"]] == ["TEST001", "TEST002"]
        if shutil.which("kubectl"):
            r = subprocess.run(["kubectl", "get", "sts", "postgres", "-o", "name"], capture_output=True, text=True, timeout=60,
                               env={**os.environ, "KUBECONFIG": env["KUBECONFIG"], "HOME": str(tmp_path)})
            assert r.stdout.strip() == "statefulset.apps/postgres", r.stderr
    assert not sb.env_path.exists()


def test_aofctl_sandbox_runs_and_stops_on_sigint(tmp_path):
    aofctl = [sys.executable, "-c", "import sys; from aof_airflow.cli import main; sys.exit(main())"]
    proc = subprocess.Popen([*aofctl, "sandbox", "--state-dir", str(tmp_path),
                             "--scenario", "high-memory-api"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        while not (tmp_path / "sandbox.env").exists():
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline
            time.sleep(0.2)
        env = dict(line[len("export "):].split("=", 1) for line in (tmp_path / "sandbox.env").read_text().splitlines() if line.startswith("export "))
        page = httpx.get(env["AOF_SANDBOX_SLACK_PAGE"].strip("'")).text
        assert "SANDBOX -- not Slack" in page
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0 and "SANDBOX" in out
    assert not (tmp_path / "sandbox.env").exists()
