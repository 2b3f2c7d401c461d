"""The ingress dependencies on a route of a new kind (as the Alertmanager receiver will use them)."""

from __future__ import annotations

import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.testclient import TestClient

from aof_airflow.relay.ingress import BodyCap, bearer_token, capped_body
from aof_airflow.relay.service import Relay

router = APIRouter()
READ: list[int] = []


@router.post("/alertmanager", dependencies=[Depends(bearer_token("${INGRESS_TEST_TOKEN}"))])
async def alerts(body: bytes = Depends(capped_body(BodyCap.WEBHOOK))) -> dict:
    READ.append(len(body))
    return {"bytes": len(body)}


@pytest.fixture
def client(settings, monkeypatch):
    monkeypatch.setenv("INGRESS_TEST_TOKEN", "t0ken")
    app = FastAPI()
    app.state.relay = Relay({}, settings)
    app.include_router(router)
    READ.clear()
    with TestClient(app) as c:
        yield c
    app.state.relay.close()


def test_a_new_route_gets_the_token_check_before_the_capped_body(client, settings):
    assert client.post("/alertmanager", content=b"{}").status_code == 401
    assert client.post("/alertmanager", content=b"{}", headers={"Authorization": "Bearer nope"}).status_code == 403
    assert READ == []  # refused before the handler (and the body) was reached
    ok = client.post("/alertmanager", content=b"x" * settings.max_body_bytes, headers={"Authorization": "Bearer t0ken"})
    assert ok.status_code == 200 and ok.json() == {"bytes": settings.max_body_bytes}
    big = client.post("/alertmanager", content=b"x" * (settings.max_body_bytes + 1),
                      headers={"Authorization": "Bearer t0ken"})
    assert big.status_code == 413 and READ == [settings.max_body_bytes]
