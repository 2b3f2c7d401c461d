"""`POST /slack/events`: Slack's Events API at the relay; `app_mention` / `message` events start flows.

The one route for this path: one Events Request URL serves a Slack app, so it also hands what is not a
message (`reaction_added` on an approval message) to the approvals (aof_airflow.approvals.actions). Requests
pass the relay's ingress (ingress.py: timestamp, body capped at `relay_slack_max_body_bytes` before buffering,
Slack's v0 signature) with the app's signing secret (`[aof] slack_signing_secret`) or a Slack trigger's own
`signing_secret`; only the app's secret is trusted for approvals. A message is stored in the relay's outbox
before the 200 and delivered as a DAG run like a webhook, its Slack event as the conf.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from slack_sdk import WebClient

from aof_airflow.approvals.actions import record_reaction, signed_by
from aof_airflow.config import setting
from aof_airflow.relay import secrets
from aof_airflow.relay.bounds import bound
from aof_airflow.relay.ingress import get_relay, slack_body
from aof_airflow.relay.service import Relay
from aof_airflow.relay.slack_routes import SlackRoute, from_a_person, matches

log = logging.getLogger(__name__)
router = APIRouter(prefix="/slack", tags=["slack triggers"])
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


def _event_secrets(relay: Relay) -> list[str]:
    return signing_secrets(relay.flows.slack_routes())


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
            client = WebClient(token=secrets.resolve(route.config.bot_token),
                               base_url=setting("slack_api_url") or WebClient.BASE_URL)
        else:
            from airflow.providers.slack.hooks.slack import SlackHook  # the relay may run without Airflow's config

            client = SlackHook(slack_conn_id=setting("slack_conn_id") or "slack_default").client
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
    conf = bound({"event": event, "slack": {k: envelope.get(k) for k in ("event_id", "team_id", "api_app_id",
                                                                         "event_time")}},
                 relay.settings.max_value_bytes, relay.settings.max_conf_bytes)
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
async def slack_events(request: Request, body: bytes = Depends(slack_body(_event_secrets)),
                       relay: Relay = Depends(get_relay)) -> Any:
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
        return await start_runs(relay, relay.flows.slack_routes(), envelope)
    if not signed_by(setting("slack_signing_secret"), request.headers, body):  # approvals trust the app's secret only
        return {"ok": True, "ignored": (event or {}).get("type") if isinstance(event, dict) else envelope.get("type")}
    return await record_reaction(envelope)
