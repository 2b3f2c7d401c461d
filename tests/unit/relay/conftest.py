from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from aof_airflow.relay import secrets
from aof_airflow.relay.app import create_app
from aof_airflow.relay.settings import RelaySettings
from aof_airflow.spec.loader import load_paths
from tests.locations import SEED_FLOW
from tests.unit.relay.cases import TOKEN
from tests.unit.relay.flows import V3_FLOW
from tests.unit.relay.standin import AirflowStandIn

SIGNING_SECRET = "pd-signing-secret-new"
OLD_SECRET = "pd-signing-secret-old"

EXTRA_FLOWS = V3_FLOW + """---
apiVersion: aof.dev/v1
kind: AgentFlow
metadata: {name: limited-flow}
spec:
  trigger:
    type: Webhook
    config:
      path: /limited
      auth: {type: Bearer, token: "${PAGERDUTY_WEBHOOK_TOKEN}"}
  rate_limit: {queue_size: 3}
  nodes: [{id: a, type: Transform, config: {script: "true"}}]
"""


@pytest.fixture
def flows_dir(tmp_path: Path) -> Path:
    d = tmp_path / "flows"
    d.mkdir()
    (d / "incident-response-flow.yaml").write_text(SEED_FLOW.read_text())
    (d / "extra.yaml").write_text(EXTRA_FLOWS)
    return d


@pytest.fixture
def flows(flows_dir: Path):
    res = load_paths([flows_dir], check_graph=False)
    assert set(res.flows) == {"incident-auto-response", "pd-v3-flow", "limited-flow"}, res.problems
    return res.flows


@pytest.fixture
def env(monkeypatch):
    monkeypatch.setenv("PAGERDUTY_WEBHOOK_TOKEN", TOKEN)
    monkeypatch.setenv("PD_TEST_SIGNING_SECRET", f"{SIGNING_SECRET},{OLD_SECRET}")
    secrets.clear_cache()
    yield
    secrets.clear_cache()


@pytest.fixture
def standin():
    with AirflowStandIn() as s:
        yield s


@pytest.fixture
def settings(tmp_path: Path, standin: AirflowStandIn) -> RelaySettings:
    return RelaySettings(airflow_api_url=standin.url, airflow_username="admin", airflow_password="admin",
                         database_url=f"sqlite:///{tmp_path / 'relay.db'}", start_dispatcher=False,
                         backoff_initial_seconds=0.05, backoff_max_seconds=0.2)


@pytest.fixture
def client(env, flows, settings):
    app = create_app(flows=flows, settings=settings)
    with TestClient(app) as c:
        c.relay = app.state.relay
        yield c
