"""`run_agent`: the ONE function the DAG's Agent operator calls.

Builds the guarded Toolbox for the scope, offers memory of the service's past incidents, asks the agent's
model and, when that model's provider cannot answer (no key, 429/5xx after retries, timeout), each of its
`fallback_models` in turn -- noting every fall-back in `AgentResult.notes`. The answer leaves here only if it
meets the agent's output contract; a summary of the incident is then remembered.
"""

from __future__ import annotations

import logging
import time

from aof_airflow.agent import action_guard, memory
from aof_airflow.agent import contract as contracts
from aof_airflow.agent.engines import get_engine, preflight
from aof_airflow.agent.masking import redact
from aof_airflow.agent.tools.toolbox import Toolbox
from aof_airflow.agent.types import AgentError, AgentResult, AgentScope, Engine, ProviderError
from aof_airflow.config import settings
from aof_airflow.spec.models import Agent

log = logging.getLogger("aof.agent")
DEFAULT_TIMEOUT = 900.0  # a node without timeout_seconds still ends


def run_agent(agent: Agent, prompt: str, *, scope: AgentScope, timeout_seconds: float | None = None) -> AgentResult:
    deadline = time.monotonic() + (timeout_seconds or DEFAULT_TIMEOUT)
    engines, notes = _usable_engines(agent)  # no key anywhere: fail now, before starting any tool server
    memory_notes: list[str] = []
    store, past = None, []
    try:
        store = memory.store_for(agent) if scope.service else None
        limit = agent.spec.memory.config.max_entries if agent.spec.memory else 0
        past = store.recent(scope.service, limit) if store is not None and limit else []
    except Exception as e:  # memory helps; it is not worth failing an incident over
        memory_notes.append(f"memory unavailable ({type(e).__name__}: {e})")
        log.warning("%s: memory unavailable: %s", agent.name, e)
    if past:
        block = memory.as_prompt(scope.service, past)
        if block:
            prompt = f"{prompt}\n\n{block}"
            log.info("%s: offered %d past incident(s) of %s", agent.name, len(past), scope.service)
    with Toolbox(agent, scope, deadline=deadline) as toolbox:
        result = _ask_models(agent, prompt, engines, notes, toolbox, scope, deadline)
        _check_contract(agent, result)
        action_guard.check(result, toolbox, scope)  # a model's unsupported change waits for a human
    result.notes.extend(memory_notes)
    if store is not None:
        try:
            store.add(scope.service, memory.summarize(result, scope))
        except Exception as e:
            result.notes.append(f"memory not updated ({type(e).__name__}: {e})")
            log.warning("%s: memory not updated: %s", agent.name, e)
    log.info(
        "%s answered by %s (%s) in %d step(s): tokens in/out %d/%d over %d call(s), %d tool call(s), %d change(s)",
        agent.name, result.model, result.source, result.steps, result.usage.input_tokens, result.usage.output_tokens,
        result.usage.calls, len(result.tool_calls), len(result.actions),
    )
    return result


def model_chain(agent: Agent) -> list[str]:
    """The agent's model, its own fallbacks, then the operator's `[aof] fallback_models` (e.g. the rules
    diagnostician chosen on purpose for an LLM outage or a local quick start), each once."""
    operator = list(settings().fallback_models)
    return list(dict.fromkeys([agent.spec.model, *agent.spec.fallback_models, *operator]))


def _usable_engines(agent: Agent) -> tuple[list[tuple[str, Engine]], list[str]]:
    """The agent's models in order, minus those whose provider is not configured (noted, or raised if none is)."""
    usable, notes = [], []
    for ref in model_chain(agent):
        try:
            preflight(ref, agent)  # before the import: a provider without a key never loads its SDK
        except ProviderError as e:
            notes.append(f"{ref} failed: {redact(str(e))}")
            continue
        usable.append((ref, get_engine(ref)))
    if not usable:
        raise ProviderError(f"agent {agent.name!r}: no model can answer. " + " | ".join(notes))
    return usable, notes


def _ask_models(
    agent: Agent, prompt: str, engines: list[tuple[str, Engine]], notes: list[str], toolbox: Toolbox,
    scope: AgentScope, deadline: float,
) -> AgentResult:
    notes = list(notes)
    for ref, engine in engines:
        if notes:
            log.warning("%s: trying %s after: %s", agent.name, ref, notes[-1])
        try:
            result = engine.run(agent, prompt, toolbox=toolbox, scope=scope, deadline=deadline)
        except ProviderError as e:
            notes.append(f"{ref} failed: {redact(str(e))}")
            log.warning("%s: %s failed (%s)", agent.name, ref, redact(str(e)))
            continue
        if notes:
            notes.append(f"fell back to {ref}")
        result.notes = list(dict.fromkeys([*notes, *result.notes, *toolbox.notes]))
        return result
    raise ProviderError(f"agent {agent.name!r}: no model could answer. " + " | ".join(notes))


def _check_contract(agent: Agent, result: AgentResult) -> None:
    """Every engine's answer meets the contract (LLM engines repair inside their loop; this is the last word)."""
    contract = contracts.parse(agent.spec.instructions)
    if contract is None:
        return
    obj, problems = contract.check(result.output) if isinstance(result.output, dict) else (None, ["not a JSON object"])
    if obj is None:
        raise AgentError(
            f"{result.model}: the answer of agent {agent.name!r} does not match its output format: "
            f"{'; '.join(problems)}\n--- answer ---\n{redact(result.text)[:4000]}"
        )
    result.output = obj
