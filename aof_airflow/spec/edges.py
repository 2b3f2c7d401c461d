"""The edges of an AgentFlow and what they decide: upstream lists, conditional connections read as node
conditions, and the children a node alone decides. Each computed once per flow object (`per_flow`).

A leaf of the spec package below `models` (which asks it for `AgentFlow.upstream()`) and beside `graph`
(its checks and orderings) and `references` (which nodes read which outputs): all three import it, it imports
neither of them.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, TypeVar

from aof_airflow.spec.nodes.base import NodeCondition
from aof_airflow.spec.nodes.parallel import ParallelNode

if TYPE_CHECKING:
    from aof_airflow.spec.models import AgentFlow

START = "start"  # AOF's implicit entry node: `from: start` connects a node to the flow's trigger


@dataclass(frozen=True)
class Edge:
    src: str
    dst: str
    loc: tuple  # YAML path of the `to` item (connections[i].to[j])


R = TypeVar("R")
_MEMO: dict[tuple[str, int], tuple[AgentFlow, object]] = {}


def per_flow(fn: Callable[[AgentFlow], R]) -> Callable[[AgentFlow], R]:
    """`fn(flow)` computed once per flow object (flows are frozen): the checks, the reference analysis and the
    DAG planner each ask for the same edges, orders and conditions. Callers must not mutate the result."""
    name = fn.__qualname__

    @functools.wraps(fn)
    def once(flow: AgentFlow) -> R:
        key = (name, id(flow))
        hit = _MEMO.get(key)
        if hit is not None and hit[0] is flow:
            return hit[1]  # type: ignore[return-value]
        if len(_MEMO) > 8192:
            _MEMO.clear()
        out = fn(flow)
        _MEMO[key] = (flow, out)
        return out

    return once


@per_flow
def edges(flow: AgentFlow) -> list[Edge]:
    """Every edge between nodes: `connections` (not those from `start`, the flow's entry), each node's
    `depends_on`, a Parallel node's `branches`, and the error handler after every other node."""
    out = [Edge(c.from_, t, ("spec", "connections", i, "to", j))
           for i, c in enumerate(flow.spec.connections) if c.from_ != START for j, t in enumerate(c.to)]
    for i, n in enumerate(flow.spec.nodes):
        out.extend(Edge(d, n.id, ("spec", "nodes", i, "depends_on", j)) for j, d in enumerate(n.depends_on))
        if isinstance(n, ParallelNode):
            out.extend(Edge(n.id, b, ("spec", "nodes", i, "config", "branches", j))
                       for j, b in enumerate(n.config.branches))
    handler = flow.spec.config.error_handler
    if handler is not None and any(n.id == handler for n in flow.spec.nodes):
        out.extend(Edge(n.id, handler, ("spec", "config", "error_handler")) for n in flow.spec.nodes if n.id != handler)
    return out


@per_flow
def upstream_of(flow: AgentFlow) -> dict[str, list[str]]:
    """node id -> ids of its direct upstream nodes, in declaration order (`start` is not a node)."""
    up: dict[str, list[str]] = {n.id: [] for n in flow.spec.nodes}
    for e in edges(flow):
        if e.dst in up and e.src in up and e.src not in up[e.dst]:
            up[e.dst].append(e.src)
    return up


def entries(flow: AgentFlow) -> list[str]:
    """The nodes AOF's `from: start` connections name."""
    return list(dict.fromkeys(t for c in flow.spec.connections if c.from_ == START for t in c.to))


@per_flow
def edge_conditions(flow: AgentFlow) -> dict[str, list[tuple[str, str | None, tuple]]]:
    """{node id: [(from node, condition or None, YAML path)]} for every node with a conditional connection into
    it: it runs on an edge whose condition holds or, for an unconditional edge, whose `from` node ran."""
    incoming: dict[str, list[tuple[str, str | None, tuple]]] = {}
    for i, c in enumerate(flow.spec.connections):
        if c.from_ == START:
            continue
        loc = ("spec", "connections", i, "when" if c.when is not None else "condition")
        for t in c.to:
            incoming.setdefault(t, []).append((c.from_, c.test, loc))
    return {n: es for n, es in incoming.items() if any(test is not None for _, test, _ in es)}


@per_flow
def effective_conditions(flow: AgentFlow) -> dict[str, list[NodeCondition]]:
    """{node id: the conditions it runs on}: its own `conditions`, or its conditional connections read as
    `{from, when}` entries (the check refuses a node that has both, or a mix of conditional and plain edges)."""
    edge = edge_conditions(flow)
    out: dict[str, list[NodeCondition]] = {}
    for n in flow.spec.nodes:
        if n.id in edge and not n.conditions:
            out[n.id] = [NodeCondition.model_validate({"from": src, "when": test}) for src, test, _ in edge[n.id]
                         if test is not None]
        else:
            out[n.id] = list(n.conditions)
    return out


@per_flow
def decided_children(flow: AgentFlow) -> dict[str, list[str]]:
    """{node id: the children whose fate it alone decides}: a child with `conditions` that all read this node
    and no other upstream. When the node ends it knows whether such a child runs, so it can skip it the way
    Airflow's branch operators do; any other conditioned child checks its own conditions when it starts."""
    up = flow.upstream()
    conds = effective_conditions(flow)
    out: dict[str, list[str]] = {n.id: [] for n in flow.spec.nodes}
    for n in flow.spec.nodes:
        parents = up[n.id]
        if conds[n.id] and len(parents) == 1 and all(c.from_ == parents[0] for c in conds[n.id]):
            out[parents[0]].append(n.id)
    return out
