"""What a template can see: the run's conf roots, flow variables, node outputs, `flow.*`, then secrets.

A single-segment UPPER_CASE name that the flow does not define comes from the environment, then from an
Airflow Variable; such values are secrets (the tutorial's PAGERDUTY_API_KEY, PAGERDUTY_WEBHOOK_TOKEN,
KUBECONFIG), so `on_secret` is told about each one before it is used, for Airflow's log masker.
"""

from __future__ import annotations

import os
import re
from typing import Any, Callable, Mapping

from aof_airflow.templating.errors import UnknownReference

SECRET_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")


def _airflow_variable(name: str) -> str | None:
    try:
        from airflow.sdk import Variable  # `aofctl validate` reads templates without importing Airflow
    except ImportError:
        return None
    try:
        return Variable.get(name, default=None)
    except Exception:  # outside a task (plain CLI) there is no API to ask: the name stays unknown
        return None


class TemplateContext:
    def __init__(
        self,
        roots: Mapping[str, Any],
        *,
        environ: Mapping[str, str] | None = None,
        on_secret: Callable[[str], None] | None = None,
        variables: Callable[[str], str | None] | None = _airflow_variable,
    ) -> None:
        self.roots = roots
        self.environ = os.environ if environ is None else environ
        self.on_secret = on_secret
        self.variables = variables

    def resolve(self, path: tuple[str, ...]) -> Any:
        head = path[0]
        if head in self.roots:
            return _walk(self.roots[head], path, self.roots)
        if len(path) == 1 and SECRET_NAME.match(head):
            value = self.environ.get(head)
            if value is None and self.variables is not None:
                value = self.variables(head)
            if value is not None:
                if self.on_secret and value:
                    self.on_secret(value)
                return value
            raise UnknownReference(
                f"${{{head}}} is not a flow variable, and neither an environment variable nor an Airflow "
                f"Variable named {head} is set",
                name=head,
            )
        known = ", ".join(sorted(self.roots)) or "nothing"
        raise UnknownReference(f"${{{'.'.join(path)}}}: no {head!r} here (known: {known})", name=".".join(path))


def _walk(value: Any, path: tuple[str, ...], roots: Mapping[str, Any]) -> Any:
    for depth, key in enumerate(path[1:], start=1):
        if isinstance(value, Mapping) and key in value:
            value = value[key]
        elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            where = ".".join(path[:depth])
            if isinstance(value, Mapping):
                hint = f"it has: {', '.join(map(str, value)) or 'no keys'}"
            else:
                hint = f"it is {type(value).__name__ if value is not None else 'null'}, not an object"
            raise UnknownReference(f"${{{'.'.join(path)}}}: {where} has no {key!r} ({hint})", name=".".join(path))
    return value
