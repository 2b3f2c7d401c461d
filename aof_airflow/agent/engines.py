"""`provider:model` -> Engine, through a lazy import table: only the engine a model names is imported (measured:
importing all three modules takes ~0.5 s, the rules engine ~0.27 s of it, which every Agent task would pay).

`preflight` checks a provider's key BEFORE its engine is imported: an LLM engine's module imports its SDK
(anthropic: ~1-2 s in a task process), which an agent falling back to `builtin:k8s-rules` for want of a key
would otherwise pay on every task."""

from __future__ import annotations

import importlib

from aof_airflow.agent.llm import credentials
from aof_airflow.agent.types import AgentError, Engine
from aof_airflow.spec.models import Agent

ENGINES: dict[str, str] = {
    "anthropic": "aof_airflow.agent.llm.anthropic_chat:AnthropicEngine",
    "openai": "aof_airflow.agent.llm.openai_chat:OpenAIEngine",
    "google": "aof_airflow.agent.llm.google_chat:GoogleEngine",
    "builtin": "aof_airflow.agent.rules.engine:RulesEngine",
}


def get_engine(model_ref: str) -> Engine:
    provider, sep, model = model_ref.partition(":")
    if not sep or not model:
        raise AgentError(f"model {model_ref!r} must look like provider:model, e.g. anthropic:claude-3-5-sonnet-20241022")
    target = ENGINES.get(provider)
    if target is None:
        raise AgentError(f"unknown model provider {provider!r} in {model_ref!r}; known: {', '.join(sorted(ENGINES))}")
    module_name, _, cls_name = target.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), cls_name)
    except (ImportError, AttributeError) as e:
        raise AgentError(f"engine for {model_ref!r} is not available ({module_name}:{cls_name}: {e})") from e
    return cls(model_ref)


def preflight(model_ref: str, agent: Agent) -> None:
    """ProviderError (naming the connection / env var) when the model's provider has no key; imports no SDK."""
    provider, sep, model = model_ref.partition(":")
    if sep and model and provider in credentials.SOURCES:  # a malformed ref is get_engine's to explain
        credentials.resolve(provider, agent.spec.model_settings.base_url)
