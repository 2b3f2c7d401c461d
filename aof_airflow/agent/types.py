"""The narrow interface between the Agent node and whatever answers it (an LLM tool loop or the rules engine).

The factory's Agent operator only ever sees `run_agent(...) -> AgentResult`; engines only ever see an
`AgentScope` (what the incident allows them to touch) and a `Toolbox` (the guarded tools).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from aof_airflow.spec.models import Agent

if TYPE_CHECKING:  # the toolbox imports this module
    from aof_airflow.agent.tools.toolbox import Toolbox


@dataclass(frozen=True)
class AgentScope:
    """Where an agent may act: the incident's namespace bounds every kubectl call (guardrail in code)."""

    flow: str | None = None
    run_id: str | None = None
    node_id: str | None = None
    incident_id: str | None = None
    service: str | None = None
    namespace: str | None = None
    resource: str | None = None  # e.g. "deployment/api"


@dataclass
class ToolCall:
    tool: str
    args: dict[str, Any]
    ok: bool
    output: str  # already truncated, with a visible marker when it was
    truncated: bool = False
    refused: str | None = None  # reason, when a guardrail refused the call


@dataclass
class Action:
    """A mutating call: what ran (or, in shadow mode, would have run), its server-side dry run, and the snapshot
    taken before it."""

    command: str
    dry_run: str
    snapshot: str
    result: str
    ok: bool
    shadow: bool = False  # shadow mode: only the server dry run ran; `result` says what would have run


@dataclass
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    calls: int = 0

    def add(self, other: Usage) -> None:
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.calls += other.calls


@dataclass
class AgentResult:
    output: dict[str, Any] | str  # the contract object, or free text for an agent without a JSON contract
    text: str  # the final answer as the engine wrote it
    model: str  # which model answered, e.g. "anthropic:claude-3-5-sonnet-20241022" or "builtin:k8s-rules"
    source: str  # "llm" or "rules": never let a rules answer pass for a model's
    usage: Usage = field(default_factory=Usage)
    steps: int = 0
    tool_calls: list[ToolCall] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # e.g. "anthropic failed: ...; fell back to builtin:k8s-rules"

    def meta(self) -> dict[str, Any]:
        """Everything but the output: stored beside it (XCom key `aof_meta`), so templates see only the contract."""
        d = asdict(self)
        d.pop("output")
        return d


class Engine(Protocol):
    """One model behind an agent: `anthropic:...`, `openai:...`, `builtin:k8s-rules`."""

    def run(self, agent: Agent, prompt: str, *, toolbox: Toolbox, scope: AgentScope, deadline: float) -> AgentResult:
        """Answer `prompt` as `agent`, using only `toolbox`, before `deadline` (time.monotonic())."""
        ...


class AgentError(RuntimeError):
    """The agent could not produce a valid answer; the message says why and what to configure."""


class ProviderError(AgentError):
    """The model's provider could not answer (no key, auth, 429/5xx after retries, timeout, unreachable).

    `run_agent` tries the agent's `fallback_models` on this error, and only on this one: a model that answered
    wrongly is not a provider outage.
    """
