"""Slack node: post a message; with `wait_for_reaction: true` it is an approval."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from aof_airflow.spec.nodes.base import MAX_TIMEOUT, NodeBase, Strict


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
