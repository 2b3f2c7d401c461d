"""MCP tools: stdio servers through the `mcp` SDK (ClientSession + stdio_client), driven from synchronous code.

Each server lives in one task on a private event loop thread (the SDK's context managers must open and close
in the same task). Starting is bounded by the server's `timeout_seconds`: a server that cannot start (the
seed's `npx -y @modelcontextprotocol/server-kubectl` is not on npm; npx may also hang on the network) is
reported and skipped, and the agent keeps its other tools.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import re
import tempfile
import threading
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aof_airflow.agent.tools.toolset import TOOL_RESULT_CHARS, ToolContext, Toolset, ToolSpec, truncate
from aof_airflow.agent.types import ToolCall
from aof_airflow.config import settings
from aof_airflow.spec.models import MCPTool, MCPToolConfig

log = logging.getLogger("aof.agent")
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass
class MCPToolSpec:
    server: str
    name: str  # the server's own tool name
    description: str
    input_schema: dict[str, Any]


class MCPServerError(RuntimeError):
    pass


def expand_env(env: dict[str, str]) -> dict[str, str]:
    """`${VAR}` / `${VAR:-default}` from the worker's environment; unset and empty values are dropped."""
    out = {}
    for k, v in env.items():
        value = _VAR.sub(lambda m: os.environ.get(m.group(1)) or (m.group(2) or ""), v)
        if value:
            out[k] = value
    return out


class MCPServer:
    """One running stdio server: `start()` (bounded), `tools`, `call(name, args)`, `close()`."""

    def __init__(self, config: MCPToolConfig, loop: asyncio.AbstractEventLoop) -> None:
        self.config = config
        self.tools: list[MCPToolSpec] = []
        self._loop = loop
        self._requests: asyncio.Queue | None = None
        self._ready: Future = Future()
        self._exited = threading.Event()
        self._task: asyncio.Future | None = None
        self._stderr = tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace")

    def start(self) -> None:
        self._task = asyncio.run_coroutine_threadsafe(self._serve(), self._loop)
        try:
            self._ready.result(timeout=self.config.timeout_seconds)
        except FutureTimeout:
            self.close()
            raise MCPServerError(f"did not start within {self.config.timeout_seconds:.0f}s{self._stderr_tail()}") from None
        except Exception as e:
            self.close()
            raise MCPServerError(f"failed to start: {_root(e)}{self._stderr_tail()}") from None

    def call(self, name: str, args: dict[str, Any], timeout: float) -> tuple[bool, str]:
        if self._requests is None:
            raise MCPServerError("server is not running")
        reply: Future = Future()
        self._loop.call_soon_threadsafe(self._requests.put_nowait, (name, args, timeout, reply))
        return reply.result(timeout=timeout + 5)

    def close(self) -> None:
        if self._task is None:
            return
        if self._requests is not None:  # running: ask it to leave its context managers cleanly
            self._loop.call_soon_threadsafe(self._requests.put_nowait, None)
            try:
                self._task.result(timeout=10)
            except Exception:
                self._task.cancel()
        else:  # still starting: cancel; the SDK's stdio_client kills the process on the way out
            self._task.cancel()
        self._exited.wait(timeout=10)
        self._task = None
        self._requests = None

    async def _serve(self) -> None:
        from mcp.client.session import ClientSession  # the SDK only for an agent with MCP servers (~0.3 s)
        from mcp.client.stdio import StdioServerParameters, stdio_client

        cmd = self.config.command
        params = StdioServerParameters(command=cmd[0], args=list(cmd[1:]), env=expand_env(self.config.env))
        try:
            async with stdio_client(params, errlog=self._stderr) as (read, write):
                async with ClientSession(read, write) as session:
                    await session.initialize()
                    listed = await session.list_tools()
                    self.tools = [
                        MCPToolSpec(self.config.name, t.name, t.description or "", dict(t.input_schema))
                        for t in listed.tools
                    ]
                    self._requests = asyncio.Queue()
                    self._ready.set_result(True)
                    while (item := await self._requests.get()) is not None:
                        name, args, timeout, reply = item
                        try:
                            res = await asyncio.wait_for(session.call_tool(name, args), timeout)
                            text = "\n".join(getattr(c, "text", "") or str(c) for c in res.content)
                            reply.set_result((not res.is_error, text))
                        except Exception as e:  # one failed call does not end the server
                            reply.set_result((False, f"MCP call failed: {type(e).__name__}: {e}"))
        except BaseException as e:
            if not self._ready.done():
                self._ready.set_exception(e if isinstance(e, Exception) else MCPServerError(repr(e)))
            if not isinstance(e, Exception):
                raise
        finally:
            self._exited.set()

    def _stderr_tail(self) -> str:
        try:
            self._stderr.seek(0)
            tail = self._stderr.read()[-400:].strip()
        except Exception:
            tail = ""
        return f" (stderr: {tail})" if tail else ""


def _root(e: BaseException) -> str:
    """The first real error inside anyio's exception groups."""
    while isinstance(e, BaseExceptionGroup) and e.exceptions:
        e = e.exceptions[0]
    return f"{type(e).__name__}: {e}"


class StartFailures:
    """Servers that failed to start, remembered on this machine for `[aof] mcp_retry_after_seconds`.

    Without it every Agent node of every incident would wait again for a server that cannot start (the
    seed's npx package does not exist: ~10 s per node here, up to its timeout when npm hangs). Nothing secret
    is stored: the key is a hash of the command and its environment.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or Path(tempfile.gettempdir()) / f"aof-mcp-start-failures-{os.getuid()}.json"
        self.ttl = settings().mcp_retry_after_seconds

    @staticmethod
    def key(config: MCPToolConfig) -> str:
        return hashlib.sha256(json.dumps([config.command, expand_env(config.env)]).encode()).hexdigest()[:24]

    def _load(self) -> dict[str, dict[str, Any]]:
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}

    def raise_if_recent(self, key: str, name: str) -> None:
        seen = self._load().get(key)
        age = time.time() - seen["at"] if seen else None
        if age is not None and age < self.ttl:
            raise MCPServerError(f"not started: it failed {age:.0f}s ago ({seen['error'][:200]}); "
                                 f"tried again after {self.ttl - age:.0f}s (setting mcp_retry_after_seconds)")

    def record(self, key: str, error: str) -> None:
        data = {k: v for k, v in self._load().items() if time.time() - v["at"] < self.ttl}
        data[key] = {"at": time.time(), "error": error}
        tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
        try:
            tmp.write_text(json.dumps(data))
            os.replace(tmp, self.path)  # atomic: a concurrent reader sees the old or the new file
        except OSError as e:
            log.warning("could not remember the MCP start failure: %s", e)


class MCPHub:
    """All MCP servers of one agent run, on one background event loop."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="aof-mcp", daemon=True)
        self._thread.start()
        self.servers: dict[str, MCPServer] = {}

    def start(self, config: MCPToolConfig) -> MCPServer:
        failures = StartFailures()
        key = failures.key(config)
        failures.raise_if_recent(key, config.name)
        server = MCPServer(config, self._loop)
        try:
            server.start()
        except MCPServerError as e:
            failures.record(key, str(e))
            raise
        self.servers[config.name] = server
        return server

    def close(self) -> None:
        for s in self.servers.values():
            s.close()
        self.servers.clear()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self._loop.close()


class MCPToolset(Toolset):
    """The agent's MCP servers' tools, as `<server>__<tool>`. The servers start when the model is first told
    about the tools (or first calls one), not before: an engine that never offers them (the rules engine)
    never pays for starting one (seconds for the seed's npx server). A server that fails is noted and left out."""

    def __init__(self, configs: list[MCPToolConfig], ctx: ToolContext) -> None:
        self.ctx = ctx
        self._configs: list[MCPToolConfig] | None = configs
        self._tools: dict[str, tuple[MCPServer, MCPToolSpec]] = {}  # exposed name -> (server, tool)
        self._hub: MCPHub | None = None
        self._lock = threading.Lock()

    @classmethod
    def for_agent(cls, ctx: ToolContext) -> MCPToolset | None:
        configs = [t.config for t in ctx.agent.spec.tools if isinstance(t, MCPTool)]
        return cls(configs, ctx) if configs else None

    def _start(self) -> None:
        with self._lock:
            configs, self._configs = self._configs, None
            if not configs:
                return
            self._hub = MCPHub()
            for cfg in configs:
                try:
                    server = self._hub.start(cfg)
                except MCPServerError as e:
                    self.ctx.journal.note(f"MCP server {cfg.name!r} ({' '.join(cfg.command)}) unavailable, "
                                          f"running without it: {e}")
                    continue
                for spec in server.tools:
                    self._tools[_tool_name(f"{cfg.name}__{spec.name}")] = (server, spec)
                log.info("MCP server %r started with tools %s", cfg.name, [t.name for t in server.tools])

    def specs(self) -> list[ToolSpec]:
        self._start()
        return [ToolSpec(name, spec.description or f"{spec.name} (MCP server {spec.server})", spec.input_schema)
                for name, (_server, spec) in self._tools.items()]

    def handles(self, name: str) -> bool:
        self._start()
        return name in self._tools

    def call(self, name: str, args: dict[str, Any]) -> ToolCall:
        server, spec = self._tools[name]
        try:
            ok, text = server.call(spec.name, args, self.ctx.timeout(server.config.timeout_seconds))
        except Exception as e:
            ok, text = False, f"MCP call failed: {type(e).__name__}: {e}"
        text, truncated = truncate(text, TOOL_RESULT_CHARS)
        return ToolCall(name, dict(args), ok, text, truncated=truncated)

    def close(self) -> None:
        with self._lock:
            if self._hub:
                self._hub.close()
                self._hub = None


def _tool_name(raw: str) -> str:
    """Provider tool names: [a-zA-Z0-9_-], at most 64 characters."""
    return re.sub(r"[^a-zA-Z0-9_-]", "_", raw)[:64]
