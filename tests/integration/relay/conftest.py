"""A real Airflow stack (api-server, scheduler, dag-processor) + the relay as a real `aofctl relay` process."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from aof_lab.local.processes import ManagedProcesses
from aof_lab.sandbox.pagerduty import PagerDutyAPI
from aof_lab.sandbox.slack import SlackWebAPI
from tests.harness.airflow_stack import AirflowStack, free_port
from tests.unit.relay.cases import TOKEN
from tests.unit.relay.flows import REOPEN_FLOW, V3_FLOW

SEED = Path("/work/shared/seed")
# a flow whose DAG Airflow never has: every delivery is answered 404, retried, then reported as stuck
NO_DAG_FLOW = """
apiVersion: aof.dev/v1
kind: AgentFlow
metadata: {name: pd-no-dag-flow}
spec:
  trigger:
    type: Webhook
    config:
      path: /pagerduty/nodag
      auth: {type: Bearer, token: "${PAGERDUTY_WEBHOOK_TOKEN}"}
  nodes: [{id: tell, type: Slack, config: {channel: "#sre-alerts", message: "never runs"}}]
"""
SIGNING_SECRET = "integration-signing-secret"
PD_KEY = "pd-integration-key-0123"

# Stand-ins for the DAGs the factory builds from the flows: same dag_ids; each records its conf.
DAG_SOURCE = '''
import pendulum
from airflow.sdk import DAG, task

for dag_id in ("incident-auto-response", "pd-v3-flow", "pd-reopen-flow"):
    with DAG(dag_id, schedule=None, start_date=pendulum.datetime(2024, 1, 1), catchup=False) as dag:
        @task
        def record(**context):
            return context["dag_run"].conf["event"]["incident"]["id"]
        record()
    globals()[dag_id.replace("-", "_")] = dag
'''

@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("relay-it")
    (d / "dags").mkdir()
    (d / "dags" / "relay_dags.py").write_text(DAG_SOURCE)
    (d / "flows").mkdir()
    shutil.copy(SEED / "yaml" / "incident-response-flow.yaml", d / "flows")  # as written
    (d / "flows" / "v3.yaml").write_text(V3_FLOW)
    (d / "flows" / "reopen.yaml").write_text(REOPEN_FLOW)
    (d / "flows" / "nodag.yaml").write_text(NO_DAG_FLOW)
    return d


@pytest.fixture(scope="module")
def pagerduty():
    with PagerDutyAPI(api_key=PD_KEY) as pd:
        yield pd


@pytest.fixture(scope="module")
def slack():
    with SlackWebAPI() as s:
        yield s


def _relay_env(workdir: Path, pagerduty: PagerDutyAPI, slack: SlackWebAPI) -> dict[str, str]:
    return {
        # where the relays report what did not become a run (the strict Slack stand-in)
        "AIRFLOW_CONN_SLACK_DEFAULT": json.dumps({"conn_type": "slack", "password": slack.token,
                                                  "extra": {"base_url": slack.base_url}}),
        "AOF_RELAY_STUCK_AFTER_SECONDS": "20",
        "PAGERDUTY_WEBHOOK_TOKEN": TOKEN,
        "PD_TEST_SIGNING_SECRET": SIGNING_SECRET,
        "PAGERDUTY_API_KEY": PD_KEY,
        "AOF_PAGERDUTY_API_URL": pagerduty.base_url,
        "AOF_FLOWS_FOLDER": str(workdir / "flows"),
        "AOF_AIRFLOW_USERNAME": "admin",
        "AOF_AIRFLOW_PASSWORD": "admin",
        "AOF_RELAY_DATABASE_URL": f"sqlite:///{workdir / 'relay-outbox.db'}",
        "AOF_RELAY_BACKOFF_MAX_SECONDS": "2",
        "AOF_SLACK_SIGNING_SECRET": "integration-slack-signing-secret",  # /slack/* read (and cap) bodies
    }


@pytest.fixture(scope="module")
def stack(workdir, pagerduty, slack, request):
    failed = request.session.testsfailed
    # the api-server mounts the relay too (plugin); it shares the outbox DB with the standalone relay
    with AirflowStack(workdir / "dags", processes=("api-server", "scheduler", "dag-processor"),
                      env=_relay_env(workdir, pagerduty, slack)) as af:
        af.wait_for_dag("incident-auto-response", timeout=180)
        af.wait_for_dag("pd-v3-flow", timeout=60)
        af.wait_for_dag("pd-reopen-flow", timeout=60)
        yield af
        if request.session.testsfailed > failed:
            af.dump_logs()


class RelayProcess:
    """`aofctl relay` as a real process (its own process group, stopped whole)."""

    def __init__(self, stack: AirflowStack, workdir: Path, pagerduty: PagerDutyAPI, slack: SlackWebAPI,
                 name: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.name = name
        env = {**stack.env, **_relay_env(workdir, pagerduty, slack), "AOF_AIRFLOW_API_URL": stack.base_url}
        self.procs = ManagedProcesses(workdir, env)
        self.log = self.procs.log_path(name)
        self.procs.start(name, [str(Path(sys.executable).parent / "aofctl"), "relay", "--host", "127.0.0.1",
                                "--port", str(self.port), "--flows", str(workdir / "flows")])
        self.procs.wait_http(name, f"{self.url}/readyz", timeout=90)

    def stop(self) -> None:
        self.procs.stop_all()


@pytest.fixture(scope="module")
def relays(stack, workdir, pagerduty, slack, request):
    failed = request.session.testsfailed
    a = RelayProcess(stack, workdir, pagerduty, slack, "relay-a")
    b = RelayProcess(stack, workdir, pagerduty, slack, "relay-b")  # a second relay on the same outbox DB
    yield a, b
    a.stop()
    b.stop()
    if request.session.testsfailed > failed:
        for r in (a, b):
            print(f"\n===== {r.log.name} =====\n{r.log.read_text()[-8000:]}", file=sys.stderr)
