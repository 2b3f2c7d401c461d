"""Approval / HumanApproval node: a human decides in Slack, the same deferrable approval as a Slack node
with `wait_for_reaction: true` (AOF names it `Approval` in its parser and `HumanApproval` in its docs)."""

from __future__ import annotations

from typing import ClassVar, Literal, Self

from pydantic import Field

from aof_airflow.spec.nodes.base import MAX_TIMEOUT, NodeBase, Strict


class ApprovalNodeConfig(Strict):
    message: str = Field(min_length=1)
    channel: str | None = Field(default=None, min_length=1)  # default: the flow's escalation channel
    timeout_seconds: float | None = Field(default=None, gt=0, le=MAX_TIMEOUT)
    approvers: list[str] | None = None
    connection_id: str | None = None


class ApprovalNode(NodeBase):
    type: Literal["Approval", "HumanApproval"]
    config: ApprovalNodeConfig
    template_fields: ClassVar[tuple[str, ...]] = ("channel", "message")

    def with_defaults(self, timeout_seconds: float | None, channel: str) -> Self:
        node = super().with_defaults(timeout_seconds, channel)
        if node.config.channel is not None:
            return node
        return node.model_copy(update={"config": node.config.model_copy(update={"channel": channel})})
