"""SlackApprovalTrigger: waits on the triggerer (no worker slot) until an approver decides or time runs out.

Its whole state is its serialized kwargs; reactions live in Slack and recorded decisions in the metadata DB,
so a triggerer killed mid-wait (or the trigger moved to another triggerer) resumes by simply re-registering
with that process's shared channel poller — nothing pending is lost. A decision it sees is first written
into the task instance's HITLDetail row (Airflow's Required Actions), the one record of the decision.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Any, AsyncIterator
from uuid import UUID

from airflow.triggers.base import BaseTrigger, TriggerEvent
from asgiref.sync import sync_to_async

from aof_airflow.approvals.decisions import TIRef
from aof_airflow.approvals.outcome import TIMED_OUT, Decision
from aof_airflow.approvals.poller import poller_for
from aof_airflow.approvals.required_action import settle


class SlackApprovalTrigger(BaseTrigger):
    def __init__(self, *, channel: str, ts: str, deadline: str, slack_conn_id: str,
                 approvers: list[str] | None = None, bot_user_id: str | None = None, label: str = "",
                 dag_id: str = "", run_id: str = "", task_id: str = "", map_index: int = -1,
                 ti_id: str = "") -> None:
        super().__init__()
        self.channel = channel  # channel id (C...), as chat.postMessage answered
        self.ts = ts
        self.deadline = deadline  # ISO-8601 UTC; absolute so a restart does not extend the wait
        self.slack_conn_id = slack_conn_id
        self.approvers = list(approvers) if approvers is not None else None
        self.bot_user_id = bot_user_id
        self.label = label
        # where decisions recorded by aofctl / Slack buttons are kept (this task instance's XCom)
        self.dag_id, self.run_id, self.task_id_, self.map_index = dag_id, run_id, task_id, map_index
        self.ti_id = ti_id  # the task instance's id: its HITLDetail row (Airflow's Required Actions)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return ("aof_airflow.approvals.trigger.SlackApprovalTrigger", {
            "channel": self.channel, "ts": self.ts, "deadline": self.deadline,
            "slack_conn_id": self.slack_conn_id, "approvers": self.approvers,
            "bot_user_id": self.bot_user_id, "label": self.label, "dag_id": self.dag_id, "run_id": self.run_id,
            "task_id": self.task_id_, "map_index": self.map_index, "ti_id": self.ti_id,
        })

    async def run(self) -> AsyncIterator[TriggerEvent]:
        poller = poller_for(self.slack_conn_id, self.channel)
        ref = TIRef(self.dag_id, self.run_id, self.task_id_, self.map_index) if self.run_id else None
        watch = poller.watch(self.ts, self.approvers, self.bot_user_id, label=self.label, logger=self.log, ref=ref)
        remaining = (datetime.fromisoformat(self.deadline) - datetime.now(timezone.utc)).total_seconds()
        self.log.info("waiting for an approver's reaction on %s/%s (%d pending in this channel, %.0fs left)",
                      self.channel, self.ts, len(poller.pending), remaining)
        try:
            claim = await asyncio.wait_for(asyncio.shield(watch.future), max(0.0, remaining))
        except TimeoutError:
            claim = None
        finally:
            poller.unwatch(watch)
        decision = await self._settle(claim)
        if decision is None:
            yield TriggerEvent({"outcome": TIMED_OUT, "reaction": None, "user": None, "source": None,
                                "decided_at": datetime.now(timezone.utc).isoformat(),
                                "channel": self.channel, "ts": self.ts})
            return
        self.log.info("slack approval decision on %s/%s: %s by %s (%s)", self.channel, self.ts, decision.reaction,
                      decision.user, decision.source)
        yield TriggerEvent({**decision.as_event(), "channel": self.channel, "ts": self.ts})

    async def _settle(self, claim: Decision | None) -> Decision | None:
        """The one decision: recorded in the HITLDetail row, unless a response is there already (then that one
        stands and `claim` is said to have come too late). Runs here because only the triggerer's task SDK
        may read and answer a HITLDetail; the worker's may only create it."""
        if not self.ti_id:  # deferred before the Required Actions page existed
            return claim
        decision = await sync_to_async(settle)(UUID(self.ti_id), claim)
        if claim is not None and decision != claim:
            self.log.warning("the %s decision by %s via %s came after %s's via %s in Airflow; it does not count",
                             claim.outcome, claim.user, claim.source, decision.user if decision else "?",
                             decision.source if decision else "?")
        return decision
