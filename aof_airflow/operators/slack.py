"""Slack node: post `message` (Markdown -> mrkdwn) to `channel` with the slack provider's SlackHook.

Only the author's template becomes markup; every `${...}` value is escaped (operators/mrkdwn.py). A run that
had to start without its enrichment (the relay could not fetch the incident's custom details) says so at the
top of its first Slack message.

The token lives in an Airflow Connection (`[aof] slack_conn_id`, default `slack_default`, or the node's
`connection_id`); its `base_url` extra points the hook elsewhere (a proxy, or the tests' stand-in).
Output: `{channel, ts, permalink}` so later nodes (and the approval sensor) can reply in the thread.
"""

from __future__ import annotations

from typing import Any

from aof_airflow.config import setting
from aof_airflow.operators.base import NodeOperator, render_or_fail

DEFAULT_CONN = "slack_default"


def slack_conn_id(node_conn: str | None = None) -> str:
    return node_conn or setting("slack_conn_id") or DEFAULT_CONN


def post_message(conn_id: str, channel: str, text: str, *, thread_ts: str | None = None) -> dict[str, Any]:
    """Post `text` (already mrkdwn) and return {channel, ts, permalink}; Slack errors raise SlackApiError."""
    from airflow.providers.slack.hooks.slack import SlackHook
    from slack_sdk.errors import SlackApiError

    client = SlackHook(slack_conn_id=conn_id).client
    kwargs: dict[str, Any] = {"channel": channel, "text": text, "mrkdwn": True, "unfurl_links": False,
                              "link_names": False}
    if thread_ts:
        kwargs["thread_ts"] = thread_ts
    resp = client.chat_postMessage(**kwargs)
    out = {"channel": resp["channel"], "ts": resp["ts"], "permalink": None}
    try:
        out["permalink"] = client.chat_getPermalink(channel=resp["channel"], message_ts=resp["ts"])["permalink"]
    except (SlackApiError, KeyError):  # a permalink is a convenience; the post itself succeeded
        pass
    return out


def enrichment_notice(task: Any, conf: Any) -> str | None:
    """The line that opens the run's first Slack message when the run started without its enrichment
    (`conf["aof"]["enrichment"]`, written by the relay); None for every other message."""
    info = (conf.get("aof") or {}).get("enrichment") if isinstance(conf, dict) else None
    if not isinstance(info, dict):
        return None
    from aof_airflow.operators.mrkdwn import escape  # with the templating: not at DAG-parse time

    if any(getattr(getattr(t, "node", None), "type", None) == "Slack" for t in task.get_flat_relatives(upstream=True)):
        return None  # an earlier Slack node already said it
    return (f"⚠️ _This run started without {escape(str(info.get('what') or 'its enrichment'))} "
            f"from {escape(str(info.get('from') or 'the event source'))}: {escape(str(info.get('reason') or 'unknown'))}._")


def with_notice(task: Any, context: Any, text: str) -> str:
    notice = enrichment_notice(task, getattr(context.get("dag_run"), "conf", None))
    return f"{notice}\n{text}" if notice else text


class SlackMessageOperator(NodeOperator):
    node_types = ("Slack",)
    ui_color = "#e3f6ec"

    def run(self, tctx: Any, context: Any) -> dict[str, Any]:
        from aof_airflow.operators.mrkdwn import render_mrkdwn
        from aof_airflow.templating import render_text

        cfg = self.node.config
        text = with_notice(self, context, render_or_fail(self.node.id, "message", render_mrkdwn, cfg.message, tctx))
        channel = render_or_fail(self.node.id, "channel", render_text, cfg.channel, tctx)
        out = post_message(slack_conn_id(cfg.connection_id), channel, text)
        self.log.info("posted to %s ts=%s %s", out["channel"], out["ts"], out["permalink"] or "")
        return out

