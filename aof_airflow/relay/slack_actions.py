"""`POST /slack/actions`: Slack's interactivity requests (approval buttons) at the relay.

The body is capped at `relay_slack_max_body_bytes` before it is buffered and must carry Slack's v0 signature
by the app's signing secret (`[aof] slack_signing_secret`; ingress.py); what a click records is the
approvals' business (aof_airflow.approvals.actions.record_clicks).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from aof_airflow.approvals.actions import record_clicks
from aof_airflow.config import setting
from aof_airflow.relay.ingress import slack_body
from aof_airflow.relay.service import Relay

router = APIRouter(prefix="/slack", tags=["slack approvals"])


def _app_secret(_relay: Relay) -> list[str]:
    return [s for s in [setting("slack_signing_secret")] if s]


@router.post("/actions")
async def slack_actions(body: bytes = Depends(slack_body(_app_secret))) -> dict[str, Any]:
    return await record_clicks(body)
