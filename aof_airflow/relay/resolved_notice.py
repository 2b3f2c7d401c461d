"""A pending approval is told when its alert resolved at the source.

When Alertmanager sends `resolved` for a signal whose run waits for a human's approval, the approval's Slack
thread gets a reply saying so: the approver may still approve (the cause may come back) or skip. Best effort:
a Slack or database error is logged, never turned into a failed delivery (Alertmanager would retry it).
"""

from __future__ import annotations

import logging
from typing import Any, Callable

log = logging.getLogger(__name__)


def _waiting(run_id: str, dag_id: str) -> list[tuple[Any, str | None, dict[str, Any]]]:
    from aof_airflow.approvals.decisions import waiting_approvals

    return waiting_approvals(run_id=run_id, dag_id=dag_id)


def _client(conn_id: str) -> Any:
    from aof_airflow.services import slack  # the provider's hook only when an approval is waiting

    return slack.hook(conn_id, waits=False).client


def tell_pending_approvals(dag_id: str, run_id: str, text: str, *,
                           waiting: Callable[[str, str], list] | None = None,
                           client: Callable[[str], Any] | None = None) -> int:
    """Reply `text` in the thread of each approval of this run still waiting; returns how many were told."""
    waiting, client = waiting or _waiting, client or _client
    try:
        pending = [(ref, kw) for ref, state, kw in waiting(run_id, dag_id) if state == "deferred"]
    except Exception as exc:
        log.warning("relay: could not look up approvals of %s/%s: %s", dag_id, run_id, type(exc).__name__)
        return 0
    told = 0
    for ref, kw in pending:
        try:
            client(kw.get("slack_conn_id") or "slack_default").chat_postMessage(
                channel=kw["channel"], thread_ts=kw["ts"], text=text, mrkdwn=False)
            told += 1
        except Exception as exc:
            log.warning("relay: could not tell the approval %s of %s that its source resolved: %s",
                        ref.task_id, run_id, type(exc).__name__)
    return told
