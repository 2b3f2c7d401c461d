"""Pydantic models of the two AgentFlow kinds, `Agent` and `AgentFlow` (apiVersion aof.dev/v1).

The language is AOF's v1 (agenticdevops/aof: `docs/reference/agentflow-spec.md` and the serde structs of
`crates/aof-core`) plus the tutorial's dialect. Every model forbids unknown keys so a typo is an error; the
loader (`spec.loader`) turns pydantic's error locations into file:line:col messages, and `spec.compat` first
reads AOF's spellings of the same things (e.g. `system_prompt`, top-level `temperature`, `tools: [kubectl]`).
Node types live in `spec.nodes`, one module each; triggers in `spec.triggers`.
"""

from __future__ import annotations

from typing import Annotated, Any, Generic, Literal, TypeVar, Union

from pydantic import AliasChoices, ConfigDict, Field, field_validator, model_validator

from aof_airflow.spec.edges import START, upstream_of  # noqa: F401  (START: re-exported, the language's entry name)
from aof_airflow.spec.model_refs import ModelRef
from aof_airflow.spec.nodes import (  # noqa: F401  (re-exported: the rest of the package imports them from here)
    NODE_TYPES,
    AgentNode,
    AgentNodeConfig,
    ApprovalNode,
    ConditionalNode,
    ConditionalNodeConfig,
    EndNode,
    HTTPNode,
    HTTPNodeConfig,
    InlineAgent,
    JoinNode,
    NamedCondition,
    Node,
    NodeCondition,
    ParallelNode,
    ResponseNode,
    ScriptNode,
    SlackNode,
    SlackNodeConfig,
    Strict,
    TransformNode,
    TransformNodeConfig,
    WaitNode,
)
from aof_airflow.spec.nodes.base import MAX_RETRIES, MAX_TIMEOUT
from aof_airflow.spec.nodes.wait import duration_seconds
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
# Programs an Agent may be given by name (`tools: [kubectl]`): each becomes an allowed command of its Shell tool
CLI_PROGRAMS = frozenset({
    "kubectl", "helm", "docker", "git", "terraform", "aws", "az", "gcloud", "promtool", "trivy", "semgrep",
    "jq", "argocd", "flux", "gh", "glab", "kustomize", "istioctl", "velero", "stern",
})


class Metadata(Strict):
    name: str = Field(pattern=r"^[a-z0-9]([-a-z0-9_.]*[a-z0-9])?$", max_length=200)
    namespace: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    description: str | None = None

    @field_validator("labels", "annotations", mode="before")
    @classmethod
    def _scalars_as_text(cls, v: Any) -> Any:
        # Kubernetes-style labels are strings; YAML reads `replicas: 3` or `enabled: true` as other types
        if isinstance(v, dict):
            return {k: (str(x).lower() if isinstance(x, bool) else str(x)) if isinstance(x, (bool, int, float)) else x
                    for k, x in v.items()}
        return v


SpecT = TypeVar("SpecT")


class BaseDocument(Strict, Generic[SpecT]):
    """The header every kind of document shares; a kind narrows `kind` to its own name and says what `spec` is."""

    api_version: Literal["aof.dev/v1"] = Field(alias="apiVersion")
    kind: str
    metadata: Metadata
    spec: SpecT

    @property
    def name(self) -> str:
        return self.metadata.name


# ----------------------------------------------------------------------------------------- Agent


class ModelSettings(Strict):
    """`spec.model_config` (renamed in Python: pydantic reserves `model_config`)."""

    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, gt=0, le=1_000_000)
    timeout_seconds: float = Field(default=120, gt=0, le=MAX_TIMEOUT)
    max_retries: int = Field(default=4, ge=0, le=MAX_RETRIES)
    base_url: str | None = None


class ShellToolConfig(Strict):
    allowed_commands: list[str] = Field(min_length=1)
    timeout_seconds: float = Field(default=60, gt=0, le=MAX_TIMEOUT)
    # kubectl verbs this agent may use; None = derived from the agent (read-only unless remediation).
    allowed_verbs: list[str] | None = None
    allowed_paths: list[str] = Field(default_factory=list)
    max_output_chars: int = Field(default=8000, gt=0, le=1_000_000)


class MCPToolConfig(Strict):
    name: str
    command: list[str] = Field(min_length=1)
    env: dict[str, str] = Field(default_factory=dict)
    timeout_seconds: float = Field(default=30, gt=0, le=MAX_TIMEOUT)


class HTTPToolConfig(Strict):
    timeout_seconds: float = Field(default=10, gt=0, le=MAX_TIMEOUT)
    allowed_urls: list[str] = Field(default_factory=list)  # URL prefixes; empty = none allowed
    allowed_methods: list[str] = Field(default_factory=lambda: ["GET", "HEAD"])
    max_bytes: int = Field(default=65536, gt=0, le=100_000_000)


class ShellTool(Strict):
    type: Literal["Shell"]
    config: ShellToolConfig


class MCPTool(Strict):
    type: Literal["MCP"]
    config: MCPToolConfig


class HTTPTool(Strict):
    type: Literal["HTTP"]
    config: HTTPToolConfig = Field(default_factory=HTTPToolConfig)


class PrometheusToolConfig(Strict):
    """Read-only PromQL (`query`, `query_range`) against the Connection's Prometheus, within these bounds."""

    connection_id: str = "prometheus_default"
    timeout_seconds: float = Field(default=15, gt=0, le=MAX_TIMEOUT)
    max_range_hours: float = Field(default=24, gt=0, le=24 * 31)
    min_step_seconds: float = Field(default=15, gt=0, le=86400)
    max_points: int = Field(default=1100, gt=0, le=11000)  # per series; Prometheus' own ceiling is 11000
    max_series: int = Field(default=50, gt=0, le=10_000)
    max_output_chars: int = Field(default=8000, gt=0, le=1_000_000)


class PrometheusTool(Strict):
    type: Literal["Prometheus"]
    config: PrometheusToolConfig = Field(default_factory=PrometheusToolConfig)


Tool = Annotated[Union[ShellTool, MCPTool, HTTPTool, PrometheusTool], Field(discriminator="type")]


class MCPServer(Strict):
    """AOF's `mcp_servers` entry (McpServerConfig); only the stdio transport is run here."""

    name: str = Field(min_length=1)
    transport: Literal["stdio"] = "stdio"
    command: str = Field(min_length=1)
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    timeout_secs: float = Field(default=30, gt=0, le=MAX_TIMEOUT)
    tools: list[str] = Field(default_factory=list)
    auto_reconnect: bool = True

    def as_tool(self) -> MCPTool:
        return MCPTool(type="MCP", config=MCPToolConfig(name=self.name, command=[self.command, *self.args],
                                                         env=self.env, timeout_seconds=self.timeout_secs))


class MemoryConfig(Strict):
    path: str | None = None
    max_entries: int = Field(default=5, ge=0, le=1000)


class Memory(Strict):
    type: Literal["SQLite", "Airflow"]
    config: MemoryConfig = Field(default_factory=MemoryConfig)


class AgentSpec(Strict):
    model: ModelRef = Field(pattern=r"^[a-z][a-z0-9_-]*:\S+$")
    fallback_models: list[ModelRef] = Field(default_factory=list)
    model_settings: ModelSettings = Field(default_factory=ModelSettings, alias="model_config")
    instructions: str = ""
    description: str | None = None
    # `tools: [kubectl, helm]` (AOF's plain names) becomes one Shell tool allowing those programs (spec.compat
    # drops the names this project has no tool for, with a warning)
    tools: list[Union[Tool, str]] = Field(default_factory=list)
    mcp_servers: list[MCPServer] = Field(default_factory=list)
    memory: Memory | None = None
    max_steps: int = Field(default=12, gt=0, le=1000, validation_alias=AliasChoices("max_steps", "max_iterations"))
    # AOF's conversation-history bound; each node run here is one fresh conversation, so there is nothing to bound
    max_context_messages: int | None = Field(default=None, gt=0, le=10_000)

    @model_validator(mode="after")
    def _plain_tools(self) -> AgentSpec:
        """Plain program names -> one Shell tool (the first one's place); MCP servers -> MCP tools."""
        names = [t for t in self.tools if isinstance(t, str) and t in CLI_PROGRAMS]  # others: see spec.compat
        if not names and not self.mcp_servers:
            return self
        tools: list[Any] = []
        shell = next((t for t in self.tools if isinstance(t, ShellTool)), None)
        placed = shell is not None
        for t in self.tools:
            if isinstance(t, str):
                if not placed:
                    tools.append(ShellTool(type="Shell", config=ShellToolConfig(allowed_commands=list(dict.fromkeys(names)))))
                    placed = True
                continue
            if t is shell and names:
                cmds = list(dict.fromkeys([*t.config.allowed_commands, *names]))
                t = t.model_copy(update={"config": t.config.model_copy(update={"allowed_commands": cmds})})
            tools.append(t)
        tools.extend(s.as_tool() for s in self.mcp_servers)
        return self.model_copy(update={"tools": tools, "mcp_servers": []})


class Agent(BaseDocument[AgentSpec]):
    kind: Literal["Agent"]


# ------------------------------------------------------------------------------------- AgentFlow


class RateLimit(Strict):
    max_concurrent: int | None = Field(default=None, gt=0, le=10_000)
    queue_size: int | None = Field(default=None, gt=0, le=1_000_000)
    timeout_seconds: int | None = Field(default=None, gt=0, le=MAX_TIMEOUT)


class Connection(Strict):
    from_: str = Field(alias="from", min_length=1)
    to: list[str] = Field(min_length=1)
    # AOF's connection condition, in either spelling (`when` in its parser, `condition` in its docs): the
    # target runs on this edge only when it holds, read against the `from` node's output
    when: str | bool | None = Field(default=None, min_length=1)
    condition: str | bool | None = Field(default=None, min_length=1)

    @field_validator("to", mode="before", json_schema_input_type=Union[str, list[str]])
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @field_validator("when", "condition", mode="before")
    @classmethod
    def _bool_to_text(cls, v: Any) -> Any:
        return ("true" if v else "false") if isinstance(v, bool) else v

    @model_validator(mode="after")
    def _one_condition(self) -> Connection:
        if self.when is not None and self.condition is not None:
            raise ValueError("a connection takes `when` or `condition` (the same thing), not both")
        return self

    @property
    def test(self) -> str | None:
        return self.when if self.when is not None else self.condition


class FlowContext(Strict):
    """`spec.context`: `${context.*}` in templates; `env` (and `kubeconfig`) are the environment of Script and
    Transform nodes, `working_dir` their working directory. Other keys are template variables (AOF's extras)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True, defer_build=True)

    kubeconfig: str | None = Field(default=None, min_length=1)
    namespace: str | None = Field(default=None, min_length=1)
    cluster: str | None = Field(default=None, min_length=1)
    env: dict[str, str] = Field(default_factory=dict)
    working_dir: str | None = Field(default=None, min_length=1, validation_alias=AliasChoices("working_dir", "workingDir"))

    @field_validator("env", mode="before")
    @classmethod
    def _env_text(cls, v: Any) -> Any:
        return {k: (str(x).lower() if isinstance(x, bool) else str(x)) for k, x in v.items()} if isinstance(v, dict) else v

    def as_root(self) -> dict[str, Any]:
        """What `${context.*}` sees."""
        return self.model_dump(mode="json", exclude_none=True)


class RetryConfig(Strict):
    max_attempts: int = Field(default=3, ge=0, le=MAX_RETRIES, validation_alias=AliasChoices("max_attempts", "maxAttempts"))
    initial_delay: str = Field(default="1s", validation_alias=AliasChoices("initial_delay", "initialDelay"))
    backoff_multiplier: float = Field(default=2.0, ge=1, le=10, validation_alias=AliasChoices("backoff_multiplier", "backoffMultiplier"))
    max_delay: str | None = Field(default=None, validation_alias=AliasChoices("max_delay", "maxDelay"))

    @field_validator("initial_delay", "max_delay")
    @classmethod
    def _duration(cls, v: str | None) -> str | None:
        if v is not None and not 0 <= duration_seconds(v) <= MAX_TIMEOUT:
            raise ValueError(f"{v!r} must be between 0 and 7 days")
        return v


class FlowConfig(Strict):
    """`spec.config`: defaults for every node, and the node that runs when one fails."""

    default_timeout_seconds: float | None = Field(default=None, gt=0, le=MAX_TIMEOUT, validation_alias=AliasChoices("default_timeout_seconds", "defaultTimeoutSeconds"))
    retry: RetryConfig | None = None
    error_handler: str | None = Field(default=None, min_length=1, validation_alias=AliasChoices("error_handler", "errorHandler"))
    verbose: bool = False


class AgentFlowSpec(Strict):
    description: str | None = None
    trigger: Trigger = Field(default_factory=lambda: ManualTrigger(type="Manual"))
    rate_limit: RateLimit = Field(default_factory=RateLimit)
    approvers: list[str] | None = None
    context: FlowContext = Field(default_factory=FlowContext)
    config: FlowConfig = Field(default_factory=FlowConfig)
    nodes: list[Node] = Field(min_length=1)
    connections: list[Connection] = Field(default_factory=list)


class AgentFlow(BaseDocument[AgentFlowSpec]):
    kind: Literal["AgentFlow"]

    @property
    def description(self) -> str | None:
        return self.spec.description or self.metadata.description

    def node(self, node_id: str) -> Node:
        for n in self.spec.nodes:
            if n.id == node_id:
                return n
        raise KeyError(node_id)

    def upstream(self) -> dict[str, list[str]]:
        """node id -> ids of its direct upstream nodes, in declaration order (`start` is not a node); computed
        once per flow, not to be changed."""
        return upstream_of(self)


Document = Annotated[Union[Agent, AgentFlow], Field(discriminator="kind")]
