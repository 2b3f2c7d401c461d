"""The HTTP tool: allow-listed methods and URL prefixes, a timeout, a size cap, no redirects (they could leave the list)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx

from aof_airflow.agent.tools.shell import TRUNCATION_MARKER, Refused
from aof_airflow.agent.tools.toolset import ToolContext, Toolset, ToolSpec
from aof_airflow.agent.types import ToolCall
from aof_airflow.spec.models import HTTPTool, HTTPToolConfig

HTTP = "http_request"


def check(method: str, url: str, config: HTTPToolConfig) -> tuple[str, str]:
    method = (method or "GET").upper()
    if method not in {m.upper() for m in config.allowed_methods}:
        raise Refused(f"refused: method {method} not in {config.allowed_methods}")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Refused(f"refused: {url!r} is not an http(s) URL")
    if parts.username or parts.password or "@" in parts.netloc:
        raise Refused("refused: credentials in URLs are not allowed")
    if ".." in parts.path.split("/"):
        raise Refused("refused: '..' in the URL path")
    if not any(_under(url, prefix) for prefix in config.allowed_urls):
        raise Refused(f"refused: {url!r} is not under an allowed URL ({config.allowed_urls or 'none configured'})")
    return method, url


def _under(url: str, prefix: str) -> bool:
    if url == prefix:
        return True
    p = prefix if prefix.endswith(("/", "?")) else prefix + "/"
    return url.startswith(p) or url.startswith(prefix + "?")


def request(method: str, url: str, config: HTTPToolConfig, timeout: float) -> tuple[bool, str, bool]:
    """(ok, text, truncated): status line plus at most `max_bytes` of body."""
    with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
        with client.stream(method, url) as resp:
            body = bytearray()
            dropped = 0
            for chunk in resp.iter_bytes():
                room = config.max_bytes - len(body)
                body.extend(chunk[:room])
                dropped += max(0, len(chunk) - room)
                if dropped:
                    break  # do not download the rest of a huge body
    text = f"HTTP {resp.status_code}\n" + body.decode("utf-8", errors="replace")
    if dropped:
        text += TRUNCATION_MARKER.format(dropped=f"{dropped}+")
    return resp.status_code < 400, text, bool(dropped)


class HTTPToolset(Toolset):
    """`http_request`: one request to an allowed URL (offered only when the agent's HTTP tool lists some)."""

    def __init__(self, config: HTTPToolConfig | None, ctx: ToolContext) -> None:
        self.config = config
        self.ctx = ctx

    @classmethod
    def for_agent(cls, ctx: ToolContext) -> HTTPToolset:
        config = next((t.config for t in ctx.agent.spec.tools if isinstance(t, HTTPTool)), None)
        if config is not None and not config.allowed_urls:
            ctx.journal.note("HTTP tool not offered: no allowed_urls configured for it")
        return cls(config, ctx)

    def specs(self) -> list[ToolSpec]:
        if not self.handles(HTTP):
            return []
        assert self.config is not None
        return [ToolSpec(HTTP, f"HTTP request to an allowed URL ({', '.join(self.config.allowed_urls)}).", {
            "type": "object",
            "properties": {"url": {"type": "string"},
                           "method": {"type": "string", "enum": list(self.config.allowed_methods)}},
            "required": ["url"],
        })]

    def handles(self, name: str) -> bool:
        return name == HTTP and self.config is not None and bool(self.config.allowed_urls)

    def call(self, name: str, args: dict[str, Any]) -> ToolCall:
        return self.http(str(args.get("url", "")), str(args.get("method", "GET")))

    def http(self, url: str, method: str = "GET") -> ToolCall:
        args = {"url": url, "method": method}
        if self.config is None:
            return ToolCall(HTTP, args, False, "refused: this agent has no HTTP tool", refused="no HTTP tool")
        try:
            method, url = check(method, url, self.config)
        except Refused as r:
            return ToolCall(HTTP, args, False, str(r), refused=str(r))
        try:
            ok, text, truncated = request(method, url, self.config, self.ctx.timeout(self.config.timeout_seconds))
        except Exception as e:
            ok, text, truncated = False, f"HTTP request failed: {type(e).__name__}: {e}", False
        return ToolCall(HTTP, args, ok, text, truncated=truncated)
