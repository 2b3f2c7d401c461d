"""Slack interactivity (button clicks) and Events API (`reaction_added`) for approvals: what a verified request records.

Why: with these wired up a decision reaches the waiting trigger (via the task instance's XCom) within seconds,
without waiting for the next poll. The routes are the relay's (`POST /slack/actions`, `POST /slack/events`,
aof_airflow/relay/slack_actions.py and slack_events.py), which verify Slack's v0 signature with the app's
signing secret (`[aof] slack_signing_secret`) and cap the body before any of it is buffered; here is what a
verified request means. The approver rule is applied by the trigger when it reads the decision, exactly as
for reactions it polls, so a click here is only a claim.
"""

from __future__ import annotations

import hmac
import json
import logging
from typing import Any
from urllib.parse import parse_qs

from fastapi import HTTPException
from fastapi.concurrency import run_in_threadpool
from slack_sdk.signature import SignatureVerifier

from aof_airflow.approvals import decisions
from aof_airflow.approvals.outcome import DECISION_REACTIONS, OUTCOMES

log = logging.getLogger(__name__)
ACTION_PREFIX = "aof_approval:"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    return SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)


def signed_by(secret: str | None, headers: Any, body: bytes) -> bool:
    """Whether `secret` (the app's) is the one that signed this already verified request."""
    if not secret:
        return False
    return hmac.compare_digest(signature(secret, headers.get("x-slack-request-timestamp") or "", body),
                               headers.get("x-slack-signature") or "")


def _obj(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


async def record_clicks(body: bytes) -> dict[str, Any]:
    """Block-kit button clicks on an approval message (`payload=` form field, type block_actions)."""
    try:
        payload = json.loads(parse_qs(body.decode())["payload"][0])
    except (KeyError, ValueError, IndexError):
        raise HTTPException(400, "expected a form field 'payload' with JSON") from None
    if not isinstance(payload, dict):
        raise HTTPException(400, "expected a form field 'payload' with a JSON object")
    if payload.get("type") != "block_actions":
        return {"ok": True, "ignored": payload.get("type")}
    container, user_ref = _obj(payload.get("container")), _obj(payload.get("user"))
    channel = container.get("channel_id") or _obj(payload.get("channel")).get("id")
    ts = container.get("message_ts") or _obj(payload.get("message")).get("ts")
    user = user_ref.get("id")
    recorded = 0
    for action in payload.get("actions") if isinstance(payload.get("actions"), list) else ():
        aid = str(_obj(action).get("action_id", ""))
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


async def record_reaction(payload: dict[str, Any]) -> dict[str, Any]:
    """Events API `reaction_added` on an approval message (a verified envelope, signed by the app's secret)."""
    event = payload.get("event") if isinstance(payload.get("event"), dict) else {}
    if payload.get("type") != "event_callback" or event.get("type") != "reaction_added":
        return {"ok": True, "ignored": event.get("type") or payload.get("type")}
    item = _obj(event.get("item"))
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
