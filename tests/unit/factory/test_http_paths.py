"""An id from a value can never change an HTTP node's target: the seed's `close-pagerduty`
(`PUT https://api.pagerduty.com/incidents/${INCIDENT_ID}`) against the strict PagerDuty stand-in.

An id of `..`, `.` or empty would make `PUT /` or `PUT /incidents/` (PagerDuty's bulk endpoint) once the
client resolves dot segments; the node fails before any request, naming the value. An id with `/` or `%`
is percent-encoded into one segment of `/incidents/`."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import unquote

import pytest
import yaml
from airflow.sdk.exceptions import AirflowFailException
from pydantic import TypeAdapter

from aof_airflow.operators.http import HttpNodeOperator
from aof_airflow.operators.script import ScriptOperator
from aof_airflow.spec.models import Node
from aof_airflow.templating import TemplateContext, TemplateError, render_url
from tests.locations import SEED_FLOW

pd_sandbox = pytest.importorskip("aof_lab.sandbox.pagerduty", reason="the lab package (PagerDuty stand-in) is not installed")
NODES = {n["id"]: n for n in yaml.safe_load(Path(SEED_FLOW).read_text())["spec"]["nodes"]}
ENCODED = {"a/b": "/incidents/a%2Fb", "../..": "/incidents/..%2F..", "INC-2024..1": "/incidents/INC-2024..1",
           "x?y#z": "/incidents/x%3Fy%23z", "%2e%2e": "/incidents/%252e%252e"}
TALLY = {"ids": 0, "refused before any request": 0, "sent to /incidents/<one segment>": 0, "target changed": 0}


@pytest.fixture
def pd(monkeypatch):
    with pd_sandbox.PagerDutyAPI(rate_limit=(100_000, 60.0)) as srv:
        host, port = srv.base_url.split("://", 1)[1].rsplit(":", 1)
        monkeypatch.setenv("AIRFLOW_CONN_PAGERDUTY_DEFAULT", json.dumps(
            {"conn_type": "http", "host": host, "port": int(port), "schema": "http", "login": "aof@example.com",
             "password": srv.api_key}))
        yield srv


def close(incident: str) -> None:
    n = TypeAdapter(Node).validate_python(NODES["close-pagerduty"])
    task = HttpNodeOperator(task_id=n.id, flow_name="f", node=n,
                            ancestors=["parse-alert", "remediate", "remediation-failed"], transforms=["parse-alert"])
    xcoms = {"parse-alert": {"INCIDENT_ID": incident}, "remediate": {"action_taken": "restart"},
             "remediation-failed": False}
    ti = SimpleNamespace(xcom_pull=lambda task_ids, key="return_value": [xcoms.get(t) for t in task_ids])
    task.execute({"ti": ti, "dag_run": SimpleNamespace(run_id="r", conf={}, start_date=datetime.now(timezone.utc))})


@pytest.mark.parametrize("incident", ["..", ".", ""])
def test_a_dot_or_empty_id_fails_the_node_before_any_request(pd, incident):
    with pytest.raises(AirflowFailException, match="path segment") as err:
        close(incident)
    assert "close-pagerduty" in str(err.value) and "would change the request's target" in str(err.value)
    assert pd.requests == []


@pytest.mark.parametrize("incident", sorted(ENCODED))
def test_an_id_with_slashes_or_percents_stays_one_segment(pd, incident):
    pd.add_incident(incident, "x")
    try:
        close(incident)
    except Exception:  # the stand-in may not know the id: what matters is where the request went
        pass
    [req] = pd.requests
    assert req.method == "PUT"
    assert req.path in (ENCODED[incident], unquote(ENCODED[incident])) and req.path.count("/") >= 2
    assert req.path.startswith("/incidents/") and req.path != "/incidents/"


def test_count_every_hostile_id(pd):
    for incident in ["..", ".", "", "a/b", "%2e%2e", "../..", "INC-2024..1", "x?y#z", "/", "//", "./", "..;"]:
        TALLY["ids"] += 1
        before = len(pd.requests)
        try:
            close(incident)
        except AirflowFailException as exc:
            if "path segment" in str(exc):
                TALLY["refused before any request"] += len(pd.requests) == before
                continue
        except Exception:
            pass
        path = pd.requests[-1].path
        one = path.startswith("/incidents/") and len(path) > len("/incidents/")
        TALLY["sent to /incidents/<one segment>" if one else "target changed"] += 1
    print("\nhostile ids:", json.dumps(TALLY))
    assert TALLY["target changed"] == 0
    assert TALLY["refused before any request"] + TALLY["sent to /incidents/<one segment>"] == TALLY["ids"]


@pytest.mark.parametrize(("template", "value", "ok"), [
    ("https://h/a/${v}", "..", False), ("https://h/a/${v}/b", ".", False), ("https://h/a/${v}/b", "", False),
    ("https://h/a/x${v}", ".", True), ("https://h/a/.${v}", ".", False), ("https://h/a?id=${v}", "..", True),
    ("https://h/a/${v}", "a/b", True), ("${v}/incidents", "https://h", True), ("https://h/a/${v}#${v}", "..", False),
])
def test_render_url_refuses_a_dot_segment_a_value_makes(template, value, ok):
    ctx = TemplateContext({"v": value})
    if ok:
        assert render_url(template, ctx)
    else:
        with pytest.raises(TemplateError, match="path segment"):
            render_url(template, ctx)


def test_a_script_nodes_http_tool_renders_its_url_the_same_way(pd):
    node = TypeAdapter(Node).validate_python({"id": "s", "type": "Script", "config": {"scriptConfig": {
        "tool": "http", "action": "put", "args": {"url": pd.base_url + "/incidents/${event.id}"}}}})
    task = ScriptOperator(task_id="s", flow_name="f", node=node)
    ti = SimpleNamespace(xcom_pull=lambda task_ids, key="return_value": [None for _ in task_ids])
    run = SimpleNamespace(run_id="r", conf={"event": {"id": ".."}}, start_date=datetime.now(timezone.utc))
    with pytest.raises(AirflowFailException, match="path segment"):
        task.execute({"ti": ti, "dag_run": run})
    assert pd.requests == []
