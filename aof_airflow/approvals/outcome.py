"""Reaction -> outcome, who counts as a decider, and the text written back to the message's thread.

Kept free of Airflow and Slack clients so the rules an on-call engineer relies on ("only approvers count",
"a conservative reaction beats an approve") are unit-testable on their own.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any, Iterable, Mapping

# The reactions that decide, and the verbs of `aofctl approve` and the buttons, are Slack's vocabulary
from aof_airflow.services.slack import APPROVE, DECISION_REACTIONS, OUTCOMES, PAUSE, SKIP, escape

SLACK_USER_ID = re.compile(r"[UW][A-Z0-9_]{1,20}")  # U024BE7LH (and the stand-in's U_ONCALL)

__all__ = ["APPROVE", "DECISION_REACTIONS", "OUTCOMES", "PAUSE", "SKIP", "TIMED_OUT", "Decision"]

TIMED_OUT = "timed_out"

# When approvers' reactions disagree in one observation we cannot tell which came first (Slack lists the
# users of a reaction, not when they reacted), so the most conservative wins: stop before remediation.
PRECEDENCE: tuple[str, ...] = (PAUSE, SKIP, APPROVE)


@dataclass(frozen=True)
class Decision:
    """A decision that counts: what the trigger hands back to the sensor."""

    reaction: str
    user: str
    source: str  # "reaction" (seen in Slack), "slack-button", "slack-event", "cli", "airflow-ui"
    decided_at: str  # ISO-8601 UTC

    @property
    def outcome(self) -> str:
        return OUTCOMES[self.reaction]

    def as_event(self) -> dict[str, Any]:
        return {**asdict(self), "outcome": self.outcome}


@dataclass(frozen=True)
class Ignored:
    reaction: str
    user: str
    why: str  # "bot", "not an approver", "not a decision reaction"


def may_decide(user: str, approvers: frozenset[str] | None, bot_user_id: str | None) -> str | None:
    """None if `user` may decide, else the reason why not. `approvers=None` means anyone (warned loudly)."""
    if bot_user_id and user == bot_user_id:
        return "bot"
    if approvers is not None and user not in approvers:
        return "not an approver"
    return None


def pick_from_reactions(
    reactions: Iterable[Mapping[str, Any]],
    approvers: frozenset[str] | None,
    bot_user_id: str | None,
    decided_at: str,
) -> tuple[Decision | None, list[Ignored]]:
    """Apply the approver rule to one message's `reactions` (Slack shape: [{name, users, count}])."""
    counted: dict[str, str] = {}
    ignored: list[Ignored] = []
    for r in reactions or ():
        name = _base_name(str(r.get("name", "")))
        for user in r.get("users") or ():
            if name not in OUTCOMES:
                continue  # 👀 and friends are conversation, not decisions; not worth a log line each poll
            why = may_decide(user, approvers, bot_user_id)
            if why:
                ignored.append(Ignored(name, user, why))
            else:
                counted.setdefault(name, user)
    for name in PRECEDENCE:
        if name in counted:
            return Decision(name, counted[name], "reaction", decided_at), ignored
    return None, ignored


def pick_from_records(
    records: Iterable[Mapping[str, Any]], approvers: frozenset[str] | None, bot_user_id: str | None
) -> tuple[Decision | None, list[Ignored]]:
    """First recorded decision (CLI, Slack button, Events API) by someone allowed to decide; oldest first."""
    ignored: list[Ignored] = []
    for rec in records:
        why = may_decide(rec["user"], approvers, bot_user_id)
        if rec["reaction"] not in OUTCOMES:
            why = "not a decision reaction"
        if why:
            ignored.append(Ignored(rec["reaction"], rec["user"], why))
            continue
        return Decision(rec["reaction"], rec["user"], rec["source"], rec["decided_at"]), ignored
    return None, ignored


def _base_name(name: str) -> str:
    # Slack appends skin tones ("+1::skin-tone-2"); our three reactions have none, but be tolerant.
    return name.split("::", 1)[0]


def no_approvers_warning() -> str:
    return (
        ":warning: *No approvers are configured for this approval: ANY member of this channel can approve.* "
        "Set `approvers` on the node or the flow, or the `[aof] approvers` setting."
    )


def thread_text(outcome: str, user: str | None = None, source: str | None = None,
                timeout_seconds: float | None = None) -> str:
    """The reply posted in the approval message's thread, so the channel sees what happened and why."""
    via = {"cli": " (via aofctl)", "slack-button": " (button)", "slack-event": "",
           "airflow-ui": " in Airflow (Required Actions)"}.get(source or "", "")
    # Only a Slack user id is mentioned; anything else (an Airflow user name, `aofctl approve --user`) is text,
    # escaped, never a mention or a link.
    who = f"<@{user}>" if source != "airflow-ui" and user and SLACK_USER_ID.fullmatch(user) else escape(user or "?")
    if outcome == "approved":
        return f":{APPROVE}: Approved by {who}{via}. Auto-remediation is starting."
    if outcome == "paused":
        return f":{PAUSE}: Paused by {who}{via}. No auto-remediation; investigate manually."
    if outcome == "skipped":
        return f":{SKIP}: Skipped by {who}{via}. Auto-remediation will not run."
    if outcome == TIMED_OUT:
        mins = f" after {int(timeout_seconds)}s" if timeout_seconds else ""
        return (f":rotating_light: Approval timed out{mins} with no decision from an approver. "
                "Auto-remediation will NOT run; the incident stays open and is being escalated.")
    raise ValueError(f"unknown outcome {outcome!r}")
