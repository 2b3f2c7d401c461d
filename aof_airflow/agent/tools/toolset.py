"""What every toolset is (pydantic-ai's shape): `specs()` tells the model what it may call, `call(name, args)`
calls it, `close()` ends what it started. A `CombinedToolset` offers several as one; a wrapper toolset adds a
check around another one (the shell's scope and change guards are wrappers, see `shell_toolset.py`).

Every toolset of a Toolbox shares one `ToolContext`: the agent, its scope, the deadline of the node, and the
`Journal` in which every call, change and note lands. The Journal is written from several threads at once
(the rules engine reads the cluster in parallel), so it appends under a lock.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aof_airflow.agent.masking import redact
from aof_airflow.agent.tools.shell import TRUNCATION_MARKER
from aof_airflow.agent.types import Action, AgentScope, ToolCall
from aof_airflow.spec.models import Agent

log = logging.getLogger("aof.agent")
TOOL_RESULT_CHARS = 8000


@dataclass
class ToolSpec:
    """What a model is told about a tool (JSON Schema input), provider-neutral."""

    name: str
    description: str
    input_schema: dict[str, Any]


@dataclass
class Journal:
    """What the tools did: every call (refused ones too), every change, every problem worth telling."""

    tool_calls: list[ToolCall] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def finish(self, call: ToolCall) -> ToolCall:
        """Redact the call's output, record it, log it; the same call comes back."""
        call.output = redact(call.output)
        with self._lock:
            self.tool_calls.append(call)
        status = "refused" if call.refused else ("ok" if call.ok else "failed")
        log.info("tool %s %s %s -> %s", call.tool, status, redact(json.dumps(call.args)), call.output[:2000])
        return call

    def act(self, action: Action) -> None:
        with self._lock:
            self.actions.append(action)

    def note(self, text: str) -> None:
        with self._lock:
            self.notes.append(text)
        log.warning("%s", text)


@dataclass
class ToolContext:
    """What every toolset of one Toolbox shares."""

    agent: Agent
    scope: AgentScope
    journal: Journal
    deadline: float | None = None  # time.monotonic() by which the node must be done

    def timeout(self, configured: float) -> float:
        """A tool's own timeout, cut to what is left before the deadline."""
        if self.deadline is None:
            return configured
        return max(0.1, min(configured, self.deadline - time.monotonic()))


class Toolset(ABC):
    """A group of tools offered to a model."""

    @abstractmethod
    def specs(self) -> list[ToolSpec]:
        """The tools offered (a toolset that starts servers starts them here)."""

    @abstractmethod
    def handles(self, name: str) -> bool:
        """Whether `call(name, ...)` is for this toolset."""

    @abstractmethod
    def call(self, name: str, args: dict[str, Any]) -> ToolCall:
        """Call one tool; a refusal or a failure comes back as a ToolCall, never as an exception."""

    def close(self) -> None:
        """End what the toolset started (servers, credentials, leases)."""


class CombinedToolset(Toolset):
    """Several toolsets offered as one: a call goes to the first that handles its name."""

    def __init__(self, toolsets: Sequence[Toolset]) -> None:
        self.toolsets = list(toolsets)

    def specs(self) -> list[ToolSpec]:
        return [s for t in self.toolsets for s in t.specs()]

    def handles(self, name: str) -> bool:
        return any(t.handles(name) for t in self.toolsets)

    def call(self, name: str, args: dict[str, Any]) -> ToolCall:
        for t in self.toolsets:
            if t.handles(name):
                return t.call(name, args)
        return ToolCall(name, dict(args), False, f"unknown tool {name!r}", refused="unknown tool")

    def close(self) -> None:
        for t in self.toolsets:
            t.close()


def truncate(text: str, limit: int) -> tuple[str, bool]:
    if len(text) <= limit:
        return text, False
    return text[:limit] + TRUNCATION_MARKER.format(dropped=len(text) - limit), True
