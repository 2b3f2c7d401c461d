"""Checks of `${...}` references against the graph, at validation time where the answer is knowable.

What a node may read (docs/architecture.md): `event...` (and any other top-level key of the trigger payload,
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
from functools import lru_cache
from typing import Any, Callable, Iterator

from aof_airflow.spec.edges import decided_children, effective_conditions
from aof_airflow.spec.models import AgentFlow, Node, NodeCondition
from aof_airflow.spec.nodes.base import YamlPath
from aof_airflow.spec.problems import Problem
from aof_airflow.spec.validation_errors import suggest
from aof_airflow.templating import TemplateError, parse_condition, placeholders
from aof_airflow.templating.context import SECRET_NAME

FLOW_KEYS = ("run_id", "name", "duration_seconds")
PAYLOAD_ROOT = "event"
PREVIOUS = "previous"  # `${previous.output}`: the one node connected into the reader
CONTEXT = "context"  # `${context.*}`: the flow's spec.context

LocateIn = Callable[[tuple, str, int], tuple[int, int]]


def templates_of(node: Node, index: int) -> list[tuple[YamlPath, str]]:
    """(YAML path, template text) of every templated field of a node (its type's `template_fields`)."""
    return node.templates(index)


def outputs_read(flow: AgentFlow, upstream_of: Callable[[str], list[str]]) -> dict[str, list[str]]:
    """{node id: the ancestors whose outputs it reads}, in `upstream_of`'s order: the nodes its templates and
    its `conditions` name, and every ancestor Transform (their exports are the flow variables). A node task
    pulls only these XComs (one round trip each) instead of every ancestor's; a node whose text does not
    parse reads them all (it fails at run time with the template's own error)."""
    transforms = {n.id for n in flow.spec.nodes if n.sets_variables}
    decides = decided_children(flow)
    conds = effective_conditions(flow)
    up = flow.upstream()
    own: dict[str, frozenset[str] | None] = {}  # node id -> the first names its conditions read (None: unreadable)
    for n in flow.spec.nodes:
        try:
            own[n.id] = _condition_heads(conds[n.id])
        except TemplateError:
            own[n.id] = None
    out: dict[str, list[str]] = {}
    for i, node in enumerate(flow.spec.nodes):
        ancestors = list(upstream_of(node.id))
        conditions = [own[node.id], *(own[child] for child in decides[node.id])]  # it decides its children
        try:
            named = None if None in conditions else set().union(
                *conditions, *(_template_heads(text) for _loc, text in node.templates(i)))
        except TemplateError:
            named = None
        if named is None:
            out[node.id] = ancestors
            continue
        if PREVIOUS in named and len(up[node.id]) == 1:
            named.add(up[node.id][0])
        if node.outputs_upstream:  # a Join: its output is its branches' outputs
            named |= set(up[node.id])
        out[node.id] = [a for a in ancestors if a in named or a in transforms]
    return out


def _condition_heads(conditions: list[NodeCondition]) -> frozenset[str]:
    heads: set[str] = set()
    for c in conditions:
        heads.add(c.from_)
        if c.when is not None:
            heads.update(p[0] for p in parse_condition(c.when).paths())  # bare names may reach the whole context
            heads |= _template_heads(c.when)
    return frozenset(heads)


@lru_cache(maxsize=4096)
def _template_heads(text: str) -> frozenset[str]:
    return frozenset(path[0] for ph in placeholders(text) for path in ph.paths) if "${" in text else frozenset()


def _conditions_to_parse(flow: AgentFlow) -> Iterator[tuple[YamlPath, str, str]]:
    """(YAML path, owner, text) of every condition the language must read: a Conditional's `condition` and named
    expressions, every node `conditions[].when` and every connection's `when` / `condition`."""
    for i, node in enumerate(flow.spec.nodes):
        for k, c in enumerate(node.conditions):
            if c.when is not None:
                yield ("spec", "nodes", i, "conditions", k, "when"), f"node `{node.id}`", c.when
        for loc, text in node.conditions_in_config(i):  # a Conditional's `condition` and named expressions
            yield loc, f"node `{node.id}`", text
    for i, c in enumerate(flow.spec.connections):
        if c.test is not None:
            key = "when" if c.when is not None else "condition"
            yield ("spec", "connections", i, key), f"connection from `{c.from_}`", c.test


def check_references(flow: AgentFlow, upstream_of: Callable[[str], list[str]], *,
                     locate_in: LocateIn | None = None, file: str = "<flow>") -> list[Problem]:
    """Problems of every `${...}` in `flow`, and of every condition. `upstream_of(id)` -> ancestor ids (the graph
    must be acyclic)."""
    at = locate_in or (lambda loc, text, offset: (1, 1))
    exporters: dict[str, list[str]] = {}
    for n in flow.spec.nodes:
        for name in n.exports():
            exporters.setdefault(name, []).append(n.id)
    node_ids = {n.id for n in flow.spec.nodes}
    up = flow.upstream()
    context = flow.spec.context.as_root()
    out: list[Problem] = []
    for loc, owner, text in _conditions_to_parse(flow):
        try:
            parse_condition(text.strip())
        except TemplateError as exc:
            line, col = at(loc, text, 0)
            out.append(Problem(file, line, col, f"{owner}: {exc}"))
    for i, node in enumerate(flow.spec.nodes):
        ancestors = set(upstream_of(node.id))
        reader = Reader(node.id, ancestors, up[node.id], node_ids, exporters, context)
        for loc, text in node.templates(i):
            old = _OLD_TEMPLATE.search(text)
            if old:
                line, col = at(loc, text, old.start())
                out.append(Problem(file, line, col, f"node `{node.id}`: `{old.group(0)}` is AOF's older template "
                                                    f"form; write `${{{_modern(old.group(1))}}}` (the trigger's "
                                                    f"payload is `event`)"))
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
                    msg = reader.problem_with(path)
                    if msg:
                        line, col = at(loc, text, ph.start)
                        out.append(Problem(file, line, col, f"node `{node.id}`: ${{{ph.raw.strip()}}}: {msg}"))
    return out


# `{{trigger.body.message}}`, `{{ event.x }}`: AOF's v1alpha1 templates (a Go-template `{{json .}}` is left alone).
# The `{` comes before the look-behind (not preceded by `$`, a word character or `{`) so the search can skip
# to each `{` instead of trying the look-behind at every character: 20x faster on long prompts.
_OLD_TEMPLATE = re.compile(r"\{(?<![$\w{]\{)\{?\s*((?:trigger|event|input|steps|variables)\.[A-Za-z0-9_.-]+)\s*\}\}?")


def _modern(path: str) -> str:
    head, _, rest = path.partition(".")
    if head == "trigger":
        return f"event.{rest}"
    if head == "steps":
        node, _, field = rest.partition(".")
        return f"{node}.{field or 'output'}"
    return path


class Reader:
    """What one node may read: checks one `${...}` path against the graph and the flow's context."""

    def __init__(self, node_id: str, ancestors: set[str], parents: list[str], node_ids: set[str],
                 exporters: dict[str, list[str]], context: dict[str, Any]) -> None:
        self.node_id, self.ancestors, self.parents = node_id, ancestors, parents
        self.node_ids, self.exporters, self.context = node_ids, exporters, context

    def problem_with(self, path: tuple[str, ...]) -> str | None:
        head = path[0]
        reader = self.node_id
        if head in self.node_ids:
            if len(path) < 2 or path[1] != "output":
                return f"a node's result is read as `{head}.output...`"
            if head == reader:
                return "a node cannot read its own output"
            if head not in self.ancestors:
                return (f"`{head}` is not upstream of `{reader}`, so its output is not available here; "
                        f"connect `{head}` (directly or through other nodes) to `{reader}`")
            return None
        if head == PREVIOUS:
            if len(path) < 2 or path[1] != "output":
                return "the upstream node's result is read as `previous.output...`"
            if len(self.parents) != 1:
                which = ", ".join(f"`{p}`" for p in self.parents) or "none"
                return (f"`previous` is the one node connected into `{reader}`, and it has {len(self.parents)} "
                        f"({which}): name the node instead, e.g. `${{{(self.parents or ['node'])[0]}.output}}`")
            return None
        if head == CONTEXT:
            return self._context(path)
        if head == "flow" and len(path) >= 2:
            return None if path[1] in FLOW_KEYS and len(path) == 2 else (
                f"unknown flow field{suggest(path[1], FLOW_KEYS)} (flow has: {', '.join(FLOW_KEYS)})")
        if len(path) > 1 or head == PAYLOAD_ROOT:
            return None  # a path into the trigger payload; its shape is only known at run time
        exported_by = self.exporters.get(head, [])
        if any(e in self.ancestors for e in exported_by):
            return None
        if exported_by:
            return (f"flow variable exported by {', '.join(f'`{e}`' for e in exported_by)}, which is not upstream "
                    f"of `{reader}`; connect it or export the variable upstream")
        if head in self.context.get("env", {}):
            return None  # spec.context.env: the flow's own environment
        if SECRET_NAME.match(head):
            return None  # an environment variable / Airflow Variable (a secret), resolved at run time
        known = {name for name, who in self.exporters.items() if any(e in self.ancestors for e in who)}
        return (f"`{head}` is not exported by any upstream Transform{suggest(head, known | self.node_ids)} "
                f"(UPPER_CASE names are read from the environment)")

    def _context(self, path: tuple[str, ...]) -> str | None:
        if len(path) < 2:
            return "read a field of the flow's context, e.g. `${context.namespace}`"
        if path[1] not in self.context:
            have = ", ".join(sorted(self.context)) or "nothing"
            return f"spec.context has no `{path[1]}`{suggest(path[1], self.context)} (it has: {have})"
        if path[1] == "env" and len(path) > 2 and path[2] not in self.context["env"]:
            return f"spec.context.env has no `{path[2]}`{suggest(path[2], self.context['env'])}"
        return None
