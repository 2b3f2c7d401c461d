"""What every relay route checks before its handler runs, as FastAPI dependencies (one place, every route).

Each route decides in the same order, cheapest first, so a stranger's request costs at most the body cap:
  1. what the headers alone decide: route, method, Bearer token, content type, Slack's timestamp;
  2. the body, streamed from `request.stream()` and cut at the route's cap: a `Content-Length` over the cap
     is refused unread, a chunked body is refused the moment it passes the cap (413). Nothing is buffered
     beyond the cap; every refusal says `Connection: close` (app.py), so the server drops the rest of a
     refused body instead of draining it;
  3. the body's signature (PagerDuty v3 `X-PagerDuty-Signature`, Slack v0), constant-time.

Adding a route (the Alertmanager receiver, say) is a matter of naming these dependencies
(tests/unit/relay/test_ingress.py does exactly this):

    from aof_airflow.relay.ingress import BodyCap, bearer_token, capped_body

    @router.post("/alertmanager", dependencies=[Depends(bearer_token("${ALERTMANAGER_TOKEN}"))])
    async def alerts(body: bytes = Depends(capped_body(BodyCap.WEBHOOK))) -> dict: ...

and include its router in app.py before `webhooks.router` (the catch-all for flows' paths). FastAPI runs a
route's `dependencies=[...]` first, then its parameters' in the order they are declared, a
dependency's own dependencies before it: header checks go in `dependencies` (or the body dependency depends
on them, as `pagerduty_body` and `slack_body` do), so an unauthenticated request is refused unread.
"""

from __future__ import annotations

import enum
import hmac
import time
from typing import Awaitable, Callable, Mapping, Sequence

from fastapi import Depends, HTTPException, Request

from aof_airflow.relay import auth, secrets
from aof_airflow.relay.alertmanager import check_auth as check_alertmanager_auth
from aof_airflow.relay.alertmanager import is_alertmanager
from aof_airflow.relay.flows import Route
from aof_airflow.relay.service import Relay

JSON_TYPES = ("application/json",)
SLACK_MAX_SKEW_SECONDS = 300  # Slack's documented replay window


class BodyCap(enum.StrEnum):
    """Which of the relay's settings caps a route's body."""

    WEBHOOK = "max_body_bytes"  # PagerDuty drops deliveries over 256 KB; the relay's default cap is 256 KiB
    SLACK = "slack_max_body_bytes"  # a block_actions form carries the whole message, url-encoded


def get_relay(request: Request) -> Relay:
    """The app's relay; mounted apps get no lifespan, so the first request (a probe will do) starts delivery."""
    relay: Relay = request.app.state.relay
    if relay.settings.start_dispatcher:
        relay.dispatcher.ensure_started()
    return relay


def too_large(limit: int) -> HTTPException:
    # every refusal is answered with Connection: close (app.py), so the server drops the connection
    # instead of draining the rest of the body
    return HTTPException(413, f"body larger than {limit} bytes")


async def read_capped(request: Request, limit: int) -> bytes:
    """The body, never holding more than `limit` bytes whatever the client sends or claims to send."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit() or int(declared) > limit:
            raise too_large(limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def capped_body(cap: BodyCap) -> Callable[..., Awaitable[bytes]]:
    """A dependency: the body, cut at the relay's `cap` setting."""

    async def body(request: Request, relay: Relay = Depends(get_relay)) -> bytes:
        return await read_capped(request, getattr(relay.settings, cap.value))

    return body


# ------------------------------------------------------------------------------------------- webhooks


def webhook_route(path: str, request: Request, relay: Relay = Depends(get_relay)) -> Route:
    """The flow whose trigger serves this path, with the method it allows (404 / 405 otherwise)."""
    route = relay.flows.get(path)
    if route is None:
        raise HTTPException(404, "no flow is triggered by this path")
    if request.method not in route.methods:
        raise HTTPException(405, f"method {request.method} not allowed", headers={"Allow": ", ".join(route.methods)})
    return route


def webhook_headers(request: Request, route: Route = Depends(webhook_route),
                    relay: Relay = Depends(get_relay)) -> Route:
    """Bearer token (when the flow has one) and a JSON content type, before a byte of the body is read."""
    if is_alertmanager(route):  # Alertmanager's http_config auth, Bearer or basic (relay/alertmanager.py)
        refused = check_alertmanager_auth(route.config, request.headers.get("authorization"))
        if refused is not None:
            raise refused
    else:
        denied = relay.check_bearer(route, request.headers.get("authorization"))
        if denied is not None:
            raise HTTPException(denied.status, denied.body["detail"], headers=denied.headers or None)
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype not in JSON_TYPES:
        raise HTTPException(415, "Content-Type must be application/json")
    return route


async def pagerduty_body(request: Request, route: Route = Depends(webhook_headers),
                         relay: Relay = Depends(get_relay)) -> bytes:
    """The capped body of a webhook, its `X-PagerDuty-Signature` checked where the flow or relay has secrets."""
    body = await read_capped(request, relay.settings.max_body_bytes)
    fail = None if is_alertmanager(route) else relay.check_signature(route, body, request.headers)
    if fail is not None:
        raise HTTPException(fail.status, fail.body["detail"])
    return body


def bearer_token(reference: str) -> Callable[[Request], None]:
    """A dependency for a route of its own (not a flow's path): `Authorization: Bearer <the secret>`."""

    def check(request: Request) -> None:
        expected = secrets.resolve(reference)
        if not expected:
            raise HTTPException(503, "relay misconfigured: the route's token is not set")
        fail = auth.check_bearer(request.headers.get("authorization"), expected)
        if fail:
            challenge = {"WWW-Authenticate": "Bearer"} if fail.status == 401 else None
            raise HTTPException(fail.status, fail.reason, headers=challenge)

    return check


# ---------------------------------------------------------------------------------------------- Slack


def check_slack_timestamp(headers: Mapping[str, str], now: float | None = None) -> None:
    """401 unless `X-Slack-Request-Timestamp` is within Slack's five-minute replay window (either way)."""
    try:
        skew = abs((now or time.time()) - int(headers.get("x-slack-request-timestamp") or ""))
    except ValueError:
        raise HTTPException(401, "bad X-Slack-Request-Timestamp") from None
    if skew > SLACK_MAX_SKEW_SECONDS:
        raise HTTPException(401, "stale Slack request (replay?)")


def verify_slack(found: Sequence[str], headers: Mapping[str, str], body: bytes, now: float | None = None) -> None:
    """401 unless one of the signing secrets signed this body (v0, slack_sdk's SignatureVerifier) in time."""
    from aof_airflow.approvals.actions import signature  # slack_sdk's SignatureVerifier, shared with the approvals

    if not found:
        raise HTTPException(503, "slack_signing_secret is not configured; refusing unverifiable requests")
    check_slack_timestamp(headers, now)
    ts, sig = headers.get("x-slack-request-timestamp") or "", headers.get("x-slack-signature") or ""
    if not any(hmac.compare_digest(signature(s, ts, body), sig) for s in found):
        raise HTTPException(401, "bad Slack signature")


def slack_secrets_of(pick: Callable[[Relay], list[str]]) -> Callable[..., list[str]]:
    """A dependency: the signing secrets a Slack route accepts, with the timestamp and the signature header
    checked before the body is read (503 when no secret is configured: never "no auth")."""

    def check(request: Request, relay: Relay = Depends(get_relay)) -> list[str]:
        found = [s for s in pick(relay) if s]
        if not found:
            raise HTTPException(503, "slack_signing_secret is not configured; refusing unverifiable requests")
        check_slack_timestamp(request.headers)
        if not (request.headers.get("x-slack-signature") or "").startswith("v0="):
            raise HTTPException(401, "missing X-Slack-Signature")
        return found

    return check


def slack_body(pick: Callable[[Relay], list[str]]) -> Callable[..., Awaitable[bytes]]:
    """A dependency: the capped body of a Slack request, signed (v0) by one of `pick(relay)`'s secrets."""

    async def body(request: Request, found: list[str] = Depends(slack_secrets_of(pick)),
                   relay: Relay = Depends(get_relay)) -> bytes:
        raw = await read_capped(request, relay.settings.slack_max_body_bytes)
        verify_slack(found, request.headers, raw)
        return raw

    return body
