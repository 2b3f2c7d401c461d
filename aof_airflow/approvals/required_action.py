"""The approval as an Airflow human-in-the-loop request: it shows on Airflow's Required Actions page.

Why: an on-call engineer who lives in Airflow answers there. The sensor opens a HITLDetail row for its own
task instance before deferring (what Airflow's HITLOperator does), with the options Approve / Pause / Skip.
A response in the UI (or `PATCH .../hitlDetails` on the REST API) resumes the deferred sensor directly:
Airflow's own handler moves a DEFERRED task instance with a HITLDetail to SCHEDULED with the response as
the event, so no trigger has to notice it.

The HITLDetail row is the one record of the decision, whatever channel it came from: Airflow refuses a
second response (409), and a decision that reached us through Slack or `aofctl` is written into the row by
the trigger before it resumes the sensor -- unless a response is already there, in which case that one
stands. Everything here goes through the task SDK (the worker may create the row, the triggerer read and
answer it); nothing touches the metadata DB directly.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any, Mapping
from uuid import UUID

from airflow.sdk.execution_time.hitl import (
    get_hitl_detail_content_detail,
    update_hitl_detail_response,
    upsert_hitl_detail,
)

from aof_airflow.approvals.outcome import APPROVE, PAUSE, SKIP, Decision
from aof_airflow.config import settings

log = logging.getLogger(__name__)

# Option label (what the UI shows) -> the reaction the flow's conditions read.
OPTIONS: dict[str, str] = {"Approve": APPROVE, "Pause": PAUSE, "Skip": SKIP}
LABELS: dict[str, str] = {v: k for k, v in OPTIONS.items()}
AIRFLOW_SOURCE = "airflow-ui"  # the Required Actions page, or the REST API it calls


def assigned_users() -> list[dict[str, str]] | None:
    """`[aof] airflow_approvers`: Airflow user ids allowed to answer in the UI (None: Airflow's permissions)."""
    ids = list(settings().airflow_approvers)
    return [{"id": u, "name": u} for u in ids] or None


def open_request(ti_id: UUID, subject: str, body: str) -> None:
    upsert_hitl_detail(ti_id=ti_id, options=list(OPTIONS), subject=subject[:250], body=body, defaults=None,
                       multiple=False, params={}, assigned_users=assigned_users())


def is_response_event(event: Mapping[str, Any]) -> bool:
    """The event Airflow's HITL handler resumes us with (not our trigger's)."""
    return "chosen_options" in event


def from_response(chosen: list[str] | None, by: Any, at: Any, params_input: Mapping[str, Any] | None) -> Decision:
    """A HITLDetail response as our Decision.

    A person's response carries its Airflow user (`responded_by`); a decision we copied in from Slack or
    aofctl has none (the task SDK writes it) and names its origin in `params_input` -- read only then, so a
    REST caller cannot pass itself off as a Slack approver.
    """
    label = (chosen or ["?"])[0]
    if label not in OPTIONS:
        raise ValueError(f"unknown approval option {label!r}; expected one of {list(OPTIONS)}")
    who = _user(by)
    extra = dict(params_input or {})
    if who:
        user, source = who, AIRFLOW_SOURCE
    else:
        user, source = str(extra.get("decided_by") or "?"), str(extra.get("via") or "?")
    when = at.isoformat() if isinstance(at, datetime) else str(at or datetime.now(timezone.utc).isoformat())
    return Decision(OPTIONS[label], user, source, when)


def _user(by: Any) -> str | None:
    if by is None:
        return None
    d = by if isinstance(by, Mapping) else {"id": getattr(by, "id", None), "name": getattr(by, "name", None)}
    return str(d.get("name") or d.get("id") or "") or None


def settle(ti_id: UUID, claim: Decision | None) -> Decision | None:
    """The decision that counts: the one already in the HITLDetail row, else `claim`, written there now.

    `claim=None` (the approval timed out) only reads: a response recorded just before the deadline wins.
    Returns None when nobody decided. Errors talking to Airflow keep `claim` (logged): Slack stays the truth.
    """
    try:
        current = get_hitl_detail_content_detail(ti_id=ti_id)
        if current.response_received and current.chosen_options:
            return from_response(current.chosen_options, current.responded_by_user, current.responded_at,
                                 current.params_input)
        if claim is None:
            return None
        update_hitl_detail_response(ti_id=ti_id, chosen_options=[LABELS[claim.reaction]],
                                    params_input={"decided_by": claim.user, "via": claim.source})
        return claim
    except Exception as exc:  # a response racing ours (409), or an Airflow without HITL: re-read once
        try:
            current = get_hitl_detail_content_detail(ti_id=ti_id)
            if current.response_received and current.chosen_options:
                return from_response(current.chosen_options, current.responded_by_user, current.responded_at,
                                     current.params_input)
        except Exception:
            pass
        log.warning("could not record the approval decision in Airflow's Required Actions: %s", exc)
        return claim
