"""Response node: answer whoever started the run. With a `channel`, or when the run was started from Slack (its
conf's `event.platform` is slack and `event.channel` names the channel), the message is posted there, in the
thread of `event.thread_ts` / `event.ts`; every run also keeps it as the node's output (the flow's result)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from airflow.sdk import Context

from aof_airflow.operators.base import NodeOperator, render_or_fail
from aof_airflow.operators.slack import post_message, slack_conn_id

if TYPE_CHECKING:
    from aof_airflow.templating import TemplateContext


def reply_target(conf: Mapping[str, Any] | None) -> tuple[str, str | None] | None:
    """(channel, thread ts) of the Slack message that started the run, if one did."""
    event = (conf or {}).get("event")
    if not isinstance(event, Mapping) or str(event.get("platform", "")).lower() != "slack":
        return None
    channel = event.get("channel")
    if not isinstance(channel, str) or not channel:
        return None
    ts = event.get("thread_ts") or event.get("ts")
    return channel, ts if isinstance(ts, str) else None


class ResponseOperator(NodeOperator):
    node_types = ("Response",)
    ui_color = "#e3f6ec"

    def run(self, tctx: TemplateContext, context: Context) -> dict[str, Any]:
        from aof_airflow.templating import render_text  # off the DAG-parse path (test_dag_shape)

        cfg = self.node.config
        text = render_or_fail(self.node.id, "message", render_text, cfg.message, tctx)
        out: dict[str, Any] = {"message": text, "format": cfg.format}
        target = None
        if cfg.channel is not None:
            thread = render_or_fail(self.node.id, "thread_ts", render_text, cfg.thread_ts, tctx) if cfg.thread_ts else None
            target = (render_or_fail(self.node.id, "channel", render_text, cfg.channel, tctx), thread or None)
        else:
            target = reply_target(getattr(context["dag_run"], "conf", None))
        if target is None:
            self.log.info("response (kept as the node's output; the run was not started from Slack):\n%s", text)
            return out
        from aof_airflow.operators.mrkdwn import escape, render_mrkdwn  # with the templating: not at DAG parse

        # values from the event or a model stay inert text: only the author's own Markdown makes links
        body = (render_or_fail(self.node.id, "message", render_mrkdwn, cfg.message, tctx) if cfg.format == "markdown"
                else escape(text))
        posted = post_message(slack_conn_id(cfg.connection_id), target[0], body, thread_ts=target[1])
        self.log.info("posted the response to %s ts=%s", posted["channel"], posted["ts"])
        return {**out, **posted}
