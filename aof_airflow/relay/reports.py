"""Deliveries the relay accepted but did not turn into a run, made visible: readiness, metrics and Slack.

An accepted delivery ends as a run or here. A row is reported when Airflow refused it (a 4xx), when it is an
incident no run can be made of (no usable id), or when it is still not handed over `relay_stuck_after_seconds`
after it arrived (Airflow down, the DAG never parsed). Each is reported once, across relays on one database
(the `aof_relay_reports` row is the claim): one Slack message to the flow's channel naming the incident
(`[aof] escalation_channel`, else the channel of the flow's first Slack node). `/readyz` says `degraded`
and lists them while any failed in the last `relay_report_window_seconds` or any is stuck; the metric
`aof_relay_undelivered{state}` counts them for alerting.

The Slack message carries values (ids, errors) only in `plain_text` blocks, which Slack renders without
any formatting, links or mentions; its fallback text holds none.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timezone
from typing import Any

from aof_airflow.config import setting
from aof_airflow.relay.flows import FlowTable
from aof_airflow.relay.outbox import FAILED, Outbox
from aof_airflow.relay.settings import RelaySettings

log = logging.getLogger(__name__)
RETRY_POST_SECONDS = 60.0  # a Slack post that failed is tried again after this long
PLAIN_TEXT_MAX = 3000  # Block Kit's limit for a section's text


def flow_channel(flows: FlowTable, dag_id: str) -> str | None:
    """Where a flow's failures go: `[aof] escalation_channel`, else its first Slack node's channel."""
    chosen = setting("escalation_channel")
    if chosen:
        return chosen
    flow = next((r.flow for r in flows.routes().values() if r.dag_id == dag_id), None)
    flow = flow or next((r.flow for r in flows.slack_routes() if r.dag_id == dag_id), None)
    for node in flow.spec.nodes if flow is not None else ():
        channel = getattr(getattr(node, "config", None), "channel", None)
        if getattr(node, "type", None) == "Slack" and isinstance(channel, str) and channel:
            return channel
    return None


def why(row: dict[str, Any], stuck: bool) -> str:
    if stuck:
        waited = time.time() - row["created_at"]
        return (f"not handed to Airflow after {waited:.0f}s and {row['attempts']} attempts; still retrying. "
                f"Last error: {row.get('last_error') or 'none'}")
    return f"not started: {row.get('last_error') or 'refused'}"


def message(row: dict[str, Any], stuck: bool) -> tuple[str, list[dict[str, Any]]]:
    """(fallback text, blocks): the fallback holds no value from the event; the values are plain text."""
    title = ":rotating_light: *AOF relay: an accepted incident delivery did not become a run*"
    received = datetime.fromtimestamp(row["created_at"], timezone.utc).isoformat(timespec="seconds")
    details = "\n".join([
        f"Flow: {row['flow']}",
        f"Incident: {row['incident_id'] or '(no usable id)'}",
        f"Event: {row['event_type']}",
        f"Run id: {row.get('dag_run_id') or '-'}",
        f"Received: {received}",
        f"Why: {why(row, stuck)}",
        f"Outbox row: {row['id']} (listed on the relay's /readyz while it counts)",
    ])
    if len(details) > PLAIN_TEXT_MAX:
        details = details[:PLAIN_TEXT_MAX - 20] + " …[cut]"
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": title}},
              {"type": "section", "text": {"type": "plain_text", "text": details, "emoji": False}}]
    return "AOF relay: an accepted incident delivery did not become a run (details in the message)", blocks


def post(channel: str, text: str, blocks: list[dict[str, Any]]) -> str:
    """chat.postMessage through the Slack provider's hook (`[aof] slack_conn_id`, default slack_default)."""
    from airflow.providers.slack.hooks.slack import SlackHook  # only when something is to be reported

    client = SlackHook(slack_conn_id=setting("slack_conn_id") or "slack_default").client
    resp = client.chat_postMessage(channel=channel, text=text, blocks=blocks, unfurl_links=False, link_names=False)
    return str(resp["ts"])


class Reports:
    def __init__(self, outbox: Outbox, flows: FlowTable, settings: RelaySettings) -> None:
        self.outbox, self.flows, self.settings = outbox, flows, settings
        self.posted = 0
        self.post_failures = 0

    def undelivered(self) -> list[dict[str, Any]]:
        now = time.time()
        return self.outbox.undelivered(now - self.settings.report_window_seconds,
                                       now - self.settings.stuck_after_seconds)

    def readiness(self) -> dict[str, Any]:
        rows = self.undelivered()
        return {"status": "degraded" if rows else "ok",
                "undelivered": [{"id": r["id"], "flow": r["flow"], "incident_id": r["incident_id"],
                                 "event_type": r["event_type"], "state": "failed" if r["state"] == FAILED else "stuck",
                                 "dag_run_id": r["dag_run_id"], "reason": r["last_error"],
                                 "reported_in_slack": bool(r["posted"])} for r in rows]}

    def report_due(self) -> int:
        """Post each undelivered row not yet reported; returns how many were posted."""
        posted = 0
        for row in self.undelivered():
            if row["posted"] or not self.outbox.claim_report(row["id"], time.time() - RETRY_POST_SECONDS):
                continue
            stuck = row["state"] != FAILED
            channel = flow_channel(self.flows, row["dag_id"])
            log.error("relay: %s: delivery %s (incident %r, %s) did not become a run: %s", row["flow"], row["id"],
                      row["incident_id"], row["event_type"], why(row, stuck))
            if channel is None:
                self.outbox.report_done(row["id"], False, "no Slack channel: set [aof] escalation_channel")
                continue
            try:
                ts = post(channel, *message(row, stuck))
            except Exception as exc:  # Slack down or not configured: readiness and the metric still say it
                self.post_failures += 1
                log.error("relay: could not report delivery %s to Slack %s: %s", row["id"], channel, exc)
                self.outbox.report_done(row["id"], False, f"{type(exc).__name__}: {exc}")
                continue
            self.outbox.report_done(row["id"], True, f"posted to {channel} ts={ts}")
            posted += 1
        self.posted += posted
        return posted
