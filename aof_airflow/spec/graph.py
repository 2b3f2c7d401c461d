"""The node graph of an AgentFlow: its checks (each a Problem at the offending YAML value) and the
orderings the DAG factory reuses.

Start nodes ("roots") are the nodes nothing connects into; all of them start when the flow is
triggered, so a flow may have several (parallel branches that join later are fine). What is refused:
- in a flow of more than one node, a node with no connection at all (almost always a forgotten
  `connections` entry; it would otherwise start at trigger time with no upstream context);
- a node no root can reach (it sits behind a cycle, so it could never start);
- cycles (Airflow DAGs are acyclic), named node by node;
- connections or `conditions[].from` naming unknown nodes, duplicate ids, Agent nodes naming an agent
  that is not defined, and a condition reading a node that is not upstream of it (a node only sees
  its ancestors' outputs, see docs/architecture.md).
"""

from __future__ import annotations

import heapq
from typing import TYPE_CHECKING, Callable, Collection, Iterable

from pydantic import ValidationError

from aof_airflow.spec.compat import inline_agent
from aof_airflow.spec.edges import (  # noqa: F401  (re-exported: the graph's orderings and its edges, one import)
    START,
    Edge,
    decided_children,
    edge_conditions,
    edges,
    effective_conditions,
    entries,
    per_flow,
    upstream_of,
)
from aof_airflow.spec.models import AgentFlow, AgentNode
from aof_airflow.spec.problems import Problem

if TYPE_CHECKING:
    from aof_airflow.spec.references import LocateIn

Locate = Callable[..., tuple[int, int]]


def suggest(word: str, options: Iterable[str]) -> str:
    """The "did you mean" hint of a problem; its module is loaded by the checks, not by the DAG factory."""
    from aof_airflow.spec.validation_errors import suggest as closest  # checks only, not the DAG factory

    return closest(word, options)


class CycleError(ValueError):
    def __init__(self, cycle: list[str]) -> None:
        self.cycle = cycle
        super().__init__(f"cycle: {' -> '.join(cycle)}")


@per_flow
def _adjacency(flow: AgentFlow) -> tuple[list[str], dict[str, list[str]], dict[str, list[str]]]:
    """ids in declaration order, downstream and upstream lists (edges to unknown ids are dropped)."""
    ids = list(dict.fromkeys(n.id for n in flow.spec.nodes))
    down: dict[str, list[str]] = {i: [] for i in ids}
    up: dict[str, list[str]] = {i: [] for i in ids}
    for e in edges(flow):
        if e.src in down and e.dst in up and e.dst not in down[e.src]:
            down[e.src].append(e.dst)
            up[e.dst].append(e.src)
    return ids, down, up


def find_cycles(flow: AgentFlow) -> list[list[str]]:
    """Each elementary cycle found by depth-first search, as [a, b, ..., a]; each reported once."""
    ids, down, _ = _adjacency(flow)
    color = {i: 0 for i in ids}  # 0 new, 1 on the stack, 2 done
    cycles: list[list[str]] = []
    for start in ids:
        if color[start]:
            continue
        stack: list[tuple[str, Iterable[str]]] = [(start, iter(down[start]))]
        path = [start]
        color[start] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                stack.pop()
                path.pop()
                color[node] = 2
            elif color[nxt] == 1:
                cycles.append(path[path.index(nxt):] + [nxt])
            elif color[nxt] == 0:
                color[nxt] = 1
                path.append(nxt)
                stack.append((nxt, iter(down[nxt])))
    return cycles


@per_flow
def topological_order(flow: AgentFlow) -> list[str]:
    """Node ids, upstream before downstream; ties keep declaration order. Raises CycleError."""
    ids, down, up = _adjacency(flow)
    rank = {n: i for i, n in enumerate(ids)}
    indeg = {n: len(up[n]) for n in ids}
    ready = [(rank[n], n) for n in ids if indeg[n] == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        _, n = heapq.heappop(ready)
        order.append(n)
        for d in down[n]:
            indeg[d] -= 1
            if indeg[d] == 0:
                heapq.heappush(ready, (rank[d], d))
    if len(order) != len(ids):
        raise CycleError(find_cycles(flow)[0])
    return order


def ancestors(flow: AgentFlow, node_id: str) -> list[str]:
    """Every node upstream of `node_id` (transitively), in topological order."""
    _, _, up = _adjacency(flow)
    if node_id not in up:
        raise KeyError(f"flow {flow.name!r} has no node {node_id!r}")
    seen: set[str] = set()
    todo = list(up[node_id])
    while todo:
        n = todo.pop()
        if n not in seen:
            seen.add(n)
            todo.extend(up[n])
    return [n for n in topological_order(flow) if n in seen]


def roots(flow: AgentFlow) -> list[str]:
    ids, _, up = _adjacency(flow)
    return [n for n in ids if not up[n]]


# ---------------------------------------------------------------------------------------- checks


def check_flow(flow: AgentFlow, *, agents: Collection[str] | None = None, locate: Locate | None = None,
               locate_in: LocateIn | None = None, file: str = "<flow>") -> list[Problem]:
    """All graph and `${...}` reference problems of `flow`. `agents`: names defined (None skips the
    Agent-reference check). `locate(loc)` -> (line, col) of a YAML path, `locate_in(loc, text, offset)`
    of a character inside a string value; without them every problem is at 1:1."""
    at = locate or (lambda loc, key=False: (1, 1))

    def problem(loc: tuple, message: str) -> Problem:
        line, col = at(loc)
        return Problem(file, line, col, message)

    out: list[Problem] = []
    ids: dict[str, int] = {}
    for i, n in enumerate(flow.spec.nodes):
        if n.id in ids:
            first, _ = at(("spec", "nodes", ids[n.id], "id"))
            out.append(problem(("spec", "nodes", i, "id"), f"duplicate node id `{n.id}` (first at line {first}): "
                                                          f"node ids must be unique in a flow"))
        else:
            ids[n.id] = i

    for i, c in enumerate(flow.spec.connections):
        if c.from_ not in ids and c.from_ != START:
            out.append(problem(("spec", "connections", i, "from"),
                               f"connection from unknown node `{c.from_}`{suggest(c.from_, ids)} (the flow's entry "
                               f"is `{START}`)"))
    for i, c in enumerate(flow.spec.connections):
        if c.from_ == START:
            for j, t in enumerate(c.to):
                if t not in ids:
                    out.append(problem(("spec", "connections", i, "to", j),
                                       f"connection to unknown node `{t}`{suggest(t, ids)}"))
    for e in edges(flow):
        if e.src not in ids:
            out.append(problem(e.loc, f"unknown node `{e.src}`{suggest(e.src, ids)}"))
        if e.dst not in ids:
            out.append(problem(e.loc, f"connection to unknown node `{e.dst}`{suggest(e.dst, ids)}"))
    out.extend(_error_handler(flow, ids, problem))

    cycles = find_cycles(flow)
    in_cycle: set[str] = set()
    edge_loc = {(e.src, e.dst): e.loc for e in edges(flow)}
    for cyc in cycles:
        in_cycle.update(cyc)
        out.append(problem(edge_loc[(cyc[-2], cyc[-1])],
                           f"cycle: {' -> '.join(cyc)}; a flow must not loop back (remove one of these connections)"))

    out.extend(_reachability(flow, in_cycle, problem))
    out.extend(_edge_condition_problems(flow, problem))
    out.extend(_inline_agents(flow, problem))
    if agents is not None:
        out.extend(_agent_refs(flow, agents, problem))
    if not cycles:
        anc = ancestor_table(flow)
        out.extend(_condition_refs(flow, ids, anc, problem))
        from aof_airflow.spec.references import check_references  # the templating parser: checks only

        out.extend(check_references(flow, anc.__getitem__, locate_in=locate_in, file=file))
    return sorted(out)


def _reachability(flow: AgentFlow, in_cycle: set[str], problem: Callable[[tuple, str], Problem]) -> list[Problem]:
    ids, down, up = _adjacency(flow)
    index = {n.id: i for i, n in reversed(list(enumerate(flow.spec.nodes)))}
    out: list[Problem] = []
    entry = set(entries(flow))
    if len(ids) > 1:
        for n in ids:
            if not up[n] and not down[n] and n not in entry:
                out.append(problem(("spec", "nodes", index[n], "id"),
                                   f"node `{n}` is not connected to the flow: add a `connections` entry "
                                   f"to or from it (every node of a multi-node flow must be connected)"))
    start = [n for n in ids if not up[n]]
    seen: set[str] = set(start)
    todo = list(start)
    while todo:
        for d in down[todo.pop()]:
            if d not in seen:
                seen.add(d)
                todo.append(d)
    for n in ids:
        if n not in seen and n not in in_cycle:
            out.append(problem(("spec", "nodes", index[n], "id"),
                               f"node `{n}` is unreachable: no path leads to it from a start node "
                               f"({', '.join(start) or 'none'}) because it lies behind a cycle"))
    return out


def _error_handler(flow: AgentFlow, ids: dict[str, int], problem: Callable[[tuple, str], Problem]) -> list[Problem]:
    handler = flow.spec.config.error_handler
    if handler is None:
        return []
    loc = ("spec", "config", "error_handler")
    if handler not in ids:
        return [problem(loc, f"error handler `{handler}` is not a node of this flow{suggest(handler, ids)}")]
    into = [c.from_ for c in flow.spec.connections if handler in c.to]
    if into:
        return [problem(loc, f"error handler `{handler}` runs when a node fails, after every other node; remove "
                             f"its connections from {', '.join(f'`{x}`' for x in into)}")]
    return []


def _inline_agents(flow: AgentFlow, problem: Callable[[tuple, str], Problem]) -> list[Problem]:
    """An inline agent is checked like an Agent document (its tools, its model)."""

    out = []
    for i, n in enumerate(flow.spec.nodes):
        if isinstance(n, AgentNode) and n.config.inline is not None:
            try:
                inline_agent(n.config.inline, flow.name)
            except ValidationError as exc:
                for err in exc.errors(include_url=False):
                    where = ".".join(str(x) for x in err["loc"][1:] if not str(x)[:1].isupper())
                    out.append(problem(("spec", "nodes", i, "config", "inline"),
                                       f"node `{n.id}`: inline agent `{n.config.inline.name}`: {where}: {err['msg']}"))
    return out


def _agent_refs(flow: AgentFlow, agents: Collection[str], problem: Callable[[tuple, str], Problem]) -> list[Problem]:
    out = []
    for i, n in enumerate(flow.spec.nodes):
        if isinstance(n, AgentNode) and n.config.agent is not None and n.config.agent not in agents:
            out.append(problem(("spec", "nodes", i, "config", "agent"),
                               f"node `{n.id}` runs agent `{n.config.agent}`, which is not defined in the files "
                               f"given{suggest(n.config.agent, agents)}"))
    return out


def _edge_condition_problems(flow: AgentFlow, problem: Callable[[tuple, str], Problem]) -> list[Problem]:
    out = []
    index = {n.id: i for i, n in enumerate(flow.spec.nodes)}
    for node_id, incoming in edge_conditions(flow).items():
        plain = [src for src, test, _ in incoming if test is None]
        loc = next(loc for _, test, loc in incoming if test is not None)
        if plain:
            out.append(problem(loc, f"node `{node_id}` has conditional connections into it and plain ones (from "
                                    f"{', '.join(f'`{p}`' for p in plain)}): give every connection into it a "
                                    f"condition, or none"))
        elif node_id in index and flow.spec.nodes[index[node_id]].conditions:
            out.append(problem(loc, f"node `{node_id}` has its own `conditions` and conditional connections into "
                                    f"it: write its conditions in one place"))
    return out


@per_flow
def ancestor_table(flow: AgentFlow) -> dict[str, list[str]]:
    """Every node's ancestors in topological order, computed in one pass (flow must be acyclic)."""
    _, _, up = _adjacency(flow)
    order = topological_order(flow)
    table: dict[str, set[str]] = {}
    for n in order:
        acc: set[str] = set(up[n])
        for p in up[n]:
            acc |= table[p]
        table[n] = acc
    return {n: [m for m in order if m in table[n]] for n in order}


def _condition_refs(flow: AgentFlow, ids: dict[str, int], anc: dict[str, list[str]],
                    problem: Callable[[tuple, str], Problem]) -> list[Problem]:
    out = []
    for i, n in enumerate(flow.spec.nodes):
        upstream = set(anc[n.id])
        for k, cond in enumerate(n.conditions):
            loc = ("spec", "nodes", i, "conditions", k, "from")
            if cond.from_ not in ids:
                out.append(problem(loc, f"node `{n.id}`: condition reads unknown node `{cond.from_}`"
                                        f"{suggest(cond.from_, ids)}"))
            elif cond.from_ not in upstream:
                out.append(problem(loc, f"node `{n.id}`: condition reads `{cond.from_}`, which is not upstream "
                                        f"of `{n.id}` (a node only sees its ancestors' outputs); connect "
                                        f"`{cond.from_}` to `{n.id}` or read another node"))
    return out
