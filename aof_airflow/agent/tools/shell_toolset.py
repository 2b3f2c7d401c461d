"""The Shell toolset and the scope guard that wraps it.

A command goes through two steps, each a method a wrapper may take over: `plan(text)` reads it into a
`Command` (argv, or a refusal, or a cluster change), `run(command)` runs it. The bare `ShellToolset` parses
(`shell.parse`: no shell syntax, allow-listed programs and paths) and runs argv; it refuses a change, which only
the change guard (`change_guard.py`) may make. `ScopeGuard` adds kubectl's and helm's verb and namespace rules
(`kubectl.py`) to the plan. The stack a Toolbox builds: ScopeGuard(ChangeGuard(ShellToolset)).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from aof_airflow.agent.masking import redact
from aof_airflow.agent.tools import shell
from aof_airflow.agent.tools.kubeconfig import KubeAccess, KubeConnectionError, kube_access
from aof_airflow.agent.tools.kubectl import KubeCall, KubePolicy, check_helm, check_kubectl
from aof_airflow.agent.tools.shell import Refused
from aof_airflow.agent.tools.toolset import ToolContext, Toolset, ToolSpec
from aof_airflow.agent.types import ToolCall
from aof_airflow.spec.models import ShellToolConfig
from aof_airflow.subprocesses import safe_env

log = logging.getLogger("aof.agent")
SHELL = "shell"
MAX_CONCURRENT = 8  # commands of one batch running at once


@dataclass(frozen=True)
class Command:
    """One command as the guards read it: what to run, or why not."""

    text: str
    argv: list[str] | None = None
    change: KubeCall | None = None  # a mutating kubectl call: only the change guard runs it
    refused: str | None = None  # the reason (None: it may run)
    said: str | None = None  # what the model is told when refused (default: the reason)

    @property
    def args(self) -> dict[str, Any]:
        return {"command": self.text}

    def refusal(self) -> ToolCall:
        assert self.refused is not None
        return ToolCall(SHELL, self.args, False, self.said or self.refused, refused=self.refused)

    def answer(self, done: shell.Completed) -> ToolCall:
        return ToolCall(SHELL, self.args, done.ok, with_status(done), truncated=done.truncated)


class ShellLayer(Toolset):
    """The Shell toolset's interface; `shell` and `shell_many` go through the outermost layer's plan and run."""

    policy: KubePolicy
    config: ShellToolConfig | None

    def plan(self, text: str) -> Command:
        raise NotImplementedError

    def run(self, command: Command) -> ToolCall:
        raise NotImplementedError

    def run_together(self, commands: Sequence[Command]) -> list[ToolCall]:
        """Commands that make no change, run at the same time, answers in order."""
        raise NotImplementedError

    def execute(self, argvs: Sequence[list[str]]) -> list[shell.Completed]:
        """Run argv lists (no check: the caller checked them), at the same time, answers in order."""
        raise NotImplementedError

    # --------------------------------------------------------------------------- the toolset
    def handles(self, name: str) -> bool:
        return name == SHELL and self.config is not None

    def call(self, name: str, args: dict[str, Any]) -> ToolCall:
        return self.shell(str(args.get("command", "")))

    def shell(self, text: str) -> ToolCall:
        return self.run(self.plan(text))

    def shell_many(self, texts: Sequence[str]) -> list[ToolCall]:
        """Several commands run at the same time, answered in the given order: independent reads cost one
        command's wait instead of the sum. A batch holding a change runs one command at a time (changes are
        never concurrent with anything)."""
        planned = [self.plan(t) for t in texts]
        if len(planned) < 2 or any(c.change is not None for c in planned):
            return [self.run(c) for c in planned]
        answers = iter(self.run_together([c for c in planned if c.refused is None]))
        return [c.refusal() if c.refused is not None else next(answers) for c in planned]


class ShellToolset(ShellLayer):
    """One allow-listed program at a time, no shell, scrubbed environment (`shell.py`); kubectl and helm get
    the cluster's credentials (`kubeconfig.py`), looked up once, on the first command that needs them."""

    def __init__(self, config: ShellToolConfig | None, ctx: ToolContext) -> None:
        self.config = config
        self.ctx = ctx
        self.policy = KubePolicy.for_agent(config.allowed_verbs if config else None, ctx.agent.metadata.labels)
        self.kube: KubeAccess | None = None
        self._kube_lock = threading.Lock()

    def specs(self) -> list[ToolSpec]:
        if self.config is None:
            return []
        verbs = ", ".join(sorted(self.policy.verbs)) if "kubectl" in self.config.allowed_commands else ""
        namespace = self.ctx.scope.namespace
        desc = (f"Run one command (no shell: no pipes, redirects, ;, &&, $). Allowed programs: "
                f"{', '.join(self.config.allowed_commands)}."
                + (f" kubectl verbs allowed: {verbs}." if verbs else "")
                + (f" Namespace: {namespace} (added automatically)." if namespace else ""))
        return [ToolSpec(SHELL, desc, {
            "type": "object",
            "properties": {"command": {"type": "string", "description": "e.g. kubectl get pods"}},
            "required": ["command"],
        })]

    def plan(self, text: str) -> Command:
        if self.config is None:
            return Command(text, refused="no Shell tool", said="refused: this agent has no Shell tool")
        try:
            return Command(text, argv=shell.parse(text, self.config))
        except Refused as r:
            return Command(text, refused=str(r))

    def run(self, command: Command) -> ToolCall:
        if command.refused is not None:
            return command.refusal()
        if command.change is not None or command.argv is None:  # the change guard was not in the stack
            return replace(command, refused="refused: a change runs only through the change guard").refusal()
        return command.answer(self.execute([command.argv])[0])

    def run_together(self, commands: Sequence[Command]) -> list[ToolCall]:
        done = iter(self.execute([c.argv for c in commands if c.argv is not None and c.change is None]))
        return [c.answer(next(done)) if c.argv is not None and c.change is None else self.run(c) for c in commands]

    def execute(self, argvs: Sequence[list[str]]) -> list[shell.Completed]:
        for argv in argvs:
            log.info("tool run: %s", redact(shell.quote(argv)))
        if len(argvs) < 2:
            return [self._execute(a) for a in argvs]
        with ThreadPoolExecutor(max_workers=min(MAX_CONCURRENT, len(argvs))) as pool:
            return list(pool.map(self._execute, argvs))

    def _execute(self, argv: list[str]) -> shell.Completed:
        assert self.config is not None
        try:
            env = safe_env(self._kube_access().env if argv[0] in ("kubectl", "helm") else None)
        except KubeConnectionError as e:
            self.ctx.journal.note(f"{argv[0]} not run: {e}")
            return shell.Completed(argv, 1, f"not run, no cluster credentials: {e}", False, False)
        return shell.run(argv, timeout=self.ctx.timeout(self.config.timeout_seconds),
                         max_bytes=self.config.max_output_chars, env=env, cwd=shell.workdir(self.config.allowed_paths))

    def _kube_access(self) -> KubeAccess:
        with self._kube_lock:
            if self.kube is None:
                self.kube = kube_access()
                log.info("kubectl credentials: %s", self.kube.source)
            return self.kube

    def close(self) -> None:
        with self._kube_lock:
            if self.kube is not None:
                self.kube.close()
                self.kube = None


class WrapperShell(ShellLayer):
    """A layer around another shell layer: everything it does not take over goes to `wrapped`."""

    def __init__(self, wrapped: ShellLayer) -> None:
        self.wrapped = wrapped
        self.policy = wrapped.policy
        self.config = wrapped.config

    def specs(self) -> list[ToolSpec]:
        return self.wrapped.specs()

    def plan(self, text: str) -> Command:
        return self.wrapped.plan(text)

    def run(self, command: Command) -> ToolCall:
        return self.wrapped.run(command)

    def run_together(self, commands: Sequence[Command]) -> list[ToolCall]:
        return self.wrapped.run_together(commands)

    def execute(self, argvs: Sequence[list[str]]) -> list[shell.Completed]:
        return self.wrapped.execute(argvs)

    def close(self) -> None:
        self.wrapped.close()


class ScopeGuard(WrapperShell):
    """kubectl and helm only within the agent's verbs and the incident's namespace (`kubectl.py`); a mutating
    kubectl call becomes a change for the change guard."""

    def __init__(self, wrapped: ShellLayer, ctx: ToolContext) -> None:
        super().__init__(wrapped)
        self.ctx = ctx

    def plan(self, text: str) -> Command:
        command = self.wrapped.plan(text)
        if command.argv is None or command.argv[0] not in ("kubectl", "helm"):
            return command
        try:
            if command.argv[0] == "helm":
                return replace(command, argv=check_helm(command.argv, self.policy, self.ctx.scope))
            call = check_kubectl(command.argv, self.policy, self.ctx.scope)
        except Refused as r:
            return replace(command, argv=None, refused=str(r))
        return replace(command, argv=call.argv, change=call if call.mutating else None)


def with_status(done: shell.Completed) -> str:
    if done.ok:
        return done.output
    status = "timed out" if done.timed_out else f"exit code {done.exit_code}"
    return f"[{status}]\n{done.output}"
