"""SlackApprovalSensor: the tutorial's `request-approval` node (a Slack node with `wait_for_reaction: true`).

It posts the approval request, then defers to `SlackApprovalTrigger`, so while humans think it holds no
worker slot and shows as `deferred` in the Airflow UI. Task state per outcome (why: the UI must tell the
truth, and the flow's `conditions` must be able to read the result):

- approved  -> success, output.reaction == "white_check_mark" (remediate's condition holds)
- paused    -> success, output.outcome == "paused"  (remediate's condition is false -> it is skipped)
- skipped   -> success, output.outcome == "skipped" (likewise)
- timed_out -> FAILED (AirflowFailException, no retry): nobody decided, so remediation must not run and the
  run's failure escalation fires; the incident stays open. The output is pushed under XCom key `approval`.

Every outcome is also written to the request message's thread.

The request also shows on Airflow's own Required Actions page (a HITLDetail row, approvals/required_action.py);
answering it there resumes this deferred sensor directly. Whichever channel decides first -- a reaction, a
button, `aofctl approve`, the UI or the REST API -- is the one decision, recorded in that row with who and
where; a later one is refused ("already decided by ...").
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Sequence

from airflow.sdk import BaseSensorOperator, Context
from airflow.sdk.exceptions import AirflowFailException

from aof_airflow.approvals import required_action
from aof_airflow.approvals.decisions import DECISIONS_KEY, REQUEST_KEY
from aof_airflow.approvals.outcome import TIMED_OUT, Decision, no_approvers_warning, thread_text
from aof_airflow.config import settings
from aof_airflow.services import slack
from aof_airflow.services.slack import ACTION_PREFIX, APPROVE, PAUSE, SKIP

DEFAULT_TIMEOUT_SECONDS = 3600.0
BUTTONS = (("approve", f":{APPROVE}: Approve", "primary"), ("pause", f":{PAUSE}: Pause", None),
           ("skip", f":{SKIP}: Skip", "danger"))


def configured_approvers(approvers: Sequence[str] | None) -> list[str] | None:
    """The node's / flow's approvers, else the `[aof] approvers` setting (comma separated), else None."""
    if approvers:
        return [a.strip() for a in approvers if a and a.strip()]
    return list(settings().approvers) or None


class SlackApprovalSensor(BaseSensorOperator):
    """Post an approval request to Slack and wait (deferred) for an approver's reaction.

    Usable in any DAG; its output is `{reaction, user, decided_at, channel, ts, outcome}`.

    :param channel: the Slack channel (id or `#name`) to post the request to
    :param message: the request's text (Slack mrkdwn)
    :param approvers: Slack user ids whose reaction counts (None: anyone's but the bot's)
    :param timeout_seconds: how long to wait for a decision (default: `[aof] approval_timeout_seconds`)
    :param slack_conn_id: the Airflow Connection of the Slack app (default: `[aof] slack_conn_id`, slack_default)
    :param interactive_buttons: add Approve / Pause / Skip buttons (answered through the relay) to the message
    """

    template_fields: Sequence[str] = ("channel",)
    ui_color = "#f4d35e"

    def __init__(self, *, channel: str, message: str, approvers: Sequence[str] | None = None,
                 timeout_seconds: float | None = None, slack_conn_id: str | None = None,
                 interactive_buttons: bool = True, **kwargs: Any) -> None:
        self.timeout_seconds = float(timeout_seconds or settings().approval_timeout_seconds
                                     or DEFAULT_TIMEOUT_SECONDS)
        kwargs.setdefault("timeout", self.timeout_seconds + 300)
        kwargs.setdefault("retries", 0)  # a retry would post the request and ask the humans again
        super().__init__(**kwargs)
        self.channel = channel
        self.message = message
        self.approvers = list(approvers) if approvers else None
        self.slack_conn_id = slack.conn_id(slack_conn_id)
        self.interactive_buttons = interactive_buttons

    # -- override points ------------------------------------------------------------------------

    def prepare_message(self, context: Context) -> str:
        """The text to post. The DAG factory overrides/pre-renders this (its `${...}` templating)."""
        return self.message

    def poke(self, context: Context) -> bool:  # never polled on a worker: we always defer
        raise NotImplementedError("SlackApprovalSensor only runs deferred")

    # -- run ----------------------------------------------------------------------------------

    def _hook(self) -> Any:
        return slack.hook(self.slack_conn_id)

    def execute(self, context: Context) -> Any:
        ti = context["ti"]
        run_id = context["dag_run"].run_id
        map_index = getattr(ti, "map_index", -1)
        if map_index is None:
            map_index = -1
        approvers = configured_approvers(self.approvers)
        text = self.prepare_message(context)
        if not approvers:
            self.log.warning("NO APPROVERS CONFIGURED for %s: any channel member's reaction will be accepted. "
                             "Set `approvers` on the node or flow, or [aof] approvers.", ti.task_id)
            text = f"{no_approvers_warning()}\n\n{text}"
        hook = self._hook()
        resp = hook.call("chat.postMessage", json=self._payload(text))
        channel, ts = resp["channel"], resp["ts"]
        bot_user_id = (resp.get("message") or {}).get("user")
        if not bot_user_id:
            try:
                bot_user_id = hook.call("auth.test")["user_id"]
            except Exception as exc:  # only used to ignore our own reactions; approvers list covers the rest
                self.log.warning("could not learn the bot's user id (auth.test): %s", exc)
        permalink = None
        try:
            permalink = hook.call("chat.getPermalink", params={"channel": channel, "message_ts": ts},
                                  http_verb="GET")["permalink"]
        except Exception as exc:
            self.log.warning("chat.getPermalink failed: %s", exc)
        deadline = datetime.now(timezone.utc) + timedelta(seconds=self.timeout_seconds)
        # where aofctl / tests / the UI's XCom tab find the message (we may not touch the metadata DB here)
        ti.xcom_push(key=REQUEST_KEY, value={"channel": channel, "ts": ts, "permalink": permalink,
                                             "deadline": deadline.isoformat(), "approvers": approvers})
        ti.xcom_push(key=DECISIONS_KEY, value=[])  # aofctl / Slack buttons append here; the trigger reads it
        self.log.info("slack approval requested in %s (ts %s, %s); approvers: %s; times out at %s", channel, ts,
                      permalink, approvers or "ANYONE", deadline.isoformat())
        self._open_required_action(ti, text, permalink)
        self._defer(channel, ts, permalink, deadline, approvers, bot_user_id,
                    dict(dag_id=ti.dag_id, run_id=run_id, task_id=ti.task_id, map_index=map_index, ti_id=str(ti.id)))

    def _open_required_action(self, ti: Any, text: str, permalink: str | None) -> None:
        """The same request on Airflow's Required Actions page; Slack alone still works if this fails."""
        first = next((ln.strip(" *_:") for ln in text.splitlines() if ln.strip(" *_:")), ti.task_id)
        body = text.replace("\n", "  \n")  # the page renders Markdown: keep the message's line breaks
        body = f"{body}\n\nSlack: {permalink}" if permalink else body
        try:
            required_action.open_request(ti.id, f"{ti.dag_id} / {ti.run_id}: {first}", body)
            self.log.info("approval also open in Airflow's Required Actions (options %s)",
                          ", ".join(required_action.OPTIONS))
        except Exception as exc:
            self.log.warning("approval not shown in Airflow's Required Actions (Slack and aofctl still work): %s",
                             exc)

    def _payload(self, text: str) -> dict[str, Any]:
        payload: dict[str, Any] = {"channel": self.channel, "text": text, "unfurl_links": False}
        if self.interactive_buttons:
            chunks = [text[i:i + 2900] for i in range(0, len(text), 2900)] or [" "]
            blocks: list[dict] = [{"type": "section", "text": {"type": "mrkdwn", "text": c}} for c in chunks[:45]]
            blocks.append({"type": "actions", "block_id": "aof_approval", "elements": [
                {"type": "button", "action_id": f"{ACTION_PREFIX}{d}", "value": d,
                 "text": {"type": "plain_text", "text": label, "emoji": True}, **({"style": s} if s else {})}
                for d, label, s in BUTTONS]})
            payload["blocks"] = blocks
        return payload

    def _defer(self, channel: str, ts: str, permalink: str | None, deadline: datetime,
               approvers: list[str] | None, bot_user_id: str | None, ident: dict[str, Any]) -> None:
        from aof_airflow.approvals.trigger import SlackApprovalTrigger  # the poller: not needed to build the DAG

        remaining = max(0.0, (deadline - datetime.now(timezone.utc)).total_seconds())
        self.defer(
            trigger=SlackApprovalTrigger(channel=channel, ts=ts, deadline=deadline.isoformat(),
                                         slack_conn_id=self.slack_conn_id, approvers=approvers,
                                         bot_user_id=bot_user_id,
                                         label=f"{ident['dag_id']}/{ident['run_id']}/{ident['task_id']}", **ident),
            method_name="execute_complete",
            kwargs={"permalink": permalink, "channel": channel, "ts": ts},
            # Backstop only: the trigger itself fires `timed_out` at the deadline.
            timeout=timedelta(seconds=remaining + 120),
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None, permalink: str | None = None,
                         channel: str | None = None, ts: str | None = None) -> dict[str, Any]:
        """Resumed by our trigger (reaction, button, aofctl, timeout) or by Airflow's HITL response (UI, REST)."""
        event = event or {"outcome": TIMED_OUT, "channel": channel, "ts": ts}
        channel, ts = event.get("channel") or channel, event.get("ts") or ts
        decision = self._decision(event)
        outcome = decision.outcome if decision else TIMED_OUT
        result = {
            "reaction": decision.reaction if decision else None, "outcome": outcome,
            "user": decision.user if decision else None,
            "decided_at": decision.decided_at if decision else datetime.now(timezone.utc).isoformat(),
            "source": decision.source if decision else None, "channel": channel, "ts": ts, "permalink": permalink,
        }
        self._finish(context, result)
        if outcome == TIMED_OUT:
            raise AirflowFailException(
                f"Approval timed out after {int(self.timeout_seconds)}s with no decision from an approver "
                f"({permalink or f'{channel}/{ts}'}); remediation will not run.")
        self.log.info("slack approval %s by %s via %s", outcome, result["user"], result["source"])
        return result

    def _decision(self, event: dict[str, Any]) -> Decision | None:
        """Airflow's HITL response (UI, REST API), or what our trigger settled (already in the HITLDetail row)."""
        if required_action.is_response_event(event):
            return required_action.from_response(event.get("chosen_options"), event.get("responded_by_user"),
                                                 event.get("responded_at"), event.get("params_input"))
        if event.get("outcome") == TIMED_OUT:
            return None
        return Decision(event["reaction"], event["user"], event.get("source") or "reaction",
                        event.get("decided_at") or datetime.now(timezone.utc).isoformat())

    def resume_execution(self, next_method: str, next_kwargs: dict[str, Any] | None, context: Context) -> Any:
        # The backstop timeout (the trigger never fired, e.g. no triggerer running at all) is still "timed out".
        from airflow.sdk.bases.operator import TRIGGER_FAIL_REPR, TriggerFailureReason

        kw = next_kwargs or {}
        if next_method == TRIGGER_FAIL_REPR and kw.get("error") == TriggerFailureReason.TRIGGER_TIMEOUT:
            req = context["ti"].xcom_pull(task_ids=self.task_id, key=REQUEST_KEY) or {}
            if req.get("channel"):
                return self.execute_complete(context, {"outcome": TIMED_OUT, "channel": req["channel"],
                                                       "ts": req["ts"]}, permalink=req.get("permalink"))
        return super().resume_execution(next_method, next_kwargs, context)

    def _finish(self, context: Context, result: dict[str, Any]) -> None:
        text = thread_text(result["outcome"], result["user"], result["source"], self.timeout_seconds)
        try:
            self._hook().call("chat.postMessage", json={"channel": result["channel"], "thread_ts": result["ts"],
                                                        "text": text})
        except Exception as exc:  # the decision stands even if Slack is briefly unreachable; say so loudly
            self.log.error("could not post the outcome to the approval thread: %s", exc)
        if result["outcome"] == TIMED_OUT:
            try:
                context["ti"].xcom_push(key="approval", value=result)
            except Exception as exc:
                self.log.warning("could not push the timed-out result to XCom: %s", exc)
