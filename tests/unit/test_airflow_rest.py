"""The demo's own Airflow REST client: a named run's trigger survives Airflow-on-SQLite's "database is locked" 500."""

from __future__ import annotations

import json

import httpx
import pytest

from aof_airflow import airflow_rest as airflow_api
from aof_airflow.airflow_rest import AirflowAPI, AirflowAPIError


def client(answers: list[tuple[int, dict]], created: list[dict]) -> AirflowAPI:
    """An api-server double that answers the dagRuns POSTs in turn; a 201 or a 500 'applied' stores the run."""

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/auth/token":
            return httpx.Response(201, json={"access_token": "x.eyJleHAiOjQxMDI0NDQ4MDB9.y"})
        if request.method == "GET":
            run = next((r for r in created if request.url.path.endswith("/" + r["dag_run_id"])), None)
            return httpx.Response(200, json=run) if run else httpx.Response(404, json={})
        status, effect = answers.pop(0)
        body = json.loads(request.content)
        if effect.get("applied"):
            created.append({"dag_run_id": body["dag_run_id"], "state": "queued"})
            if status == 201:
                return httpx.Response(201, json=created[-1])
        return httpx.Response(status, json={"detail": effect.get("detail", "")})

    api = AirflowAPI("http://airflow.invalid", "u", "p")
    api._client = httpx.Client(base_url="http://airflow.invalid", transport=httpx.MockTransport(handle))
    return api


@pytest.fixture(autouse=True)
def no_wait(monkeypatch):
    monkeypatch.setattr(airflow_api.time, "sleep", lambda s: None)


def test_a_locked_database_500_is_retried_and_one_run_results():
    created: list[dict] = []
    api = client([(500, {"detail": "Database error"}), (201, {"applied": True})], created)
    assert api.trigger("d", {}, run_id="r1") == {"dag_run_id": "r1", "state": "queued"}
    assert [r["dag_run_id"] for r in created] == ["r1"]


def test_a_500_that_was_applied_after_all_answers_with_the_run_not_a_twin():
    created: list[dict] = []
    api = client([(500, {"applied": True}), (409, {"detail": "exists"})], created)
    assert api.trigger("d", {}, run_id="r1") == {"dag_run_id": "r1", "state": "queued"}
    assert len(created) == 1


def test_an_unnamed_run_is_not_retried_and_errors_name_the_dag():
    api = client([(500, {"detail": "Database error"})], [])
    with pytest.raises(AirflowAPIError, match="trigger d: 500"):
        api.trigger("d", {})
    api = client([(500, {})] * airflow_api.TRIGGER_ATTEMPTS, [])
    with pytest.raises(AirflowAPIError, match="500"):
        api.trigger("d", {}, run_id="r1")


def test_token_expiry_is_read_from_the_jwt_without_its_key():
    import time

    import jwt

    token = jwt.encode({"sub": "admin", "exp": 4102444800}, "the-api-servers-secret-not-ours", algorithm="HS512")
    assert airflow_api.jwt_expiry(token) == 4102444800.0
    for unreadable in ("not-a-jwt", jwt.encode({"sub": "no exp"}, "k", algorithm="HS256")):
        assert time.time() + 290 < airflow_api.jwt_expiry(unreadable) <= time.time() + 300
