"""The approval node: the approvals package's deferrable SlackApprovalSensor with the node semantics on top.

Imported only when a flow has a `wait_for_reaction: true` Slack node (the registry does it lazily). Before
posting, the node reads its ancestors and checks its `conditions` like every other node (skipped when none
holds), and its message is our `${...}` template turned into Slack mrkdwn, every value escaped
(operators/mrkdwn.py).
Output (from the sensor): `{reaction, user, decided_at, channel, ts, outcome}`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Sequence

from airflow.sdk import BaseOperator, Context

from aof_airflow.approvals.sensor import SlackApprovalSensor
from aof_airflow.operators.base import Decided, NodeMixin, NodeWiring, render_or_fail
from aof_airflow.operators.slack import with_notice
from aof_airflow.spec.incident import IncidentProfile
from aof_airflow.spec.models import Agent, AgentFlow, ApprovalNode, Node, SlackNode

if TYPE_CHECKING:
    from aof_airflow.templating import TemplateContext


class ApprovalNodeSensor(NodeMixin, SlackApprovalSensor):
    """An Approval / HumanApproval node, or a Slack node with `wait_for_reaction: true`.

    :param approvers: the flow's `approvers` (Slack user ids), used when the node names none
    """

    template_fields: Sequence[str] = ()  # `${...}` templating only, never Jinja
    node_types = ("Approval", "HumanApproval")  # a waiting Slack node too (SlackNode.operator_key)

    @classmethod
    def plan_kwargs(cls, node: Node, flow: AgentFlow, incident: IncidentProfile) -> dict[str, Any]:
        return {"approvers": flow.spec.approvers}

    @classmethod
    def build(cls, node: Node, kwargs: dict[str, Any], agents: Mapping[str, Agent]) -> BaseOperator:
        # never retried, whatever default_task_retries says: a second try would ask again
        return cls(**{**kwargs, "retries": 0})

    def __init__(self, *, flow_name: str, node: ApprovalNode | SlackNode, ancestors: Sequence[str] = (), transforms: Sequence[str] = (),
                 decides: Sequence[Decided] = (), approvers: Sequence[str] | None = None,
                 wiring: NodeWiring | None = None, **kwargs: Any) -> None:
        cfg = node.config
        super().__init__(channel=cfg.channel, message=cfg.message, approvers=cfg.approvers or approvers,
                         timeout_seconds=cfg.timeout_seconds, slack_conn_id=cfg.connection_id, **kwargs)
        self.init_node(flow_name=flow_name, node=node, ancestors=ancestors, transforms=transforms, decides=decides,
                       wiring=wiring)
        self._tctx: TemplateContext | None = None

    def execute(self, context: Context) -> Any:
        from aof_airflow.templating import render_text  # off the DAG-parse path (test_dag_shape)

        self._tctx = self.prepare(context)
        self.channel = render_or_fail(self.node.id, "channel", render_text, self.node.config.channel, self._tctx)
        return super().execute(context)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None, permalink: str | None = None,
                         channel: str | None = None, ts: str | None = None) -> dict[str, Any]:
        result = super().execute_complete(context, event, permalink=permalink, channel=channel, ts=ts)
        self.skip_decided(context, result)
        return result

    def prepare_message(self, context: Context) -> str:
        from aof_airflow.operators.mrkdwn import render_mrkdwn  # imports the templating: off the DAG-parse path

        tctx = self._tctx if self._tctx is not None else self.prepare(context)
        return with_notice(self, context, render_or_fail(self.node.id, "message", render_mrkdwn,
                                                         self.node.config.message, tctx))
