"""`openai:<model>`: Chat Completions with tool calls, through the official `openai.OpenAI` client.

The base URL makes it work with OpenAI-compatible servers (vLLM, Ollama): set the connection's extra
`base_url`, `OPENAI_BASE_URL`, or the agent's `model_config.base_url`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import openai

from aof_airflow.agent.llm.credentials import Credentials
from aof_airflow.agent.llm.loop import ChatEngine, Requested, Turn
from aof_airflow.agent.llm.provider_chat import ProviderChat
from aof_airflow.agent.tools.toolset import ToolSpec
from aof_airflow.agent.types import Usage
from aof_airflow.spec.models import Agent

if TYPE_CHECKING:
    import openai


class OpenAIChat(ProviderChat):
    provider = "openai"

    def __init__(self, model: str, agent: Agent) -> None:
        super().__init__(model, agent)
        self.tools: list[dict[str, Any]] = []
        self.messages: list[dict[str, Any]] = []

    def connect(self, creds: Credentials) -> openai.OpenAI:
        return openai.OpenAI(api_key=creds.api_key, base_url=creds.base_url, max_retries=0)

    def start(self, system: str, prompt: str, tools: list[ToolSpec]) -> None:
        self.tools = [
            {"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.input_schema}}
            for t in tools
        ]
        self.messages = [{"role": "system", "content": system}, {"role": "user", "content": prompt}]

    def complete(self, *, allow_tools: bool, timeout: float) -> Turn:
        kwargs: dict[str, Any] = {}
        if self.tools:
            kwargs["tools"] = self.tools
            kwargs["tool_choice"] = "auto" if allow_tools else "none"
        if self.settings.temperature is not None:
            kwargs["temperature"] = self.settings.temperature
        if self.settings.max_tokens:
            kwargs["max_tokens"] = self.settings.max_tokens
        resp = self.client.chat.completions.create(model=self.model, messages=self.messages, timeout=timeout, **kwargs)
        msg = resp.choices[0].message
        calls = []
        for tc in msg.tool_calls or []:
            fn = getattr(tc, "function", None)
            if fn is None:
                continue
            try:
                args = json.loads(fn.arguments or "{}")
            except ValueError:
                args = {"_unparsed_arguments": fn.arguments}
            calls.append(Requested(tc.id, fn.name, args if isinstance(args, dict) else {"value": args}))
        entry: dict[str, Any] = {"role": "assistant", "content": msg.content or ""}
        if calls:
            entry["tool_calls"] = [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": json.dumps(c.args)}} for c in calls
            ]
        self.messages.append(entry)
        u = resp.usage
        usage = Usage(u.prompt_tokens if u else 0, u.completion_tokens if u else 0, 1)
        return Turn(msg.content or "", calls, usage)

    def add_tool_results(self, results: list[tuple[Requested, str, bool]]) -> None:
        for c, text, _err in results:
            self.messages.append({"role": "tool", "tool_call_id": c.id, "content": text})

    def add_user(self, text: str) -> None:
        self.messages.append({"role": "user", "content": text})


class OpenAIEngine(ChatEngine):
    chat = OpenAIChat
