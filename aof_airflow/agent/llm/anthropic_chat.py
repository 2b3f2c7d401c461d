"""`anthropic:<model>`: the Messages API with tool use, through the official `anthropic.Anthropic` client.

anthropic 2.x has no `temperature` keyword on `messages.create`; the API still takes it, so a configured
temperature travels in `extra_body`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anthropic

from aof_airflow.agent.llm.credentials import Credentials
from aof_airflow.agent.llm.loop import ChatEngine, Requested, Turn
from aof_airflow.agent.llm.provider_chat import ProviderChat
from aof_airflow.agent.tools.toolset import ToolSpec
from aof_airflow.agent.types import Usage
from aof_airflow.spec.models import Agent

if TYPE_CHECKING:
    import anthropic

DEFAULT_MAX_TOKENS = 4096


class AnthropicChat(ProviderChat):
    provider = "anthropic"

    def __init__(self, model: str, agent: Agent) -> None:
        super().__init__(model, agent)
        self.system = ""
        self.tools: list[dict[str, Any]] = []
        self.messages: list[dict[str, Any]] = []

    def connect(self, creds: Credentials) -> anthropic.Anthropic:
        return anthropic.Anthropic(api_key=creds.api_key, base_url=creds.base_url, max_retries=0)

    def start(self, system: str, prompt: str, tools: list[ToolSpec]) -> None:
        self.system = system
        self.tools = [{"name": t.name, "description": t.description, "input_schema": t.input_schema} for t in tools]
        self.messages = [{"role": "user", "content": prompt}]

    def complete(self, *, allow_tools: bool, timeout: float) -> Turn:
        kwargs: dict[str, Any] = {}
        if self.tools:  # history with tool_use blocks needs the definitions even when no more calls are allowed
            kwargs["tools"] = self.tools
            kwargs["tool_choice"] = {"type": "auto"} if allow_tools else {"type": "none"}
        if self.settings.temperature is not None:
            kwargs["extra_body"] = {"temperature": self.settings.temperature}
        msg = self.client.messages.create(
            model=self.model, system=self.system, messages=self.messages,
            max_tokens=self.settings.max_tokens or DEFAULT_MAX_TOKENS, timeout=timeout, **kwargs,
        )
        content = [b.model_dump(exclude_none=True, include={"type", "text", "id", "name", "input"}) for b in msg.content]
        self.messages.append({"role": "assistant", "content": content})
        text = "".join(b.text for b in msg.content if b.type == "text")
        calls = [Requested(b.id, b.name, dict(b.input)) for b in msg.content if b.type == "tool_use"]
        usage = Usage(msg.usage.input_tokens, msg.usage.output_tokens, 1)
        return Turn(text, calls, usage)

    def add_tool_results(self, results: list[tuple[Requested, str, bool]]) -> None:
        blocks = [{"type": "tool_result", "tool_use_id": c.id, "content": text, "is_error": err} for c, text, err in results]
        self.messages.append({"role": "user", "content": blocks})

    def add_user(self, text: str) -> None:
        last = self.messages[-1]
        if last["role"] == "user" and isinstance(last["content"], list):  # after tool results: same user turn
            last["content"].append({"type": "text", "text": text})
        else:
            self.messages.append({"role": "user", "content": text})


class AnthropicEngine(ChatEngine):
    chat = AnthropicChat
