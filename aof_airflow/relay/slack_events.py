"""`POST /slack/events`: Slack's Events API at the relay; `app_mention` / `message` events start flows.

One Events Request URL serves a Slack app, so this route also hands everything else (`reaction_added` on
an approval message) to the approvals' handler. Requests are verified as button clicks are (Slack's v0
signature, slack_sdk's SignatureVerifier): with the app's signing secret (`[aof] slack_signing_secret`) or a
Slack trigger's own `signing_secret`; a request older than five minutes is refused. A message is stored
in the relay's outbox before the 200 and delivered as a DAG run like a webhook, its Slack event as the conf.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool

from aof_airflow.approvals.actions import slack_events as approval_events, verify
from aof_airflow.config import setting, settings
from aof_airflow.relay import secrets
from aof_airflow.relay.service import Relay
from aof_airflow.relay.slack_routes import SlackRoute, from_a_person, matches
from aof_airflow.services import slack

log = logging.getLogger(__name__)
router = APIRouter(prefix="/slack", tags=["slack triggers"])
MAX_BODY_BYTES = 1024 * 1024
STARTING_EVENTS = ("app_mention", "message")
SLACK_ID = re.compile(r"^[A-Z0-9]{1,40}$")
SLACK_TS = re.compile(r"^[0-9]{1,12}\.[0-9]{1,9}$")


def signing_secrets(routes: list[SlackRoute]) -> list[str]:
    out = [s for s in [setting("slack_signing_secret")] if s]
    for r in routes:
        if r.config.signing_secret:
            value = secrets.resolve(r.config.signing_secret)
            if value and value not in out:
                out.append(value)
    return out


def run_id(event: dict[str, Any]) -> str:
    """One message, one run: app_mention and message events of one post (and Slack's retries) share it."""
    channel, ts = str(event.get("channel") or ""), str(event.get("ts") or "")
    if not (SLACK_ID.match(channel) and SLACK_TS.match(ts)):
        raise HTTPException(400, "a message event needs `channel` (a Slack id) and `ts` (seconds.micros)")
    return f"slack-{channel}-{ts}"


_NAMES: dict[tuple[str | None, str], tuple[float, str]] = {}  # (token ref, channel id) -> (expiry, name)
NAME_TTL_SECONDS = 600.0


def channel_name(route: SlackRoute, channel: str) -> str | None:
    """A channel's name (conversations.info with the trigger's bot_token, else the Slack connection), cached."""
    key = (route.config.bot_token, channel)
    hit = _NAMES.get(key)
    if hit and hit[0] > time.monotonic():
        return hit[1]
    try:
        if route.config.bot_token:
            client = slack.token_client(secrets.resolve(route.config.bot_token), settings().slack_api_url, waits=False)
        else:
            client = slack.hook(slack.conn_id(), waits=False).client
        name = str(client.conversations_info(channel=channel)["channel"]["name"])
    except Exception as exc:  # unknown channel, no token, Slack down: not matched now, asked again next time
        log.warning("slack: conversations.info %s failed: %s", channel, exc)
        return None
    _NAMES[key] = (time.monotonic() + NAME_TTL_SECONDS, name)
    return name


async def start_runs(relay: Relay, routes: list[SlackRoute], envelope: dict[str, Any]) -> dict[str, Any]:
    event = envelope["event"]
    if not from_a_person(envelope, event):
        return {"ok": True, "ignored": "not a person's new message (bot, edit or other subtype)"}
    chosen = await run_in_threadpool(lambda: [r for r in routes if matches(r, event, channel_name)])
    if not chosen:
        return {"ok": True, "ignored": "no flow is triggered by this message"}
    rid = run_id(event)
    conf = {"event": event, "slack": {k: envelope.get(k) for k in ("event_id", "team_id", "api_app_id", "event_time")}}
    started, duplicate = [], []
    for r in {r.dag_id: r for r in chosen}.values():
        row_id = await asyncio.wrap_future(relay.outbox.add_future(
            flow=r.flow.name, dag_id=r.dag_id, dag_run_id=rid, webhook_id=None, event_type=str(event["type"]),
            incident_id=rid[len("slack-"):][:100], source="slack", needs_details=False, conf=conf))
        (started if row_id is not None else duplicate).append(r.dag_id)
    if started:
        relay.dispatcher.notify()
    log.info("slack: %s %s in %s: started %s, already stored %s", event["type"], rid, event.get("channel"),
             started, duplicate)
    return {"ok": True, "dag_run_id": rid, "started": started, "duplicate": duplicate}


@router.post("/events")
async def slack_events(request: Request) -> Any:
    relay: Relay = request.app.state.relay
    if relay.settings.start_dispatcher:  # mounted apps get no lifespan: the first request starts delivery
        relay.dispatcher.ensure_started()
    routes = relay.flows.slack_routes()
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise HTTPException(413, f"body larger than {MAX_BODY_BYTES} bytes")
    verify(signing_secrets(routes), request.headers, body)  # the approvals' check, with every secret we know
    try:
        envelope = json.loads(body)
    except ValueError:
        raise HTTPException(400, "expected JSON") from None
    if not isinstance(envelope, dict):
        raise HTTPException(400, "expected a JSON object")
    if envelope.get("type") == "url_verification":
        return {"challenge": envelope.get("challenge")}
    event = envelope.get("event")
    if envelope.get("type") == "event_callback" and isinstance(event, dict) and event.get("type") in STARTING_EVENTS:
        return await start_runs(relay, routes, envelope)
    if not setting("slack_signing_secret"):  # approvals verify with the app's secret only: nothing waits on these
        return {"ok": True, "ignored": (event or {}).get("type") if isinstance(event, dict) else envelope.get("type")}
    return await approval_events(request)  # reaction_added on an approval message, as before
