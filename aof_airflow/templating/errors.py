"""Errors of the template and condition languages; each names what is wrong and where."""

from __future__ import annotations


class TemplateError(ValueError):
    """A template could not be rendered. `node_id` is filled in by the operator that rendered it."""

    def __init__(self, message: str, *, name: str | None = None, node_id: str | None = None) -> None:
        super().__init__(message)
        self.name = name
        self.node_id = node_id

    def __str__(self) -> str:
        msg = super().__str__()
        return f"node {self.node_id!r}: {msg}" if self.node_id else msg


class UnknownReference(TemplateError, LookupError):
    """`${name}` names nothing the node can see: never rendered as an empty string."""


class ConditionError(TemplateError):
    """A condition is malformed, or compares values of types that cannot be compared."""
