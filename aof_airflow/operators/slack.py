"""Slack node: post `message` (Markdown -> mrkdwn) to `channel` with the slack provider's SlackHook.

Only the author's template becomes markup; every `${...}` value is escaped (operators/mrkdwn.py). A run that
had to start without its enrichment (the relay could not fetch the incident's custom details) says so at the
top of its first Slack message.

The token lives in an Airflow Connection (`[aof] slack_conn_id`, default `slack_default`, or the node's
`connection_id`); its `base_url` extra points the hook elsewhere (a proxy, or the tests' stand-in).
Output: `{channel, ts, permalink}` so later nodes (and the approval sensor) can reply in the thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import Context

from aof_airflow.operators.base import NodeOperator, render_or_fail
from aof_airflow.services.slack import DEFAULT_CONN, escape, post_message
from aof_airflow.services.slack import conn_id as slack_conn_id
from aof_airflow.spec.models import SlackNode

if TYPE_CHECKING:
    from aof_airflow.templating import TemplateContext

__all__ = ["DEFAULT_CONN", "SlackMessageOperator", "post_message", "slack_conn_id", "with_notice"]


def enrichment_notice(task: Any, conf: Any) -> str | None:
    """The line that opens the run's first Slack message when the run started without its enrichment
    (`conf["aof"]["enrichment"]`, written by the relay); None for every other message."""
    info = (conf.get("aof") or {}).get("enrichment") if isinstance(conf, dict) else None
    if not isinstance(info, dict):
        return None
    if any(getattr(getattr(t, "node", None), "type", None) == "Slack" for t in task.get_flat_relatives(upstream=True)):
        return None  # an earlier Slack node already said it
    return (f"⚠️ _This run started without {escape(str(info.get('what') or 'its enrichment'))} "
            f"from {escape(str(info.get('from') or 'the event source'))}: {escape(str(info.get('reason') or 'unknown'))}._")


def with_notice(task: Any, context: Context, text: str) -> str:
    notice = enrichment_notice(task, getattr(context.get("dag_run"), "conf", None))
    return f"{notice}\n{text}" if notice else text


class SlackMessageOperator(NodeOperator):
    """Posts a Slack node's `message` to its `channel` through the Connection's one cached SlackHook.

    :param flow_name: the flow (DAG) the node belongs to
    :param node: the Slack node (`message`, `channel`, optional `connection_id`)
    :param ancestors: the node ids whose outputs `${...}` may read
    :param transforms: the ancestor Transforms whose exports are flow variables, in order
    :param decides: the children whose conditions this node's output decides
    :param wiring: spec.context, `${previous.output}` and the flow's log settings
    """

    node_types = ("Slack",)
    ui_color = "#e3f6ec"
    node: SlackNode

    def run(self, tctx: TemplateContext, context: Context) -> dict[str, Any]:
        from aof_airflow.operators.mrkdwn import render_mrkdwn
        from aof_airflow.templating import render_text

        cfg = self.node.config
        text = with_notice(self, context, render_or_fail(self.node.id, "message", render_mrkdwn, cfg.message, tctx))
        channel = render_or_fail(self.node.id, "channel", render_text, cfg.channel, tctx)
        out = post_message(slack_conn_id(cfg.connection_id), channel, text)
        self.log.info("posted to %s ts=%s %s", out["channel"], out["ts"], out["permalink"] or "")
        return out

