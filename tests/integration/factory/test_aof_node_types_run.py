"""AOF's node types running for real with `dag.test()`: Parallel fan-out, the native kubectl and json tools and a
bash command against the sandbox cluster, Join, a deferred Wait, Conditional edges, Response posting to the Slack
stand-in, End nodes reading `${previous.output}`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from aof_lab.sandbox.kube import KubeAPI
from aof_lab.sandbox.slack import DEFAULT_CHANNELS, SlackWebAPI
from aof_lab.sandbox.slack_format import formatting
from tests.harness.in_process import in_process_env

pytestmark = pytest.mark.integration
HERE = Path(__file__).parent
REPO = HERE.parents[2]


def test_every_unattended_node_type_runs(tmp_path):
    home, dags = tmp_path / "home", tmp_path / "home/dags"
    (dags / "flows").mkdir(parents=True)
    (dags / "agents").mkdir()
    shutil.copy(REPO / "dags/aof_flows.py", dags)
    shutil.copy(HERE / "flows_aof/node-types.yaml", dags / "flows")
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=in_process_env(home, dags), check=True,
                   capture_output=True, timeout=300)
    title = 'pod "api" $(rm -rf /) `x`'  # a value that must stay a string in bash and JSON
    conf, out = tmp_path / "conf.json", tmp_path / "out.json"
    conf.write_text(json.dumps({"event": {"title": title}}))
    with KubeAPI("high-memory-api") as kube, SlackWebAPI(channels=(*DEFAULT_CHANNELS, "sre")) as slack:
        env = in_process_env(home, dags, KUBECONFIG=str(kube.kubeconfig(tmp_path / "kubeconfig")),
                             AIRFLOW_CONN_SLACK_DEFAULT=json.dumps({"conn_type": "slack", "password": slack.token,
                                                                    "extra": {"base_url": slack.base_url}}))
        proc = subprocess.run([sys.executable, str(HERE / "run_flow.py"), "node-types", str(conf), str(out)], env=env,
                              capture_output=True, text=True, timeout=400)
        assert proc.returncode == 0, proc.stderr[-4000:]
        (tmp_path / "run.log").write_text(proc.stdout + proc.stderr)
        res = json.loads(out.read_text())
        posted = slack.messages("#sre")
    assert res["import_errors"] == {}
    assert res["state"] == "success", (res["tasks"], proc.stdout[-6000:])
    assert res["tasks"] == {"fan-out": "success", "pods": "success", "parse": "success", "shell": "success",
                            "joined": "success", "pause": "success", "check": "success", "report": "success",
                            "not-taken": "skipped", "done": "success"}
    x = {t: {k: json.loads(v) if isinstance(v, str) and v[:1] in "{[" else v for k, v in xs.items()}
         for t, xs in res["xcom"].items()}
    pods = x["pods"]["return_value"]
    assert pods["kind"] == "List" and pods["items"]  # kubectl get pods -o json from the sandbox
    assert x["parse"]["return_value"] == {"replicas": 3, "title": title}
    assert x["shell"]["return_value"] == {"pods": len(pods["items"])}
    assert set(x["joined"]["return_value"]) == {"pods", "parse", "shell"}
    assert x["pause"]["return_value"]["seconds"] == 1.0
    report = x["report"]["return_value"]
    assert report["channel"] and report["ts"] and title in report["message"]
    assert x["done"]["return_value"] == {"message": report["message"]}
    # the Slack stand-in got the post, the value's backticks inert (no code span from a value)
    assert any('pod "api" $(rm -rf /)' in str(m.get("text")) and formatting(str(m.get("text")))["code"] == 0
               for m in posted), posted
