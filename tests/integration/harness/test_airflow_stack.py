"""The harness itself: a trivial DAG, triggered over REST, runs to success on real Airflow processes."""

from __future__ import annotations

import time

import pytest

from tests.harness.fixtures import airflow_stack_fixture

pytestmark = pytest.mark.integration

SMOKE_DAG = '''
import pendulum
from airflow.sdk import DAG, task

with DAG("harness_smoke", schedule=None, start_date=pendulum.datetime(2024, 1, 1), catchup=False):
    @task
    def echo(**context):
        return context["dag_run"].conf["value"] * 2
    echo()
'''

# dag_discovery_safe_mode skips files that mention neither "airflow" nor "dag".
BROKEN_DAG = "from airflow.sdk import DAG\nimport nope_not_a_module\n"

stack = airflow_stack_fixture(dags={"harness_smoke.py": SMOKE_DAG, "broken.py": BROKEN_DAG},
                              scope="module")


def test_trivial_dag_runs_to_success_over_rest(stack):
    print(f"stack startup: {stack.startup_seconds:.1f}s")
    t0 = time.monotonic()
    stack.wait_for_dag("harness_smoke", timeout=90)
    run = stack.trigger("harness_smoke", {"value": 21}, run_id="smoke-1")
    assert run["dag_run_id"] == "smoke-1" and run["conf"] == {"value": 21}
    assert stack.wait_for_run("harness_smoke", "smoke-1", timeout=120) == "success"
    assert stack.task_states("harness_smoke", "smoke-1") == {"echo": "success"}
    r = stack.api("GET", "/api/v2/dags/harness_smoke/dagRuns/smoke-1/taskInstances/echo/xcomEntries/return_value")
    assert r.status_code == 200 and r.json()["value"] in (42, "42")
    print(f"dag parsed + run done in {time.monotonic() - t0:.1f}s after startup")


def test_import_errors_are_reported(stack):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        errors = stack.import_errors()
        if errors:
            break
        time.sleep(1)
    assert any("broken.py" in e["filename"] and "nope_not_a_module" in e["stack_trace"] for e in errors)


def test_token_is_cached_and_refreshed_after_rejection(stack):
    first = stack.token()
    assert stack.token() == first
    stack._token = "not-a-jwt"  # a rejected token must be replaced transparently
    stack._token_exp = time.time() + 3600
    assert stack.api("GET", "/api/v2/dags/harness_smoke").status_code == 200
    assert stack.token() != "not-a-jwt"


def test_stop_and_start_api_server(stack):
    import httpx

    stack.stop_process("api-server")
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{stack.base_url}/api/v2/monitor/health", timeout=2)
    stack.start_process("api-server")
    assert stack.api("GET", "/api/v2/monitor/health").status_code == 200
