"""Graph checks (each at the exact line of the offending value) and the orderings the factory reuses."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aof_airflow.spec.graph import CycleError, ancestors, check_flow, find_cycles, roots, topological_order
from aof_airflow.spec.loader import load_paths
from aof_airflow.spec.models import AgentFlow

from .spec_helpers import AGENT, col_of, flow_yaml, line_of


def t(node_id: str, script: str = "true") -> str:
    return f"- id: {node_id}\n  type: Transform\n  config: {{script: '{script}'}}\n"


def conn(src: str, *dsts: str) -> str:
    return f"- from: {src}\n" + "".join(f"  to: {d}\n" for d in dsts[:1]) + (
        f"  to: [{', '.join(dsts[1:])}]\n" if len(dsts) > 1 else "")


def load(write, nodes: str, connections: str = "", *, agents: tuple[str, ...] = ()):
    text = flow_yaml(nodes, connections)
    files = [write("flow.yaml", text)] + [write(f"agent-{a}.yaml", AGENT.format(name=a)) for a in agents]
    return text, load_paths(files)


def messages(result) -> list[tuple[int, int, str]]:
    return [(p.line, p.col, p.message) for p in result.problems]


def test_unknown_node_in_connection_to_and_from(write):
    text, r = load(write, t("a") + t("b"), "- from: a\n  to: bb\n- from: zz\n  to: b\n")
    got = messages(r)
    assert (line_of(text, "to: bb"), 11, "connection to unknown node `bb`; did you mean `b`?") in got
    assert any(line == line_of(text, "from: zz") and col == 13 and "unknown node `zz`" in m for line, col, m in got)


def test_unknown_node_in_condition(write):
    nodes = t("a") + t("b") + "  conditions:\n    - from: aa\n      when: X == 1\n"
    text, r = load(write, nodes, conn("a", "b"))
    (line, col, msg), = messages(r)
    assert (line, col) == (line_of(text, "from: aa"), col_of(text, "aa"))
    assert "unknown node `aa`" in msg and "did you mean `a`?" in msg


def test_condition_from_a_node_that_is_not_upstream(write):
    nodes = t("a") + t("b") + t("c") + "  conditions:\n    - from: b\n      when: X == 1\n"
    text, r = load(write, nodes, conn("a", "b", "c"))
    (line, _, msg), = messages(r)
    assert line == line_of(text, "- from: b") and "not upstream of `c`" in msg


def test_duplicate_node_id(write):
    text, r = load(write, t("a") + t("b") + t("a"), conn("a", "b"))
    dup = [m for m in messages(r) if "duplicate node id" in m[2]]
    assert [(line, col) for line, col, _ in dup] == [(line_of(text, "- id: a", nth=2), 11)]
    assert f"(first at line {line_of(text, '- id: a')})" in dup[0][2]


def test_cycle_is_named_and_reported_at_the_closing_connection(write):
    text, r = load(write, t("a") + t("b") + t("c"), conn("a", "b") + conn("b", "c") + conn("c", "b"))
    cyc = [m for m in messages(r) if m[2].startswith("cycle")]
    assert len(cyc) == 1
    assert cyc[0][2].startswith("cycle: b -> c -> b")
    assert cyc[0][:2] == (line_of(text, "to: b", nth=2), 11)


def test_self_loop_is_a_cycle(write):
    _, r = load(write, t("a") + t("b"), conn("a", "b") + conn("b", "b"))
    assert any(m.startswith("cycle: b -> b") for _, _, m in messages(r))


def test_node_behind_an_entry_less_cycle_is_unreachable(write):
    text, r = load(write, t("a") + t("b") + t("c") + t("d"),
                   conn("a", "b") + conn("c", "d") + conn("d", "c") + conn("d", "a"))
    got = messages(r)
    assert any(m.startswith("cycle: c -> d -> c") for _, _, m in got)
    unreachable = [(line, m) for line, _, m in got if "unreachable" in m]
    assert [u[0] for u in unreachable] == [line_of(text, "- id: a"), line_of(text, "- id: b")]


def test_isolated_node_in_a_connected_flow(write):
    text, r = load(write, t("a") + t("b") + t("lonely"), conn("a", "b"))
    (line, col, msg), = messages(r)
    assert (line, col) == (line_of(text, "- id: lonely"), 11) and "not connected" in msg


def test_several_roots_that_join_are_allowed(write):
    _, r = load(write, t("a") + t("b") + t("c"), conn("a", "c") + conn("b", "c"))
    assert r.ok, r.problems
    flow = r.flows["f"]
    assert roots(flow) == ["a", "b"]
    assert topological_order(flow) == ["a", "b", "c"]


def test_single_node_flow_needs_no_connections(write):
    _, r = load(write, t("only"))
    assert r.ok, r.problems


def test_agent_node_naming_an_undefined_agent(write):
    nodes = "- id: a\n  type: Agent\n  config:\n    agent: incident-diagnostc\n"
    text, r = load(write, nodes, agents=("incident-diagnostic",))
    (line, col, msg), = messages(r)
    assert (line, col) == (line_of(text, "agent: incident-diagnostc"), 16)
    assert "`incident-diagnostc`" in msg and "did you mean `incident-diagnostic`?" in msg


def test_check_flow_without_agents_skips_agent_names(write):
    _, r = load(write, "- id: a\n  type: Agent\n  config: {agent: nowhere}\n")
    assert not r.ok
    assert check_flow(r.flows["f"], agents=None) == []


def test_topological_order_and_ancestors_raise_clearly():
    flow = AgentFlow.model_validate({
        "apiVersion": "aof.dev/v1", "kind": "AgentFlow", "metadata": {"name": "x"},
        "spec": {"nodes": [{"id": i, "type": "Transform", "config": {"script": "true"}} for i in "abc"],
                 "connections": [{"from": "a", "to": "b"}, {"from": "b", "to": "a"}, {"from": "b", "to": "c"}]}})
    with pytest.raises(CycleError, match="a -> b -> a"):
        topological_order(flow)
    with pytest.raises(KeyError, match="no node 'zz'"):
        ancestors(flow, "zz")


@st.composite
def dags(draw):
    """A random acyclic flow: edges only from a lower to a higher index, in a shuffled declaration order."""
    n = draw(st.integers(1, 12))
    names = [f"n{i}" for i in range(n)]
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    chosen = draw(st.lists(st.sampled_from(pairs), unique=True, max_size=25)) if pairs else []
    declared = draw(st.permutations(names))
    flow = AgentFlow.model_validate({
        "apiVersion": "aof.dev/v1", "kind": "AgentFlow", "metadata": {"name": "p"},
        "spec": {"nodes": [{"id": x, "type": "Transform", "config": {"script": "true"}} for x in declared],
                 "connections": [{"from": names[i], "to": names[j]} for i, j in chosen]}})
    return flow, {(names[i], names[j]) for i, j in chosen}


@settings(max_examples=150, deadline=None)
@given(dags())
def test_topological_order_respects_every_edge_and_ancestors_are_transitive(case):
    flow, edge_set = case
    order = topological_order(flow)
    pos = {n: i for i, n in enumerate(order)}
    assert sorted(order) == sorted(n.id for n in flow.spec.nodes)
    assert all(pos[a] < pos[b] for a, b in edge_set)
    assert find_cycles(flow) == []
    for node in order:
        anc = ancestors(flow, node)
        assert anc == sorted(anc, key=pos.__getitem__)
        direct = {a for a, b in edge_set if b == node}
        expected = set(direct)
        for d in direct:
            expected |= set(ancestors(flow, d))
        assert set(anc) == expected
