"""`create_app()`: the relay as a FastAPI app (served by `aofctl relay`, or mounted by the plugin).

The app authenticates every request itself: when mounted in the Airflow api-server, Airflow applies
no auth to plugin apps. Routes are not registered per flow but looked up per request, so a flow added
to the folder is served without a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from aof_airflow.relay.alertmanager import is_alertmanager, receive as alertmanager_receive
from aof_airflow.relay.flows import FlowSource
from aof_airflow.relay.outbox import IGNORED
from aof_airflow.relay.service import Relay, Reply
from aof_airflow.relay.settings import RelaySettings

log = logging.getLogger(__name__)
ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
JSON_TYPES = ("application/json",)


def _reply(r: Reply) -> JSONResponse:
    return JSONResponse(r.body, status_code=r.status, headers=r.headers)


class _TooLarge(Exception):
    pass


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refusing to buffer more than `limit` bytes whatever Content-Length claims."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise _TooLarge
        except ValueError:
            raise _TooLarge from None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


async def _body_or_none(request: Request, limit: int) -> bytes | None:
    try:
        return await _read_body(request, limit)
    except _TooLarge:
        return None


def create_app(flows: FlowSource = None, settings: RelaySettings | None = None) -> FastAPI:
    settings = settings or RelaySettings.load()
    relay = Relay(flows, settings)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if settings.start_dispatcher:
            relay.dispatcher.ensure_started()
        yield
        relay.close()

    app = FastAPI(title="aof relay", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.relay = relay
    from aof_airflow.approvals.actions import router as slack_approvals  # /slack/actions, /slack/events
    from aof_airflow.relay.slack_events import router as slack_triggers  # /slack/events (hands approvals on)
    app.include_router(slack_triggers)  # first: its /slack/events wins over the approvals' own
    app.include_router(slack_approvals)  # before the webhook catch-all below, so it wins

    def _kick() -> None:
        # Mounted apps get no lifespan: the first request (a probe will do) starts delivery.
        if settings.start_dispatcher:
            relay.dispatcher.ensure_started()

    @app.get("/healthz")
    async def healthz() -> dict:
        _kick()
        return {"ok": True}

    @app.get("/readyz")
    async def readyz() -> Response:
        _kick()
        try:
            await run_in_threadpool(relay.outbox.ping)
        except Exception as exc:
            return JSONResponse({"ok": False, "detail": f"database unreachable: {type(exc).__name__}"}, status_code=503)
        return JSONResponse({"ok": True, "routes": {p: r.flow.name for p, r in relay.flows.routes().items()},
                             "ignored": dict(relay.ignored)})

    @app.api_route("/{path:path}", methods=ALL_METHODS)
    async def webhook(path: str, request: Request) -> Response:
        _kick()
        route = relay.flows.get(path)
        if route is None:
            return JSONResponse({"detail": "no flow is triggered by this path"}, status_code=404)
        if request.method not in route.methods:
            return JSONResponse({"detail": f"method {request.method} not allowed"}, status_code=405,
                                headers={"Allow": ", ".join(route.methods)})
        if is_alertmanager(route):  # its own auth and payload (relay/alertmanager.py)
            return await alertmanager_receive(relay, route, request, lambda: _body_or_none(request, settings.max_body_bytes))
        denied = relay.check_bearer(route, request.headers.get("authorization"))
        if denied is not None:
            return _reply(denied)
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype not in JSON_TYPES:
            return JSONResponse({"detail": "Content-Type must be application/json"}, status_code=415)
        try:
            body = await _read_body(request, settings.max_body_bytes)
        except _TooLarge:
            return JSONResponse({"detail": f"body larger than {settings.max_body_bytes} bytes"}, status_code=413)
        step = relay.admit(route, body, request.headers)
        if isinstance(step, Reply):
            return _reply(step)
        if step.row.get("state") != IGNORED:  # one remediation per target (relay/signal_gate.py)
            held = await run_in_threadpool(relay.held_by_open_run, step)
            if held is not None:
                return _reply(held)
        if route.flow.spec.rate_limit.queue_size is not None:
            over = await run_in_threadpool(relay.over_queue_limit, step)
            if over is not None:
                return _reply(over)
        row_id = await asyncio.wrap_future(relay.outbox.add_future(**step.row))
        return _reply(relay.stored(step, row_id))

    return app
