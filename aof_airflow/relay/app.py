"""`create_app()`: the relay as a FastAPI app (served by `aofctl relay`, or mounted by the plugin).

The app authenticates every request itself: when mounted in the Airflow api-server, Airflow applies no
auth to plugin apps. Every route goes through the same ingress dependencies (ingress.py); each path has one
route: `/healthz`, `/readyz`, `/metrics`, `POST /slack/events`, `POST /slack/actions`, then every flow's
webhook path (looked up per request, so a flow added to the folder is served without a restart).
"""

from __future__ import annotations

import contextlib
from typing import AsyncIterator

from fastapi import Depends, FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from aof_airflow.config import settings as aof_settings
from aof_airflow.relay.flows import FlowSource
from aof_airflow.relay.ingress import get_relay
from aof_airflow.relay.metrics import CountAnswers, RelayMetrics
from aof_airflow.relay.service import Relay
from aof_airflow.relay.settings import RelaySettings


def create_app(flows: FlowSource = None, settings: RelaySettings | None = None) -> FastAPI:
    from aof_airflow.relay import slack_actions, slack_events, webhooks

    settings = settings or RelaySettings.load()
    aof_settings()  # read once now (it loads Airflow's configuration): not in the first request's 3 s (Slack)
    relay = Relay(flows, settings)
    metrics = RelayMetrics(relay.reports)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if settings.start_dispatcher:
            relay.dispatcher.ensure_started()
        yield
        relay.close()

    app = FastAPI(title="aof relay", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.relay = relay
    app.state.metrics = metrics

    @app.exception_handler(StarletteHTTPException)
    async def refused(request: Request, exc: StarletteHTTPException) -> Response:
        """A refusal closes the connection: a refused body is not drained (ingress.py)."""
        response = await http_exception_handler(request, exc)
        response.headers["Connection"] = "close"
        return response

    @app.get("/healthz")
    async def healthz(_relay: Relay = Depends(get_relay)) -> dict:
        return {"ok": True}

    @app.get("/readyz")
    async def readyz(relay: Relay = Depends(get_relay)) -> Response:
        """200 while the relay can store deliveries (503 only when its database is unreachable): a relay with
        undelivered rows must keep receiving. `status: degraded` lists what did not become a run."""
        try:
            await run_in_threadpool(relay.outbox.ping)
            state = await run_in_threadpool(relay.reports.readiness)
        except Exception as exc:
            return JSONResponse({"ok": False, "detail": f"database unreachable: {type(exc).__name__}"}, status_code=503)
        return JSONResponse({"ok": True, **state, "routes": {p: r.flow.name for p, r in relay.flows.routes().items()},
                             "ignored": dict(relay.ignored)})

    @app.get("/metrics")
    async def prometheus(_relay: Relay = Depends(get_relay)) -> Response:
        data = await run_in_threadpool(generate_latest, metrics.registry)
        return Response(data, media_type=CONTENT_TYPE_LATEST)

    app.include_router(slack_events.router)
    app.include_router(slack_actions.router)
    app.include_router(webhooks.router)  # the catch-all: last
    app.add_middleware(CountAnswers, metrics=metrics)
    return app
