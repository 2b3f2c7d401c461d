"""`provider:model` references: the model providers an agent may name, checked when its YAML is validated.

The agent runtime's engine table (aof_airflow.agent.engines.ENGINES) has one entry per provider listed here;
a test holds the two together, so a provider that validates always has an engine to run it.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

PROVIDERS = ("anthropic", "openai", "google", "builtin")
BUILTIN_MODELS = ("k8s-rules",)


def check_model_ref(ref: str) -> str:
    provider, _, model = ref.partition(":")
    if provider not in PROVIDERS:
        raise ValueError(f"unknown model provider `{provider}` in `{ref}`; supported providers: "
                         f"{', '.join(PROVIDERS)} (e.g. `google:gemini-2.5-flash`, `anthropic:claude-sonnet-4-5`)")
    if provider == "builtin" and model not in BUILTIN_MODELS:
        raise ValueError(f"unknown builtin model `{ref}`; the built-in one is `builtin:{BUILTIN_MODELS[0]}`")
    return ref


ModelRef = Annotated[str, AfterValidator(check_model_ref)]
