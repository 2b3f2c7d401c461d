"""The AgentFlow language: models (`models`), YAML loading with positions (`loader`), graph and
reference checks (`graph`, `references`), JSON Schema (`schema`).

Names are re-exported lazily so that `import aof_airflow.spec.models` (which templating and others
use) never pulls in the loader and its imports.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "load_paths": "loader", "load_text": "loader", "LoadResult": "loader", "LoadedDocument": "loader",
    "Problem": "problems", "SpecError": "problems",
    "topological_order": "graph", "ancestors": "graph", "check_flow": "graph", "CycleError": "graph",
    "json_schema": "schema",
    "Agent": "models", "AgentFlow": "models", "Document": "models",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"aof_airflow.spec.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'aof_airflow.spec' has no attribute {name!r}")
