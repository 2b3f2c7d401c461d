"""An unknown model provider is an error when the YAML is validated, at the line of the model."""

from __future__ import annotations

import pytest

from aof_airflow.spec.loader import load_text

from .spec_helpers import line_of

AGENT = """\
apiVersion: aof.dev/v1
kind: Agent
metadata: {{name: a}}
spec:
  model: {model}
  fallback_models: [{fallback}]
  instructions: hi
"""


@pytest.mark.parametrize("model", ["google:gemini-2.5-flash", "anthropic:claude-sonnet-4-5", "openai:gpt-4o",
                                   "builtin:k8s-rules"])
def test_known_providers_validate(model):
    assert load_text(AGENT.format(model=model, fallback="builtin:k8s-rules"), "a.yaml").problems == ()


@pytest.mark.parametrize("model,fallback,needle,message", [
    ("gemini:gemini-2.5-flash", "builtin:k8s-rules", "model:",
     "spec.model: unknown model provider `gemini` in `gemini:gemini-2.5-flash`; supported providers: anthropic, "
     "openai, google, builtin"),
    ("google:gemini-2.5-flash", "vertex:gemini-pro", "fallback_models",
     "spec.fallback_models[0]: unknown model provider `vertex`"),
    ("builtin:k8s", "openai:gpt-4o", "model:", "unknown builtin model `builtin:k8s`"),
])
def test_unknown_providers_are_errors_at_their_line(model, fallback, needle, message):
    text = AGENT.format(model=model, fallback=fallback)
    [p] = load_text(text, "a.yaml").problems
    assert p.line == line_of(text, needle) and message in p.message
