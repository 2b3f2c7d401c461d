"""Slack node: post a message; with `wait_for_reaction: true` it is an approval."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from aof_airflow.spec.nodes.base import MAX_TIMEOUT, SLACK_POST_SECONDS, NodeBase, Strict


class SlackNodeConfig(Strict):
    channel: str = Field(min_length=1)
    message: str = Field(min_length=1)
    wait_for_reaction: bool = False
    timeout_seconds: float | None = Field(default=None, gt=0, le=MAX_TIMEOUT)
    approvers: list[str] | None = None
    connection_id: str | None = None


class SlackNode(NodeBase):
    type: Literal["Slack"]
    config: SlackNodeConfig
    template_fields: ClassVar[tuple[str, ...]] = ("channel", "message")

    def operator_key(self) -> str:
        return "Approval" if self.config.wait_for_reaction else "Slack"  # waiting: the approval sensor runs it

    def execution_seconds(self) -> float | None:
        return None if self.config.wait_for_reaction else SLACK_POST_SECONDS  # an approval is deferred

    def posts_to(self) -> str | None:
        return None if "${" in self.config.channel else self.config.channel
