"""Failure escalation (DESIGN §4 "Failure"): a node that fails for good posts to Slack; no failure is silent.

Wired as each node task's `on_failure_callback`, which Airflow calls only once retries are used up. Chosen
over a final ONE_FAILED task because the failed node stays the red square in the grid, the run stays
`failed`, and the post is logged in the failed task's own log, next to the error. PagerDuty is not touched:
the incident stays open for the human.
"""

from __future__ import annotations

import logging
from typing import Any

from aof_airflow.config import setting

log = logging.getLogger(__name__)
MAX_ERROR = 1500


def _redact(text: str) -> str:
    try:
        from airflow.sdk.log import redact

        return str(redact(text))
    except Exception:  # pragma: no cover - masker unavailable: still post, secrets were never in the error text
        return text


def incident_id(conf: Any) -> str | None:
    try:
        return str(conf["event"]["incident"]["id"])
    except (KeyError, TypeError):
        return None


def escalation_text(flow: str, node: str, error: Any, run_id: str | None, attempt: Any, conf: Any) -> str:
    err = _redact(f"{type(error).__name__}: {error}" if isinstance(error, BaseException) else str(error or "unknown"))
    if len(err) > MAX_ERROR:
        err = err[:MAX_ERROR] + " …[cut]"
    err = err.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("```", "'''")
    lines = [
        f"🔴 *AOF flow `{flow}` failed at node `{node}`*",
        f"*Error*: ```{err}```",
        f"*Run*: `{run_id}` (attempt {attempt})",
    ]
    inc = incident_id(conf)
    if inc:
        lines.append(f"*PagerDuty incident*: {inc} left open for manual handling")
    lines.append("@oncall please investigate")
    return "\n".join(lines)


class Escalation:
    """The callable given to every node task; holds only names, so it is cheap to build at parse time."""

    def __init__(self, flow_name: str, channel: str, conn_id: str | None = None) -> None:
        self.flow_name = flow_name
        self.channel = channel
        self.conn_id = conn_id

    def __call__(self, context: Any) -> None:
        from aof_airflow.operators.slack import post_message, slack_conn_id

        ti = context.get("ti")
        dag_run = context.get("dag_run")
        node = getattr(ti, "task_id", "?")
        text = escalation_text(self.flow_name, node, context.get("exception"), getattr(dag_run, "run_id", None),
                               getattr(ti, "try_number", "?"), getattr(dag_run, "conf", None))
        channel = setting("escalation_channel") or self.channel
        try:
            out = post_message(slack_conn_id(self.conn_id), channel, text)
            log.warning("escalated the failure of %s to Slack %s (ts=%s)", node, out["channel"], out["ts"])
        except Exception:  # the run is failed either way; say loudly that the escalation did not go out
            log.exception("could not post the escalation for %s to Slack %s", node, channel)


class RunTimeoutEscalation(Escalation):
    """DAG-level `on_failure_callback` (run by the dag-processor). It only speaks for a run that hit
    `rate_limit.timeout_seconds` (reason `timed_out`): a failed node has already escalated itself."""

    def __call__(self, context: Any) -> None:
        if context.get("reason") != "timed_out":
            return
        from aof_airflow.operators.slack import post_message, slack_conn_id

        dag_run = context.get("dag_run")
        run_id = context.get("run_id") or getattr(dag_run, "run_id", None)
        inc = incident_id(getattr(dag_run, "conf", None))
        text = (f"🔴 *AOF flow `{self.flow_name}` timed out* (rate_limit.timeout_seconds); its running nodes were stopped.\n"
                f"*Run*: `{run_id}`" + (f"\n*PagerDuty incident*: {inc} left open for manual handling" if inc else "")
                + "\n@oncall please investigate")
        try:
            post_message(slack_conn_id(self.conn_id), setting("escalation_channel") or self.channel, text)
        except Exception:
            log.exception("could not post the run-timeout escalation of %s", self.flow_name)
