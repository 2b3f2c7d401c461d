"""The Toolbox: an engine's only way to act. Built from the agent's tools, its guards bound to the scope.

It is a combined toolset (`toolset.py`) of one toolset per kind of tool the agent has, each made by a factory in
TOOLSETS: a new kind of tool is its toolset module plus one line there. Engines that speak tool-JSON use
`specs()` + `call(name, args)`; the rules engine uses `shell(command)` / `shell_many(commands)`, from several
threads at once. Every call (refused ones too) lands in `tool_calls`, every change in `actions`, problems in
`notes`. Every cluster change goes through the one change guard (`change_guard.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from aof_airflow.agent.tools import guards
from aof_airflow.agent.tools.change_guard import ChangeGuard
from aof_airflow.agent.tools.http import HTTPToolset
from aof_airflow.agent.tools.kubeconfig import KubeAccess
from aof_airflow.agent.tools.mcp import MCPToolset
from aof_airflow.agent.tools.prometheus import PrometheusToolset
from aof_airflow.agent.tools.shell_toolset import ScopeGuard, ShellLayer, ShellToolset
from aof_airflow.agent.tools.toolset import TOOL_RESULT_CHARS, CombinedToolset, Journal, ToolContext, Toolset, ToolSpec
from aof_airflow.agent.types import Action, AgentScope, ToolCall
from aof_airflow.spec.models import Agent, ShellTool

__all__ = ["TOOLSETS", "TOOL_RESULT_CHARS", "ToolSpec", "Toolbox"]


def guarded_shell(ctx: ToolContext) -> ShellLayer:
    """The Shell toolset inside its guards: scope (verbs, namespace), then changes (budget, dry run, ...). Made
    for every agent: one without a Shell tool is refused by it, with the reason."""
    config = next((t.config for t in ctx.agent.spec.tools if isinstance(t, ShellTool)), None)
    return ScopeGuard(ChangeGuard(ShellToolset(config, ctx), ctx, guards.Limits.from_settings()), ctx)


# One line per kind of tool: the factory of its toolset from the agent's tools (None: the agent has none). The
# order is the order the model is told about them and the order a called name is looked up in.
TOOLSETS: tuple[Callable[[ToolContext], Toolset | None], ...] = (
    guarded_shell,
    HTTPToolset.for_agent,
    MCPToolset.for_agent,
    PrometheusToolset.for_agent,
)


class Toolbox:
    """The agent's tools for one scope, as a context manager: `close()` ends servers, credentials and leases.

    :param agent: the Agent document whose `spec.tools` are offered
    :param scope: the incident and run the tools act for (namespace, resource, run id)
    :param deadline: `time.monotonic()` by which the node must be done; every tool's timeout is cut to it
    """

    def __init__(self, agent: Agent, scope: AgentScope, *, deadline: float | None = None) -> None:
        self.agent = agent
        self.scope = scope
        self.deadline = deadline
        self.journal = Journal()
        ctx = ToolContext(agent, scope, self.journal, deadline)
        self.toolsets = CombinedToolset([t for t in (make(ctx) for make in TOOLSETS) if t is not None])
        self._shell = self._find(ShellLayer)
        self._http = self._find(HTTPToolset)
        self._changes = self._guard()

    # ------------------------------------------------------------------ what was done
    @property
    def tool_calls(self) -> list[ToolCall]:
        return self.journal.tool_calls

    @property
    def actions(self) -> list[Action]:
        return self.journal.actions

    @property
    def notes(self) -> list[str]:
        return self.journal.notes

    @property
    def limits(self) -> guards.Limits:
        return self._changes.limits

    @property
    def shadow(self) -> bool:
        return self._changes.shadow

    # ------------------------------------------------------------------ the tools
    def specs(self) -> list[ToolSpec]:
        """What the model is offered; starts the MCP servers on the first call."""
        return self.toolsets.specs()

    def call(self, name: str, args: dict[str, Any]) -> ToolCall:
        return self.journal.finish(self.toolsets.call(name, args))

    def shell(self, command: str) -> ToolCall:
        """Run one command through every guard; a refusal comes back as a ToolCall, never an exception."""
        return self.journal.finish(self._shell.shell(command))

    def shell_many(self, commands: Sequence[str]) -> list[ToolCall]:
        """Several commands at the same time, each through every guard, recorded in the given order."""
        return [self.journal.finish(c) for c in self._shell.shell_many(commands)]

    def http(self, url: str, method: str = "GET") -> ToolCall:
        return self.journal.finish(self._http.http(url, method))

    def close(self) -> None:
        self.toolsets.close()

    def __enter__(self) -> Toolbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ plumbing
    def _find(self, kind: type[Any]) -> Any:
        return next(t for t in self.toolsets.toolsets if isinstance(t, kind))

    def _guard(self) -> ChangeGuard:
        layer: ShellLayer = self._shell
        while not isinstance(layer, ChangeGuard):
            layer = layer.wrapped  # type: ignore[attr-defined]
        return layer

    @property
    def _kube(self) -> KubeAccess | None:
        """The cluster credentials the shell looked up (None before its first kubectl or helm command)."""
        layer: Any = self._shell
        while not isinstance(layer, ShellToolset):
            layer = layer.wrapped
        return layer.kube
