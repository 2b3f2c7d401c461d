"""Checks of `${...}` references against the graph, at validation time where the answer is knowable.

What a node may read (DESIGN §4): `event...` (and any other top-level key of the trigger payload,
written with a path), `flow.run_id|name|duration_seconds`, `<ancestor>.output...`, and the flow
variables its ancestor Transforms export. What is reported:
- `<node>.output` of a node that is not upstream of the reader (or is the reader itself);
- `<node>` used without `.output`;
- a single-name reference that no ancestor exports: an error when some other Transform exports it
  (the connection is missing) or when it is not UPPER_CASE; an UPPER_CASE name nobody exports is an
  environment / secret name (PAGERDUTY_API_KEY) and is resolved at run time;
- `flow.<x>` for an unknown x, and malformed templates (unclosed `${`, bad expressions).
"""

from __future__ import annotations

import re
from typing import Any, Callable, Iterator

from aof_airflow.spec.models import AgentFlow, AgentNode, ConditionalNode, HTTPNode, SlackNode, TransformNode
from aof_airflow.spec.problems import Problem
from aof_airflow.spec.validation_errors import suggest
from aof_airflow.templating import TemplateError, placeholders
from aof_airflow.templating.context import SECRET_NAME

FLOW_KEYS = ("run_id", "name", "duration_seconds")
PAYLOAD_ROOT = "event"
_EXPORT = re.compile(r"^\s*export\s+([A-Za-z_][A-Za-z0-9_]*)=", re.MULTILINE)

LocateIn = Callable[[tuple, str, int], tuple[int, int]]


def transform_exports(script: str) -> list[str]:
    """Names a Transform script exports (`export NAME=...` lines), in order, without repeats."""
    return list(dict.fromkeys(_EXPORT.findall(script)))


def templates_of(node: Any, index: int) -> Iterator[tuple[tuple, str]]:
    """(YAML path, template text) of every templated field of a node."""
    base = ("spec", "nodes", index, "config")
    c = node.config
    if isinstance(node, AgentNode):
        yield base + ("input",), c.input
    elif isinstance(node, TransformNode):
        yield base + ("script",), c.script
    elif isinstance(node, ConditionalNode):
        if c.condition is not None:
            yield base + ("condition",), c.condition
        for k, named in enumerate(c.conditions or ()):
            yield base + ("conditions", k, "expression"), named.expression
    elif isinstance(node, SlackNode):
        yield base + ("channel",), c.channel
        yield base + ("message",), c.message
    elif isinstance(node, HTTPNode):
        yield base + ("url",), c.url
        for name, value in c.headers.items():
            yield base + ("headers", name), value
        yield from _data_strings(base + ("body",), c.body)


def _data_strings(loc: tuple, value: Any) -> Iterator[tuple[tuple, str]]:
    if isinstance(value, str):
        yield loc, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _data_strings(loc + (k,), v)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _data_strings(loc + (i,), v)


def outputs_read(flow: AgentFlow, upstream_of: Callable[[str], list[str]]) -> dict[str, list[str]]:
    """{node id: the ancestors whose outputs it reads}, in `upstream_of`'s order: the nodes its templates and
    its `conditions` name, and every ancestor Transform (their exports are the flow variables). A node task
    pulls only these XComs (one round trip each) instead of every ancestor's; a node whose text does not
    parse reads them all (it fails at run time with the template's own error)."""
    from aof_airflow.spec.graph import decided_children

    transforms = {n.id for n in flow.spec.nodes if isinstance(n, TransformNode)}
    decides = decided_children(flow)
    out: dict[str, list[str]] = {}
    for i, node in enumerate(flow.spec.nodes):
        ancestors = list(upstream_of(node.id))
        try:
            named = _heads(node, i)
            for child in decides[node.id]:  # it evaluates their conditions when it ends
                named |= _condition_heads(flow.node(child))
        except TemplateError:
            out[node.id] = ancestors
            continue
        out[node.id] = [a for a in ancestors if a in named or a in transforms]
    return out


def _heads(node: Any, index: int) -> set[str]:
    """First names of every path the node's templates and `conditions` read (a node's id among them)."""
    heads = _condition_heads(node)
    for _loc, text in templates_of(node, index):
        heads |= _template_heads(text)
    return heads


def _condition_heads(node: Any) -> set[str]:
    from aof_airflow.templating import parse_condition

    heads: set[str] = set()
    for c in node.conditions:
        heads.add(c.from_)
        heads.update(p[0] for p in parse_condition(c.when).paths())  # bare names may reach the whole context
        heads |= _template_heads(c.when)
    return heads


def _template_heads(text: str) -> set[str]:
    return {path[0] for ph in placeholders(text) for path in ph.paths} if "${" in text else set()


def check_references(flow: AgentFlow, upstream_of: Callable[[str], list[str]], *,
                     locate_in: LocateIn | None = None, file: str = "<flow>") -> list[Problem]:
    """Problems of every `${...}` in `flow`. `upstream_of(id)` -> ancestor ids (the graph must be acyclic)."""
    at = locate_in or (lambda loc, text, offset: (1, 1))
    exporters: dict[str, list[str]] = {}
    for n in flow.spec.nodes:
        if isinstance(n, TransformNode):
            for name in transform_exports(n.config.script):
                exporters.setdefault(name, []).append(n.id)
    node_ids = {n.id for n in flow.spec.nodes}
    out: list[Problem] = []
    for i, node in enumerate(flow.spec.nodes):
        ancestors = set(upstream_of(node.id))
        for loc, text in templates_of(node, i):
            if "${" not in text:
                continue
            try:
                found = placeholders(text)
            except TemplateError as exc:
                line, col = at(loc, text, 0)
                out.append(Problem(file, line, col, f"node `{node.id}`: {exc}"))
                continue
            for ph in found:
                for path in sorted(ph.paths):
                    msg = _problem_with(path, node.id, ancestors, node_ids, exporters)
                    if msg:
                        line, col = at(loc, text, ph.start)
                        out.append(Problem(file, line, col, f"node `{node.id}`: ${{{ph.raw.strip()}}}: {msg}"))
    return out


def _problem_with(path: tuple[str, ...], reader: str, ancestors: set[str], node_ids: set[str],
                  exporters: dict[str, list[str]]) -> str | None:
    head = path[0]
    if head in node_ids:
        if len(path) < 2 or path[1] != "output":
            return f"a node's result is read as `{head}.output...`"
        if head == reader:
            return f"a node cannot read its own output"
        if head not in ancestors:
            return (f"`{head}` is not upstream of `{reader}`, so its output is not available here; "
                    f"connect `{head}` (directly or through other nodes) to `{reader}`")
        return None
    if head == "flow" and len(path) >= 2:
        return None if path[1] in FLOW_KEYS and len(path) == 2 else (
            f"unknown flow field{suggest(path[1], FLOW_KEYS)} (flow has: {', '.join(FLOW_KEYS)})")
    if len(path) > 1 or head == PAYLOAD_ROOT:
        return None  # a path into the trigger payload; its shape is only known at run time
    exported_by = exporters.get(head, [])
    if any(e in ancestors for e in exported_by):
        return None
    if exported_by:
        return (f"flow variable exported by {', '.join(f'`{e}`' for e in exported_by)}, which is not upstream "
                f"of `{reader}`; connect it or export the variable upstream")
    if SECRET_NAME.match(head):
        return None  # an environment variable / Airflow Variable (a secret), resolved at run time
    known = {name for name, who in exporters.items() if any(e in ancestors for e in who)}
    return (f"`{head}` is not exported by any upstream Transform{suggest(head, known | node_ids)} "
            f"(UPPER_CASE names are read from the environment)")
