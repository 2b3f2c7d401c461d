"""Webhook routes: any path a flow's trigger names (looked up per request, so a new flow needs no restart).

The path, method, Bearer token, content type, body cap and PagerDuty signature are checked by the ingress
dependencies (ingress.py) before the handler runs; the handler stores the delivery and answers 202.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from aof_airflow.relay.alertmanager import is_alertmanager
from aof_airflow.relay.alertmanager import receive as alertmanager_receive
from aof_airflow.relay.flows import Route
from aof_airflow.relay.ingress import get_relay, pagerduty_body, webhook_headers
from aof_airflow.relay.outbox import FAILED, IGNORED
from aof_airflow.relay.service import Relay, Reply

router = APIRouter(tags=["webhooks"])
ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def reply(r: Reply) -> JSONResponse:
    return JSONResponse(r.body, status_code=r.status, headers=r.headers)


@router.api_route("/{path:path}", methods=ALL_METHODS)
async def webhook(request: Request, route: Route = Depends(webhook_headers), body: bytes = Depends(pagerduty_body),
                  relay: Relay = Depends(get_relay)) -> Response:
    if is_alertmanager(route):  # version-4 notifications, signals (relay/alertmanager.py)
        return await alertmanager_receive(relay, route, body)
    step = relay.admit(route, body, request.headers)
    if isinstance(step, Reply):
        return reply(step)
    await run_in_threadpool(relay.resolved_at_source, step)  # PagerDuty's incident.resolved lifts a hold
    if step.row.get("state") not in (IGNORED, FAILED):  # one remediation per target (relay/signal_gate.py)
        held = await run_in_threadpool(relay.held_by_open_run, step)
        if held is not None:
            return reply(held)
    if route.flow.spec.rate_limit.queue_size is not None:
        over = await run_in_threadpool(relay.over_queue_limit, step)
        if over is not None:
            return reply(over)
    row_id = await asyncio.wrap_future(relay.outbox.add_future(**step.row))
    return reply(relay.stored(step, row_id))
