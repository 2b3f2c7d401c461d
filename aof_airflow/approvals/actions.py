"""Slack interactivity (button clicks) and Events API (`reaction_added`) for approvals, as a FastAPI router.

Why: with these wired up a decision reaches the waiting trigger (via the
task instance's XCom) within seconds,
without waiting for the next poll. Requests are verified with Slack's signing secret by slack_sdk's
`SignatureVerifier` (v0 HMAC-SHA256 over `v0:<timestamp>:<raw body>`, timestamps older than 5 minutes refused). The approver rule is applied by the
trigger when it reads the decision, exactly as for reactions it polls, so a click here is only a claim.

The relay mounts it: `app.include_router(aof_airflow.approvals.actions.router)` (paths /slack/actions,
/slack/events). The secret comes from `[aof] slack_signing_secret` / `AOF_SLACK_SIGNING_SECRET`.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
from typing import Any, Sequence
from urllib.parse import parse_qs

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from slack_sdk.signature import SignatureVerifier

from aof_airflow.approvals import decisions
from aof_airflow.config import setting
from aof_airflow.services.slack import ACTION_PREFIX, DECISION_REACTIONS, OUTCOMES

log = logging.getLogger(__name__)
router = APIRouter(prefix="/slack", tags=["slack approvals"])
MAX_SKEW_SECONDS = 300  # the replay window Slack documents (and SignatureVerifier uses)


def signature(secret: str, timestamp: str, body: bytes) -> str:
    return SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)


def verify(secret: str | Sequence[str] | None, headers: Any, body: bytes, now: float | None = None) -> None:
    """401 unless one of the signing secrets signed this body (v0) within the last five minutes."""
    secrets = [secret] if isinstance(secret, str) else [s for s in secret or () if s]
    if not secrets:
        raise HTTPException(503, "slack_signing_secret is not configured; refusing unverifiable requests")
    ts = headers.get("x-slack-request-timestamp") or ""
    sig = headers.get("x-slack-signature") or ""
    try:
        skew = abs((now or time.time()) - int(ts))
    except ValueError:
        raise HTTPException(401, "bad X-Slack-Request-Timestamp") from None
    if skew > MAX_SKEW_SECONDS:
        raise HTTPException(401, "stale Slack request (replay?)")
    if not any(hmac.compare_digest(signature(s, ts, body), sig) for s in secrets):
        raise HTTPException(401, "bad Slack signature")


async def _verified_body(request: Request) -> bytes:
    body = await request.body()
    verify(setting("slack_signing_secret"), request.headers, body)
    return body


@router.post("/actions")
async def slack_actions(request: Request) -> dict[str, Any]:
    """Block-kit button clicks on an approval message (`payload=` form field, type block_actions)."""
    body = await _verified_body(request)
    try:
        payload = json.loads(parse_qs(body.decode())["payload"][0])
    except (KeyError, ValueError, IndexError):
        raise HTTPException(400, "expected a form field 'payload' with JSON") from None
    if payload.get("type") != "block_actions":
        return {"ok": True, "ignored": payload.get("type")}
    container = payload.get("container") or {}
    channel = container.get("channel_id") or (payload.get("channel") or {}).get("id")
    ts = container.get("message_ts") or (payload.get("message") or {}).get("ts")
    user = (payload.get("user") or {}).get("id")
    recorded = 0
    for action in payload.get("actions") or ():
        aid = str(action.get("action_id", ""))
        if not aid.startswith(ACTION_PREFIX):
            continue
        reaction = DECISION_REACTIONS.get(aid[len(ACTION_PREFIX):])
        if reaction and channel and ts and user:
            ref = await run_in_threadpool(decisions.ref_for_message, channel, ts)
            if ref is None:
                why = await run_in_threadpool(decisions.why_not_waiting, channel, ts)
                log.info("approval button on %s/%s by %s: %s", channel, ts, user, why)
                return {"ok": True, "ignored": why}
            await run_in_threadpool(lambda: decisions.record_decision(ref, reaction=reaction, user=user,
                                                                      source="slack-button"))
            log.info("approval button %s on %s/%s by %s recorded", reaction, channel, ts, user)
            recorded += 1
    return {"ok": True, "recorded": recorded}


@router.post("/events")
async def slack_events(request: Request) -> dict[str, Any]:
    """Events API: url_verification, and `reaction_added` on an approval message."""
    body = await _verified_body(request)
    try:
        payload = json.loads(body)
    except ValueError:
        raise HTTPException(400, "expected JSON") from None
    if payload.get("type") == "url_verification":
        return {"challenge": payload.get("challenge")}
    event = payload.get("event") or {}
    if payload.get("type") != "event_callback" or event.get("type") != "reaction_added":
        return {"ok": True, "ignored": event.get("type") or payload.get("type")}
    item = event.get("item") or {}
    reaction, user = event.get("reaction"), event.get("user")
    channel, ts = item.get("channel"), item.get("ts")
    if reaction not in OUTCOMES or not (channel and ts and user):
        return {"ok": True, "ignored": "not a decision reaction"}
    ref = await run_in_threadpool(decisions.ref_for_message, channel, ts)
    if ref is None:
        return {"ok": True, "ignored": await run_in_threadpool(decisions.why_not_waiting, channel, ts)}
    await run_in_threadpool(lambda: decisions.record_decision(ref, reaction=reaction, user=user,
                                                              source="slack-event"))
    return {"ok": True, "recorded": 1}
