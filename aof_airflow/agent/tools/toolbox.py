"""The Toolbox: an engine's only way to act. Built from the agent's tools, its guardrails bound to the scope.

Engines that speak tool-JSON use `specs()` + `call(name, args)`; the rules engine uses `shell(command)`.
Every call (refused ones too) lands in `tool_calls`; every change in `actions`; problems in `notes`.
MCP servers start when a model is first told about the tools (`specs()`), not before: an engine that
never offers them (the rules engine) never pays for starting one (seconds for the seed's npx server).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Sequence

from aof_airflow.agent.masking import redact
from aof_airflow.agent.tools import http as http_tool
from aof_airflow.agent.tools import guards, idempotency, shell
from aof_airflow.agent.tools.kubeconfig import KubeAccess, KubeConnectionError, kube_access
from aof_airflow.agent.tools.kubectl import KubeCall, KubePolicy, check_helm, check_kubectl
from aof_airflow.agent.tools.mcp import MCPHub, MCPServer, MCPServerError, MCPToolSpec
from aof_airflow.agent.tools.shell import Refused
from aof_airflow.agent.types import Action, AgentScope, ToolCall
from aof_airflow.spec.models import Agent, HTTPTool, MCPTool, MCPToolConfig, PrometheusTool, ShellTool
from aof_airflow.subprocesses import safe_env

log = logging.getLogger("aof.agent")
SHELL = "shell"
HTTP = "http_request"
TOOL_RESULT_CHARS = 8000
MAX_CONCURRENT = 8  # commands of one shell_many batch running at once


@dataclass
class ToolSpec:
    """What a model is told about a tool (JSON Schema input), provider-neutral."""

    name: str
    description: str
    input_schema: dict[str, Any]


class Toolbox:
    def __init__(self, agent: Agent, scope: AgentScope, *, deadline: float | None = None) -> None:
        self.agent = agent
        self.scope = scope
        self.deadline = deadline
        self.tool_calls: list[ToolCall] = []
        self.actions: list[Action] = []
        self.notes: list[str] = []
        self.limits = guards.Limits.from_settings()
        self.shadow = self.limits.shadow_for(scope.flow)  # every change a server dry run, recorded, not applied
        self._leases: list[int] = []  # ledger rows of changes made here: "running" until close()
        self._shell = next((t.config for t in agent.spec.tools if isinstance(t, ShellTool)), None)
        self._http = next((t.config for t in agent.spec.tools if isinstance(t, HTTPTool)), None)
        self._policy = KubePolicy.for_agent(self._shell.allowed_verbs if self._shell else None, agent.metadata.labels)
        self._mcp_tools: dict[str, tuple[MCPServer, MCPToolSpec]] = {}  # exposed name -> (server, tool)
        self._hub: MCPHub | None = None
        self._mcp_configs: list[MCPToolConfig] | None = [t.config for t in agent.spec.tools if isinstance(t, MCPTool)]
        self._kube: KubeAccess | None = None  # the cluster credentials, looked up on the first command
        self._kube_lock = threading.Lock()
        self._toolsets = _toolsets(agent, self._timeout)  # self-contained tools (agent/tools/prometheus.py)
        if self._http is not None and not self._http.allowed_urls:
            self._note("HTTP tool not offered: no allowed_urls configured for it")

    # ------------------------------------------------------------------ what the model sees
    def specs(self) -> list[ToolSpec]:
        """What the model is offered; starts the MCP servers on the first call."""
        self._start_mcp()
        out = []
        if self._shell:
            verbs = ", ".join(sorted(self._policy.verbs)) if "kubectl" in self._shell.allowed_commands else ""
            desc = (
                f"Run one command (no shell: no pipes, redirects, ;, &&, $). Allowed programs: "
                f"{', '.join(self._shell.allowed_commands)}."
                + (f" kubectl verbs allowed: {verbs}." if verbs else "")
                + (f" Namespace: {self.scope.namespace} (added automatically)." if self.scope.namespace else "")
            )
            out.append(ToolSpec(SHELL, desc, {
                "type": "object",
                "properties": {"command": {"type": "string", "description": "e.g. kubectl get pods"}},
                "required": ["command"],
            }))
        if self._http and self._http.allowed_urls:
            out.append(ToolSpec(HTTP, f"HTTP request to an allowed URL ({', '.join(self._http.allowed_urls)}).", {
                "type": "object",
                "properties": {
                    "url": {"type": "string"},
                    "method": {"type": "string", "enum": list(self._http.allowed_methods)},
                },
                "required": ["url"],
            }))
        for name, (_server, spec) in self._mcp_tools.items():
            out.append(ToolSpec(name, spec.description or f"{spec.name} (MCP server {spec.server})", spec.input_schema))
        out += [s for ts in self._toolsets for s in ts.specs()]
        return out

    # ------------------------------------------------------------------ calling
    def call(self, name: str, args: dict[str, Any]) -> ToolCall:
        if name == SHELL and self._shell:
            return self.shell(str(args.get("command", "")))
        if name == HTTP and self._http and self._http.allowed_urls:
            return self.http(str(args.get("url", "")), str(args.get("method", "GET")))
        toolset = next((ts for ts in self._toolsets if name in ts.names), None)
        if toolset is not None:
            return self._finish(toolset.call(name, args))
        self._start_mcp()
        if name in self._mcp_tools:
            return self._mcp_call(name, args)
        return self._finish(ToolCall(name, dict(args), False, f"unknown tool {name!r}", refused="unknown tool"))

    def shell(self, command: str) -> ToolCall:
        """Run one command through every guardrail; refusals come back as a ToolCall, never an exception."""
        checked = self._check(command)
        if isinstance(checked, ToolCall):
            return self._finish(checked)
        if isinstance(checked, KubeCall):
            return self._mutate(checked, {"command": command})
        done = self._run(checked)
        return self._finish(ToolCall(SHELL, {"command": command}, done.ok, _with_status(done), truncated=done.truncated))

    def shell_many(self, commands: Sequence[str]) -> list[ToolCall]:
        """Several commands, each through every guardrail, run at the same time and recorded in the given
        order: independent reads cost one command's wait instead of the sum. A batch holding a change runs
        one command at a time (changes are never concurrent with anything)."""
        checked = [self._check(c) for c in commands]
        if len(commands) < 2 or any(isinstance(c, KubeCall) for c in checked):
            return [self.shell(c) for c in commands]
        done = iter(self._run_together([c for c in checked if isinstance(c, list)]))
        out = []
        for command, c in zip(commands, checked):
            if isinstance(c, ToolCall):
                out.append(self._finish(c))
            else:
                d = next(done)
                out.append(self._finish(ToolCall(SHELL, {"command": command}, d.ok, _with_status(d), truncated=d.truncated)))
        return out

    def _check(self, command: str) -> list[str] | KubeCall | ToolCall:
        """argv to run, a mutating KubeCall (dry run + snapshot first), or the refusal as a ToolCall."""
        args = {"command": command}
        if not self._shell:
            return ToolCall(SHELL, args, False, "refused: this agent has no Shell tool", refused="no Shell tool")
        try:
            argv = shell.parse(command, self._shell)
            if argv[0] == "kubectl":
                call = check_kubectl(argv, self._policy, self.scope)
                return call if call.mutating else call.argv
            if argv[0] == "helm":
                return check_helm(argv, self._policy, self.scope)
            return argv
        except Refused as r:
            return ToolCall(SHELL, args, False, str(r), refused=str(r))

    def http(self, url: str, method: str = "GET") -> ToolCall:
        args = {"url": url, "method": method}
        if not self._http:
            return self._finish(ToolCall(HTTP, args, False, "refused: this agent has no HTTP tool", refused="no HTTP tool"))
        try:
            method, url = http_tool.check(method, url, self._http)
        except Refused as r:
            return self._finish(ToolCall(HTTP, args, False, str(r), refused=str(r)))
        try:
            ok, text, truncated = http_tool.request(method, url, self._http, self._timeout(self._http.timeout_seconds))
        except Exception as e:
            ok, text, truncated = False, f"HTTP request failed: {type(e).__name__}: {e}", False
        return self._finish(ToolCall(HTTP, args, ok, text, truncated=truncated))

    # ------------------------------------------------------------------ changes
    def _mutate(self, call: KubeCall, args: dict[str, Any]) -> ToolCall:
        """The remediation budget and the cap on concurrent remediations first; then the dry run on the server and
        the snapshot of the target (together: both only read), then the change -- or, in shadow mode, the record
        of what would have run. Recorded so a retry does not repeat it."""
        command = shell.quote(call.argv)
        try:
            previous = idempotency.recorded(self.scope, command)
        except Exception as e:  # the record is a safety net for retries; its outage must not block a fix
            previous = None
            self._note(f"could not read the change record ({type(e).__name__}: {e}); a retry may repeat: {command}")
        if previous is not None:
            self.actions.append(previous)
            self._note(f"already applied in an earlier try of this run, not repeated: {command}")
            return self._finish(ToolCall(SHELL, args, previous.ok, f"(already applied earlier in this run)\n{previous.result}"))
        namespace = call.namespace or ""
        targets = guards.targets_of(call.targets)
        if not self.shadow:
            try:
                refused = guards.refusal(self.limits, self.scope, namespace, targets)
            except Exception as e:  # the budget cannot be known: a guard that cannot check does not let through
                refused = f"the remediation ledger is unavailable ({type(e).__name__}: {e}); no change without its check"
            if refused:
                self._note(f"refused {command}: {refused}")
                return self._finish(ToolCall(SHELL, args, False, f"refused: {refused}", refused=refused))
        dry_argv = call.dry_run_argv()
        snap_argv = call.snapshot_argv()
        answers = self._run_together([dry_argv, *([snap_argv] if snap_argv else [])])
        dry, snap = answers[0], (answers[1] if snap_argv else None)
        if not dry.ok:
            msg = f"server dry run failed; the change was NOT made:\n{_with_status(dry)}"
            return self._finish(ToolCall(SHELL, args, False, msg))
        snapshot = snap.output if snap and snap.ok else f"(no snapshot: {snap.output if snap else 'target not nameable'})"
        if self.shadow:
            return self._shadow(call, command, args, dry, dry_argv, snapshot, namespace, targets)
        real = self._run(call.argv)
        dry_record = f"$ {shell.quote(dry_argv)}\n{dry.output}"  # which dry run: restart's is a patch
        action = Action(command=command, dry_run=dry_record, snapshot=snapshot, result=real.output, ok=real.ok)
        self.actions.append(action)
        if real.ok:
            try:
                idempotency.record(self.scope, action)
            except Exception as e:
                self._note(f"could not record the change ({type(e).__name__}: {e}): {command}")
            self._ledger(namespace, targets, command, "applied")
        out = f"dry run (server): {dry.output.strip()}\nsnapshot taken ({len(snapshot)} chars)\n{_with_status(real)}"
        return self._finish(ToolCall(SHELL, args, real.ok, out, truncated=real.truncated))

    def _shadow(self, call: KubeCall, command: str, args: dict[str, Any], dry: shell.Completed, dry_argv: list[str],
                snapshot: str, namespace: str, targets: list[str]) -> ToolCall:
        """Shadow mode: the server accepted the dry run; nothing is applied. The record says what would have run."""
        said = f"SHADOW MODE: not applied. Would have run: {command}\nserver dry run: {dry.output.strip()}"
        action = Action(command=command, dry_run=f"$ {shell.quote(dry_argv)}\n{dry.output}", snapshot=snapshot,
                        result=said, ok=True, shadow=True)
        self.actions.append(action)
        self._note(f"shadow mode: would have run {command}")
        self._ledger(namespace, targets, command, "shadow")
        return self._finish(ToolCall(SHELL, args, True, said))

    def _ledger(self, namespace: str, targets: list[str], command: str, state: str) -> None:
        if not self.scope.run_id:
            return
        until = None
        if self.deadline is not None:
            until = datetime.now(timezone.utc) + timedelta(seconds=max(0.0, self.deadline - time.monotonic()))
        try:
            self._leases += guards.record(self.scope, namespace, targets, command, state, deadline=until)
        except Exception as e:  # the change is made; only its count in the budget is lost
            self._note(f"could not note the change in the remediation ledger ({type(e).__name__}: {e}): {command}")

    # ------------------------------------------------------------------ plumbing
    def _run(self, argv: list[str]) -> shell.Completed:
        log.info("tool run: %s", redact(shell.quote(argv)))
        return self._execute(argv)

    def _run_together(self, argvs: list[list[str]]) -> list[shell.Completed]:
        """Several argv at once (each in its own process group, with the same timeout), answers in order."""
        for argv in argvs:
            log.info("tool run: %s", redact(shell.quote(argv)))
        if len(argvs) < 2:
            return [self._execute(a) for a in argvs]
        with ThreadPoolExecutor(max_workers=min(MAX_CONCURRENT, len(argvs))) as pool:
            return list(pool.map(self._execute, argvs))

    def _execute(self, argv: list[str]) -> shell.Completed:
        assert self._shell is not None
        try:
            env = safe_env(self._kube_access().env if argv[0] in ("kubectl", "helm") else None)
        except KubeConnectionError as e:
            self._note(f"{argv[0]} not run: {e}")
            return shell.Completed(argv, 1, f"not run, no cluster credentials: {e}", False, False)
        return shell.run(
            argv, timeout=self._timeout(self._shell.timeout_seconds), max_bytes=self._shell.max_output_chars,
            env=env, cwd=shell.workdir(self._shell.allowed_paths),
        )

    def _kube_access(self) -> KubeAccess:
        with self._kube_lock:
            if self._kube is None:
                self._kube = kube_access()
                log.info("kubectl credentials: %s", self._kube.source)
            return self._kube

    def _timeout(self, configured: float) -> float:
        if self.deadline is None:
            return configured
        return max(0.1, min(configured, self.deadline - time.monotonic()))

    def _mcp_call(self, name: str, args: dict[str, Any]) -> ToolCall:
        server, spec = self._mcp_tools[name]
        try:
            ok, text = server.call(spec.name, args, self._timeout(server.config.timeout_seconds))
        except Exception as e:
            ok, text = False, f"MCP call failed: {type(e).__name__}: {e}"
        text, truncated = truncate(text, TOOL_RESULT_CHARS)
        return self._finish(ToolCall(name, dict(args), ok, text, truncated=truncated))

    def _start_mcp(self) -> None:
        """Start every MCP server once (a server that fails is noted and left out)."""
        configs, self._mcp_configs = self._mcp_configs, None
        if not configs:
            return
        self._hub = MCPHub()
        for cfg in configs:
            try:
                server = self._hub.start(cfg)
            except MCPServerError as e:
                self._note(f"MCP server {cfg.name!r} ({' '.join(cfg.command)}) unavailable, running without it: {e}")
                continue
            for spec in server.tools:
                exposed = _tool_name(f"{cfg.name}__{spec.name}")
                self._mcp_tools[exposed] = (server, spec)
            log.info("MCP server %r started with tools %s", cfg.name, [t.name for t in server.tools])

    def _finish(self, call: ToolCall) -> ToolCall:
        call.output = redact(call.output)
        self.tool_calls.append(call)
        status = "refused" if call.refused else ("ok" if call.ok else "failed")
        log.info("tool %s %s %s -> %s", call.tool, status, redact(json.dumps(call.args)), call.output[:2000])
        return call

    def _note(self, text: str) -> None:
        self.notes.append(text)
        log.warning("%s", text)

    def close(self) -> None:
        if self._leases or (self.scope.run_id and self._shell and self._policy.may_mutate):
            try:  # this try's leases, and any an earlier try of this node left when its process died
                guards.release(list(dict.fromkeys([*self._leases, *guards.held(self.scope)])))
            except Exception as e:  # the lease then ends by itself (guards.LEASE)
                self._note(f"could not end the remediation's lease ({type(e).__name__}: {e})")
            self._leases = []
        for ts in self._toolsets:
            ts.close()
        if self._hub:
            self._hub.close()
            self._hub = None
        if self._kube is not None:
            self._kube.close()
            self._kube = None

    def __enter__(self) -> "Toolbox":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def truncate(text: str, limit: int) -> tuple[str, bool]:
    if len(text) <= limit:
        return text, False
    return text[:limit] + shell.TRUNCATION_MARKER.format(dropped=len(text) - limit), True


def _toolsets(agent: Agent, timeout: Any) -> list[Any]:
    """The agent's self-contained toolsets (each with `names`, `specs`, `call`, `close`)."""
    out: list[Any] = []
    for t in agent.spec.tools:
        if isinstance(t, PrometheusTool):
            from aof_airflow.agent.tools.prometheus import PrometheusToolset  # only agents that have one load it

            out.append(PrometheusToolset(t.config, timeout))
    return out


def _with_status(done: shell.Completed) -> str:
    if done.ok:
        return done.output
    status = "timed out" if done.timed_out else f"exit code {done.exit_code}"
    return f"[{status}]\n{done.output}"


def _tool_name(raw: str) -> str:
    """Provider tool names: [a-zA-Z0-9_-], at most 64 characters."""
    return re.sub(r"[^a-zA-Z0-9_-]", "_", raw)[:64]
