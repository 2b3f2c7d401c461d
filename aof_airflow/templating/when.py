"""A node's `conditions: [{from, when}]` entry, read against the `from` node's output (docs/architecture.md).

Bare names resolve inside that output (a Conditional's named results, a Transform's exports, an approval's
`reaction`); a bare `true`/`false` compares with a single-condition Conditional's boolean result; `${...}`
references reach the whole flow context through `resolve_ref`.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from aof_airflow.templating.conditions import parse_condition, to_bool
from aof_airflow.templating.context import _walk
from aof_airflow.templating.errors import ConditionError, UnknownReference


def evaluate_when(
    when: str,
    output: Any,
    *,
    from_node: str = "",
    resolve_ref: Callable[[tuple[str, ...]], Any] | None = None,
) -> bool:
    cond = parse_condition(when)
    if cond.is_literal and not isinstance(output, Mapping):
        if not isinstance(output, bool):
            raise ConditionError(
                f"`when: {when}` compares with {from_node!r}'s result, which is {type(output).__name__}, "
                "not true/false: name a field of its output instead",
            )
        return output == to_bool(cond.tree.value, when)  # type: ignore[union-attr]

    def resolve(path: tuple[str, ...]) -> Any:
        if isinstance(output, Mapping) and path[0] in output:
            return _walk(output[path[0]], path, {})
        if resolve_ref is not None:
            return resolve_ref(path)
        have = ", ".join(output) if isinstance(output, Mapping) else type(output).__name__
        raise UnknownReference(f"`{'.'.join(path)}` is not in {from_node!r}'s output (it has: {have})",
                               name=".".join(path))

    return cond.evaluate_bool(resolve)


def evaluate_condition(cond: Any, output: Any, *, resolve_ref: Callable[[tuple[str, ...]], Any] | None = None) -> bool:
    """One `conditions` entry ({from, when} | {from, value} | {from, reaction}) against its `from` node's output.

    `value` holds when the output equals it (a Conditional's bool, or its named result when the output has
    one field); "true"/"false" text from a shell compares with a bool. `reaction` holds when the approval
    was decided with that reaction (its output's `reaction`)."""
    if cond.when is not None:
        return evaluate_when(cond.when, output, from_node=cond.from_, resolve_ref=resolve_ref)
    if cond.reaction is not None:
        if not isinstance(output, Mapping) or "reaction" not in output:
            raise ConditionError(f"`reaction: {cond.reaction}` reads the reaction of {cond.from_!r}, whose output "
                                 f"has none: only an approval node decides with a reaction")
        return str(output["reaction"]).strip(":") == cond.reaction.strip(":")
    expected = cond.value
    if isinstance(output, Mapping) and len(output) == 1 and not isinstance(expected, Mapping):
        output = next(iter(output.values()))
    if isinstance(expected, bool) and isinstance(output, str) and output.strip().lower() in ("true", "false"):
        output = output.strip().lower() == "true"
    return output == expected
