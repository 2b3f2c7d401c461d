"""Failure escalation (docs/architecture.md, "No failure is silent") as Airflow notifiers: no failure is silent.

`NodeFailureNotifier` is every node task's `on_failure_callback` (Airflow calls it once retries are used
up), and works as well on any other Airflow task. Chosen over a final ONE_FAILED task because the failed
node stays the red square in the grid, the run stays `failed`, and the post is logged in the failed
task's own log, next to the error. `RunTimeoutNotifier` is the DAG's callback for a run that hit
`rate_limit.timeout_seconds`. Both post one Slack message naming the flow, the node and the error through
the Slack provider's hook, and leave the incident open for the human. No Jinja: the error text carries
event values, so the message is built in code and escaped for Slack mrkdwn.
"""

from __future__ import annotations

from airflow.sdk import BaseNotifier, Context

from aof_airflow.agent.masking import redact
from aof_airflow.config import settings
from aof_airflow.operators.base import NodeMixin, conf_context
from aof_airflow.services.slack import code, escape, post_message
from aof_airflow.services.slack import conn_id as slack_conn_id
from aof_airflow.spec.incident import Incident, IncidentProfile

MAX_ERROR = 1500


def error_text(error: object) -> str:
    err = redact(f"{type(error).__name__}: {error}" if isinstance(error, BaseException) else str(error or "unknown"))
    return err if len(err) <= MAX_ERROR else err[:MAX_ERROR] + " …[cut]"


def incident_line(incident: Incident) -> list[str]:
    if not incident.id:
        return []
    label = f"{incident.system} incident" if incident.system else "Incident"
    return [f"*{label}*: {escape(incident.id)} left open for manual handling"]


def escalation_text(flow: str, node: str, error: object, run_id: str | None, attempt: object,
                    incident: Incident) -> str:
    return "\n".join([
        f"🔴 *AOF flow `{flow}` failed at node `{node}`*",
        f"*Error*: ```{code(error_text(error))}```",
        f"*Run*: `{run_id}` (attempt {attempt})",
        *incident_line(incident),
        "@oncall please investigate",
    ])


class EscalationNotifier(BaseNotifier):
    """Posts `message(context)` to the escalation channel (`[aof] escalation_channel`, else `channel`).

    Usable on any DAG or task as `on_failure_callback`, beside AgentFlow's.

    :param flow_name: the flow (or DAG) named in the message
    :param channel: the Slack channel to post to when `[aof] escalation_channel` is not set
    :param slack_conn_id: the Airflow Connection of the Slack app (default: `[aof] slack_conn_id`, slack_default)
    :param incident: where the run's incident id, service and namespace come from (default: the tutorial's
        flow variables, then PagerDuty's `event.incident`)
    """

    template_fields = ()  # nothing is Jinja-rendered: see the module docstring

    def __init__(self, *, flow_name: str, channel: str, slack_conn_id: str | None = None,
                 incident: IncidentProfile | None = None) -> None:
        super().__init__()
        self.flow_name = flow_name
        self.channel = channel
        self.slack_conn_id = slack_conn_id
        self.incident = incident or IncidentProfile()

    def message(self, context: Context) -> str | None:  # pragma: no cover - abstract
        raise NotImplementedError

    def notify(self, context: Context) -> None:
        text = self.message(context)
        if text is None:
            return
        channel = settings().escalation_channel or self.channel
        try:
            out = post_message(slack_conn_id(self.slack_conn_id), channel, text)
            self.log.warning("escalated to Slack %s (ts=%s)", out["channel"], out["ts"])
        except Exception:  # the run is failed either way; say loudly that the escalation did not go out
            self.log.exception("could not post the escalation of %s to Slack %s", self.flow_name, channel)


class NodeFailureNotifier(EscalationNotifier):
    """A task failed for good: name the node, the error and the run. A task's `on_failure_callback`; takes
    EscalationNotifier's parameters."""

    def message(self, context: Context) -> str:
        ti, dag_run, task = context.get("ti"), context.get("dag_run"), context.get("task")
        try:  # an AgentFlow node resolves the profile as its templates do (flow variables included)
            tctx = task.node_context(context)[0] if isinstance(task, NodeMixin) else conf_context(dag_run)
        except Exception:  # the ancestors' XComs are out of reach: the trigger payload still names the incident
            tctx = conf_context(dag_run)
        return escalation_text(self.flow_name, getattr(ti, "task_id", "?"), context.get("exception"),
                               getattr(dag_run, "run_id", None), getattr(ti, "try_number", "?"),
                               self.incident.resolve(tctx))


class RunTimeoutNotifier(EscalationNotifier):
    """DAG-level callback (run by the dag-processor). It only speaks for a run that hit
    `rate_limit.timeout_seconds` (reason `timed_out`): a failed node has already escalated itself. A DAG's
    `on_failure_callback`; takes EscalationNotifier's parameters."""

    def message(self, context: Context) -> str | None:
        if context.get("reason") != "timed_out":
            return None
        dag_run = context.get("dag_run")
        run_id = context.get("run_id") or getattr(dag_run, "run_id", None)
        lines = [f"🔴 *AOF flow `{self.flow_name}` timed out* (rate_limit.timeout_seconds); its running nodes "
                 "were stopped.", f"*Run*: `{run_id}`", *incident_line(self.incident.resolve(conf_context(dag_run))),
                 "@oncall please investigate"]
        return "\n".join(lines)
