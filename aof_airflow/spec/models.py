"""Pydantic models of the two AgentFlow kinds, `Agent` and `AgentFlow` (apiVersion aof.dev/v1).

Every model forbids unknown keys so a typo is an error, not a silently ignored setting; the loader
(`spec.loader`) turns pydantic's error locations into file:line:col messages.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from aof_airflow.spec.model_refs import ModelRef
from aof_airflow.spec.triggers import (  # noqa: F401
    BearerAuth,
    HMACAuth,
    ManualTrigger,
    ScheduleTrigger,
    Trigger,
    WebhookConfig,
    WebhookTrigger,
)

API_VERSION = "aof.dev/v1"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True, defer_build=True)


class Metadata(Strict):
    name: str = Field(pattern=r"^[a-z0-9]([-a-z0-9_.]*[a-z0-9])?$", max_length=200)
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    description: str | None = None


# ----------------------------------------------------------------------------------------- Agent


class ModelSettings(Strict):
    """`spec.model_config` (renamed in Python: pydantic reserves `model_config`)."""

    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, gt=0)
    timeout_seconds: float = Field(default=120, gt=0)
    max_retries: int = Field(default=4, ge=0)
    base_url: str | None = None


class ShellToolConfig(Strict):
    allowed_commands: list[str] = Field(min_length=1)
    timeout_seconds: float = Field(default=60, gt=0)
    # kubectl verbs this agent may use; None = derived from the agent (read-only unless remediation).
    allowed_verbs: list[str] | None = None
    allowed_paths: list[str] = Field(default_factory=list)
    max_output_chars: int = Field(default=8000, gt=0)


class MCPToolConfig(Strict):
    name: str
    command: list[str] = Field(min_length=1)
    env: dict[str, str] = Field(default_factory=dict)
    timeout_seconds: float = Field(default=30, gt=0)


class HTTPToolConfig(Strict):
    timeout_seconds: float = Field(default=10, gt=0)
    allowed_urls: list[str] = Field(default_factory=list)  # URL prefixes; empty = none allowed
    allowed_methods: list[str] = Field(default_factory=lambda: ["GET", "HEAD"])
    max_bytes: int = Field(default=65536, gt=0)


class ShellTool(Strict):
    type: Literal["Shell"]
    config: ShellToolConfig


class MCPTool(Strict):
    type: Literal["MCP"]
    config: MCPToolConfig


class HTTPTool(Strict):
    type: Literal["HTTP"]
    config: HTTPToolConfig = Field(default_factory=HTTPToolConfig)


Tool = Annotated[Union[ShellTool, MCPTool, HTTPTool], Field(discriminator="type")]


class MemoryConfig(Strict):
    path: str | None = None
    max_entries: int = Field(default=5, ge=0)


class Memory(Strict):
    type: Literal["SQLite", "Airflow"]
    config: MemoryConfig = Field(default_factory=MemoryConfig)


class AgentSpec(Strict):
    model: ModelRef = Field(pattern=r"^[a-z][a-z0-9_-]*:\S+$")
    fallback_models: list[ModelRef] = Field(default_factory=list)
    model_settings: ModelSettings = Field(default_factory=ModelSettings, alias="model_config")
    instructions: str
    tools: list[Tool] = Field(default_factory=list)
    memory: Memory | None = None
    max_steps: int = Field(default=12, gt=0)


class Agent(Strict):
    api_version: Literal["aof.dev/v1"] = Field(alias="apiVersion")
    kind: Literal["Agent"]
    metadata: Metadata
    spec: AgentSpec

    @property
    def name(self) -> str:
        return self.metadata.name


# ------------------------------------------------------------------------------------- AgentFlow


class RateLimit(Strict):
    max_concurrent: int | None = Field(default=None, gt=0)
    queue_size: int | None = Field(default=None, gt=0)
    timeout_seconds: int | None = Field(default=None, gt=0)


class NodeCondition(Strict):
    from_: str = Field(alias="from")
    when: str | bool

    @field_validator("when", mode="before")
    @classmethod
    def _bool_to_text(cls, v: Any) -> Any:
        # YAML reads `when: true` as a bool; the condition language reads the text "true".
        return ("true" if v else "false") if isinstance(v, bool) else v


class _NodeBase(Strict):
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
    conditions: list[NodeCondition] = Field(default_factory=list)
    # unset: the deployment's `[core] default_task_retries` (0 unless configured), as for any Airflow task
    retries: int | None = Field(default=None, ge=0)
    retry_delay_seconds: float = Field(default=30, ge=0)
    description: str | None = None


class AgentNodeConfig(Strict):
    agent: str
    input: str = ""
    timeout_seconds: float | None = Field(default=None, gt=0)


class TransformNodeConfig(Strict):
    script: str
    timeout_seconds: float = Field(default=60, gt=0)


class NamedCondition(Strict):
    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    expression: str


class ConditionalNodeConfig(Strict):
    conditions: list[NamedCondition] | None = None
    condition: str | None = None

    @model_validator(mode="after")
    def _one_form(self) -> "ConditionalNodeConfig":
        if (self.conditions is None) == (self.condition is None):
            raise ValueError("a Conditional node takes exactly one of `conditions` (a named list) or `condition`")
        return self


class SlackNodeConfig(Strict):
    channel: str
    message: str
    wait_for_reaction: bool = False
    timeout_seconds: float | None = Field(default=None, gt=0)
    approvers: list[str] | None = None
    connection_id: str | None = None


class HTTPNodeConfig(Strict):
    url: str
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | dict[str, Any] | list[Any] | None = None
    timeout_seconds: float = Field(default=30, gt=0)
    connection_id: str | None = None


class AgentNode(_NodeBase):
    type: Literal["Agent"]
    config: AgentNodeConfig


class TransformNode(_NodeBase):
    type: Literal["Transform"]
    config: TransformNodeConfig


class ConditionalNode(_NodeBase):
    type: Literal["Conditional"]
    config: ConditionalNodeConfig


class SlackNode(_NodeBase):
    type: Literal["Slack"]
    config: SlackNodeConfig


class HTTPNode(_NodeBase):
    type: Literal["HTTP"]
    config: HTTPNodeConfig


Node = Annotated[
    Union[AgentNode, TransformNode, ConditionalNode, SlackNode, HTTPNode], Field(discriminator="type")
]
NODE_TYPES = ("Agent", "Transform", "Conditional", "Slack", "HTTP")


class Connection(Strict):
    from_: str = Field(alias="from")
    to: list[str] = Field(min_length=1)

    @field_validator("to", mode="before", json_schema_input_type=Union[str, list[str]])
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v


class AgentFlowSpec(Strict):
    trigger: Trigger = Field(default_factory=lambda: ManualTrigger(type="Manual"))
    rate_limit: RateLimit = Field(default_factory=RateLimit)
    approvers: list[str] | None = None
    nodes: list[Node] = Field(min_length=1)
    connections: list[Connection] = Field(default_factory=list)


class AgentFlow(Strict):
    api_version: Literal["aof.dev/v1"] = Field(alias="apiVersion")
    kind: Literal["AgentFlow"]
    metadata: Metadata
    spec: AgentFlowSpec

    @property
    def name(self) -> str:
        return self.metadata.name

    def node(self, node_id: str) -> Node:
        for n in self.spec.nodes:
            if n.id == node_id:
                return n
        raise KeyError(node_id)

    def upstream(self) -> dict[str, list[str]]:
        """node id -> ids of its direct upstream nodes, in declaration order."""
        up: dict[str, list[str]] = {n.id: [] for n in self.spec.nodes}
        for c in self.spec.connections:
            for t in c.to:
                if t in up and c.from_ not in up[t]:
                    up[t].append(c.from_)
        return up


Document = Annotated[Union[Agent, AgentFlow], Field(discriminator="kind")]
