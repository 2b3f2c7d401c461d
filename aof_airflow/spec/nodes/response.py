"""Response node: answer whoever started the run. A run started from Slack (its `event.channel`) gets the
message in that channel's thread; every run keeps it as the node's output (the flow's result, in XCom)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from aof_airflow.spec.nodes.base import SLACK_POST_SECONDS, NodeBase, Strict


class ResponseNodeConfig(Strict):
    message: str = Field(min_length=1)
    format: Literal["text", "markdown"] = "markdown"
    channel: str | None = Field(default=None, min_length=1)  # post here instead of the trigger's channel
    thread_ts: str | None = Field(default=None, min_length=1)  # reply in this thread (AOF's Slack field)
    connection_id: str | None = None


class ResponseNode(NodeBase):
    type: Literal["Response"]
    config: ResponseNodeConfig
    template_fields: ClassVar[tuple[str, ...]] = ("channel", "thread_ts", "message")

    def execution_seconds(self) -> float | None:
        return SLACK_POST_SECONDS
