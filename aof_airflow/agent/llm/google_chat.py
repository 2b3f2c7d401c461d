"""`google:<model>`: Gemini's generateContent with function calling, through Google's official `google-genai` SDK.

The SDK's own retries are off (no `retry_options`): the loop's retry policy applies, as for the other
providers. The model's turns are kept in the history as the API returned them, so the thought signatures
that Gemini attaches to function calls travel back with the function responses, as the API requires.
"""

from __future__ import annotations

from typing import Any

from google import genai
from google.genai import types

from aof_airflow.agent.llm.credentials import Credentials
from aof_airflow.agent.llm.loop import ChatEngine, Requested, Turn
from aof_airflow.agent.llm.provider_chat import ProviderChat
from aof_airflow.agent.tools.toolset import ToolSpec
from aof_airflow.agent.types import AgentError, Usage
from aof_airflow.spec.models import Agent


class GoogleChat(ProviderChat):
    provider = "google"

    def __init__(self, model: str, agent: Agent) -> None:
        self.types = types
        super().__init__(model, agent)
        self.system = ""
        self.tools: list[Any] = []
        self.contents: list[Any] = []
        self.unnamed_calls: set[str] = set()  # ids we gave calls that came without one (not sent back)

    def connect(self, creds: Credentials) -> genai.Client:
        options = types.HttpOptions(base_url=creds.base_url) if creds.base_url else None
        return genai.Client(vertexai=False, api_key=creds.api_key, http_options=options)

    def start(self, system: str, prompt: str, tools: list[ToolSpec]) -> None:
        t = self.types
        self.system = system
        declarations = [t.FunctionDeclaration(name=s.name, description=s.description,
                                              parameters_json_schema=s.input_schema) for s in tools]
        self.tools = [t.Tool(function_declarations=declarations)] if declarations else []
        self.contents = [t.Content(role="user", parts=[t.Part(text=prompt)])]

    def complete(self, *, allow_tools: bool, timeout: float) -> Turn:
        t = self.types
        config = t.GenerateContentConfig(
            system_instruction=self.system or None,
            temperature=self.settings.temperature,
            max_output_tokens=self.settings.max_tokens,
            automatic_function_calling=t.AutomaticFunctionCallingConfig(disable=True),
            http_options=t.HttpOptions(timeout=max(1, int(timeout * 1000))),  # milliseconds
        )
        if self.tools:  # history with function calls needs the declarations even when no more calls are allowed
            config.tools = self.tools
            config.tool_config = t.ToolConfig(function_calling_config=t.FunctionCallingConfig(
                mode=t.FunctionCallingConfigMode.AUTO if allow_tools else t.FunctionCallingConfigMode.NONE))
        resp = self.client.models.generate_content(model=self.model, contents=self.contents, config=config)
        content = resp.candidates[0].content if resp.candidates else None
        if content is None or not content.parts:
            feedback = resp.prompt_feedback.block_reason if resp.prompt_feedback else None
            reason = feedback or (resp.candidates[0].finish_reason if resp.candidates else "no candidate")
            raise AgentError(f"google:{self.model} returned no content ({reason})")
        self.contents.append(content)
        text = "".join(p.text for p in content.parts if p.text and not p.thought)
        calls = []
        for n, p in enumerate(content.parts):
            fc = p.function_call
            if fc is None or not fc.name:
                continue
            cid = fc.id or f"gemini-call-{len(self.contents)}-{n}"
            if not fc.id:
                self.unnamed_calls.add(cid)
            calls.append(Requested(cid, fc.name, dict(fc.args or {})))
        u = resp.usage_metadata
        usage = Usage((u.prompt_token_count or 0) if u else 0,
                      ((u.candidates_token_count or 0) + (u.thoughts_token_count or 0)) if u else 0, 1)
        return Turn(text, calls, usage)

    def add_tool_results(self, results: list[tuple[Requested, str, bool]]) -> None:
        t = self.types
        parts = [t.Part(function_response=t.FunctionResponse(
            id=None if c.id in self.unnamed_calls else c.id, name=c.name,
            response={"error": text} if err else {"output": text})) for c, text, err in results]
        self.contents.append(t.Content(role="user", parts=parts))

    def add_user(self, text: str) -> None:
        last = self.contents[-1]
        if last.role == "user":  # after function responses: the same user turn
            last.parts.append(self.types.Part(text=text))
        else:
            self.contents.append(self.types.Content(role="user", parts=[self.types.Part(text=text)]))


class GoogleEngine(ChatEngine):
    chat = GoogleChat
