"""Agent node: runs a named Agent document, or one defined inline (AOF's `config.inline`)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from aof_airflow.spec.nodes.base import GRACE, MAX_TIMEOUT, NodeBase, Strict


class InlineAgent(Strict):
    """AOF's `InlineAgentConfig`: an agent written inside the flow (name, model, instructions, tools, ...)."""

    name: str = Field(pattern=r"^[a-z0-9]([-a-z0-9_.]*[a-z0-9])?$", max_length=200)
    model: str = Field(pattern=r"^[a-z][a-z0-9_-]*:\S+$")
    instructions: str = ""
    tools: list[Any] = Field(default_factory=list)
    mcp_servers: list[dict[str, Any]] = Field(default_factory=list)
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, gt=0, le=1_000_000)


class AgentNodeConfig(Strict):
    agent: str | None = Field(default=None, min_length=1)
    inline: InlineAgent | None = None
    input: str = ""
    # AOF's "context variables to pass to the agent": each `name: template` is added to the prompt
    context: dict[str, str] = Field(default_factory=dict)
    timeout_seconds: float | None = Field(default=None, gt=0, le=MAX_TIMEOUT)

    @model_validator(mode="after")
    def _one_agent(self) -> AgentNodeConfig:
        if (self.agent is None) == (self.inline is None):
            raise ValueError("an Agent node takes exactly one of `agent` (the name of an Agent document) or "
                             "`inline` (an agent written here: name, model, instructions, tools)")
        return self

    @property
    def agent_name(self) -> str:
        return self.agent if self.agent is not None else self.inline.name  # type: ignore[union-attr]


class AgentNode(NodeBase):
    type: Literal["Agent"]
    config: AgentNodeConfig
    template_fields: ClassVar[tuple[str, ...]] = ("input", "context")

    def execution_seconds(self) -> float | None:
        return self.config.timeout_seconds + GRACE if self.config.timeout_seconds else None
