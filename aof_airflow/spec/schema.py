"""JSON Schema of the two kinds, generated from the pydantic models so editors and the validator agree.

The schema describes what YAML may contain (aliases such as `model_config` and `from`, input forms
such as `to: one-node`), i.e. pydantic's validation-mode schema.
"""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from aof_airflow.spec.models import API_VERSION, Agent, AgentFlow, Document

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
_KINDS = {"Agent": Agent, "AgentFlow": AgentFlow}


def json_schema(kind: str | None = None) -> dict[str, Any]:
    """Schema of one kind (`Agent` / `AgentFlow`), or of any document when `kind` is None."""
    if kind is None:
        schema = TypeAdapter(Document).json_schema(by_alias=True, mode="validation")
        schema["title"] = f"AgentFlow document ({API_VERSION})"
    elif kind in _KINDS:
        schema = _KINDS[kind].model_json_schema(by_alias=True, mode="validation")
    else:
        raise ValueError(f"unknown kind {kind!r}: use one of {', '.join(_KINDS)}")
    return {"$schema": SCHEMA_DIALECT, **schema}
