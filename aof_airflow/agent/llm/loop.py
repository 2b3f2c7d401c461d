"""The tool loop, shared by every LLM provider: one loop, thin adapters (anthropic_chat.py, openai_chat.py).

An adapter only translates: it keeps the provider's message list and turns one request into a `Turn`. The loop
owns everything that must not differ by provider: the step limit, tool execution through the Toolbox,
truncation, logging, retries, usage, the output contract and its single repair turn.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from aof_airflow.agent import contract as contracts
from aof_airflow.agent.llm import retry
from aof_airflow.agent.masking import redact
from aof_airflow.agent.tools.toolbox import Toolbox
from aof_airflow.agent.tools.toolset import TOOL_RESULT_CHARS, ToolSpec, truncate
from aof_airflow.agent.types import AgentError, AgentResult, AgentScope, Usage
from aof_airflow.spec.models import Agent

if TYPE_CHECKING:
    from aof_airflow.agent.llm.provider_chat import ProviderChat

log = logging.getLogger("aof.agent")


@dataclass
class Requested:
    id: str
    name: str
    args: dict[str, Any]


@dataclass
class Turn:
    text: str
    calls: list[Requested] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)


class ChatAdapter(Protocol):
    """One provider's wire format. `complete` makes exactly one request (the loop retries it)."""

    def start(self, system: str, prompt: str, tools: list[ToolSpec]) -> None: ...
    def complete(self, *, allow_tools: bool, timeout: float) -> Turn: ...
    def add_tool_results(self, results: list[tuple[Requested, str, bool]]) -> None: ...
    def add_user(self, text: str) -> None: ...


class ChatEngine:
    """An Engine (see types.Engine) for one `provider:model`, built on its provider's ChatAdapter."""

    chat: type[ProviderChat]

    def __init__(self, model_ref: str) -> None:
        self.model_ref = model_ref
        self.model = model_ref.split(":", 1)[1]

    @property
    def provider(self) -> str:
        return self.chat.provider

    def adapter(self, agent: Agent) -> ChatAdapter:
        return self.chat(self.model, agent)

    def run(self, agent: Agent, prompt: str, *, toolbox: Toolbox, scope: AgentScope, deadline: float) -> AgentResult:
        settings = agent.spec.model_settings
        chat = self.adapter(agent)  # resolves credentials: no key fails here, before any request
        usage = Usage()
        steps = 0

        def ask(allow_tools: bool) -> Turn:
            nonlocal steps
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AgentError(f"{self.model_ref}: the node's time ran out after {steps} step(s)")
            timeout = min(settings.timeout_seconds, remaining)
            turn = retry.call(
                lambda: chat.complete(allow_tools=allow_tools, timeout=timeout),
                label=self.model_ref, max_retries=settings.max_retries, deadline=deadline, timeout=timeout,
            )
            steps += 1
            usage.add(turn.usage)
            log.info(
                "%s step %d: %d tool call(s), tokens in/out %d/%d; text: %s", self.model_ref, steps,
                len(turn.calls), turn.usage.input_tokens, turn.usage.output_tokens, redact(turn.text[:2000]),
            )
            return turn

        chat.start(system_prompt(agent, scope), prompt, toolbox.specs())
        turn = ask(allow_tools=True)
        while turn.calls:
            if steps >= agent.spec.max_steps:
                chat.add_tool_results([(c, "not run: step limit reached", True) for c in turn.calls])
                chat.add_user(f"Step limit ({agent.spec.max_steps}) reached: no more tools. Give your final answer now.")
                turn = ask(allow_tools=False)
                if turn.calls:
                    raise AgentError(f"{self.model_ref}: still calling tools after the step limit ({agent.spec.max_steps})")
                break
            results = []
            for c in turn.calls:
                done = toolbox.call(c.name, c.args)
                text, _ = truncate(done.output, TOOL_RESULT_CHARS)
                results.append((c, text, not done.ok))
            chat.add_tool_results(results)
            turn = ask(allow_tools=True)

        output, text = self._enforce(agent, turn.text, chat, ask)
        return AgentResult(
            output=output, text=text, model=self.model_ref, source="llm", usage=usage, steps=steps,
            tool_calls=list(toolbox.tool_calls), actions=list(toolbox.actions), notes=list(toolbox.notes),
        )

    def _enforce(self, agent: Agent, text: str, chat: ChatAdapter, ask) -> tuple[dict[str, Any] | str, str]:
        """The contract object (one repair turn allowed), or free text when the agent promises no JSON."""
        contract = contracts.parse(agent.spec.instructions)
        if contract is None:
            return text, text
        obj, problems = contracts.check_answer(text, contract)
        if obj is not None:
            return obj, text
        log.warning("%s: answer does not match the output format (%s); asking once to repair",
                    self.model_ref, "; ".join(problems))
        chat.add_user(contracts.repair_prompt(contract, problems))
        repaired = ask(allow_tools=False).text
        obj, problems2 = contracts.check_answer(repaired, contract)
        if obj is not None:
            return obj, repaired
        raise AgentError(
            f"{self.model_ref}: the answer does not match the output format of agent {agent.name!r} "
            f"even after one repair turn: {'; '.join(problems2)}.\n"
            f"--- first answer ---\n{redact(text)[:4000]}\n--- repaired answer ---\n{redact(repaired)[:4000]}"
        )


def system_prompt(agent: Agent, scope: AgentScope) -> str:
    """The agent's instructions plus the scope the guardrails enforce, so the model does not fight them."""
    facts = {k: v for k, v in (("service", scope.service), ("namespace", scope.namespace),
                               ("resource", scope.resource), ("incident", scope.incident_id)) if v}
    if not facts:
        return agent.spec.instructions
    return (
        agent.spec.instructions.rstrip()
        + "\n\nScope of this run (enforced by the tools): "
        + json.dumps(facts)
        + ". Commands outside this namespace are refused."
    )
