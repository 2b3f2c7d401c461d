"""`${...}` reference checks: reported at the line of the placeholder, secrets left for run time."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from aof_airflow.spec.loader import load_paths
from aof_airflow.spec.nodes.transform import transform_exports
from aof_airflow.spec.references import _OLD_TEMPLATE

from .spec_helpers import col_of, flow_yaml, line_of

PARSE = """\
- id: parse
  type: Transform
  config:
    script: |
      export TITLE="${event.incident.title}"
      export lower_var=1
"""


def slack(node_id: str, message_lines: list[str]) -> str:
    body = "".join(f"      {m}\n" for m in message_lines)
    return f"- id: {node_id}\n  type: Slack\n  config:\n    channel: '#x'\n    message: |\n{body}"


def problems(write, nodes: str, connections: str) -> tuple[str, list]:
    text = flow_yaml(nodes, connections)
    return text, load_paths([write("flow.yaml", text)]).problems


def test_transform_exports_are_parsed_from_export_lines():
    script = 'export A=1\n  export B="$(date)"\n# export C=3\necho export D=4\nexport A=2\n'
    assert transform_exports(script) == ["A", "B"]


def test_valid_references_pass(write):
    nodes = PARSE + slack("say", ["${TITLE} ${lower_var} ${parse.output.TITLE}", "${flow.duration_seconds}",
                                  "${event.anything.deep:-x} ${SOME_SECRET}"])
    _, probs = problems(write, nodes, "- from: parse\n  to: say\n")
    assert probs == []


def test_output_of_a_node_that_is_not_upstream_is_reported_at_its_line(write):
    nodes = PARSE + slack("a", ["hello"]) + slack("b", ["first line", "value: ${a.output.ts}"])
    text, probs = problems(write, nodes, "- from: parse\n  to: [a, b]\n")
    (p,) = probs
    assert (p.line, p.col) == (line_of(text, "value: ${a.output.ts}"), col_of(text, "${a.output.ts}"))
    assert "`a` is not upstream of `b`" in p.message and "${a.output.ts}" in p.message


def test_flow_variable_exported_only_by_a_non_ancestor(write):
    nodes = PARSE + slack("a", ["x"]) + "- id: side\n  type: Transform\n  config: {script: 'export SIDE=1'}\n" \
        + slack("b", ["${SIDE}"])
    text, probs = problems(write, nodes, "- from: parse\n  to: [a, side]\n- from: a\n  to: b\n")
    (p,) = probs
    assert p.line == line_of(text, "${SIDE}") and "exported by `side`, which is not upstream of `b`" in p.message


def test_unknown_lowercase_variable_and_unknown_flow_field(write):
    nodes = PARSE + slack("b", ["${lower_vr}", "${flow.duration}"])
    text, probs = problems(write, nodes, "- from: parse\n  to: b\n")
    assert [(p.line, p.col) for p in probs] == [(line_of(text, "${lower_vr}"), col_of(text, "${lower_vr}")),
                                            (line_of(text, "${flow.duration}"), col_of(text, "${flow.duration}"))]
    assert "did you mean `lower_var`?" in probs[0].message
    assert "did you mean `duration_seconds`?" in probs[1].message


def test_node_without_output_and_own_output(write):
    nodes = PARSE + slack("b", ["${parse.TITLE}", "${b.output.ts}"])
    _, probs = problems(write, nodes, "- from: parse\n  to: b\n")
    assert "`parse.output...`" in probs[0].message and "its own output" in probs[1].message


def test_references_in_single_line_values_and_expressions(write):
    nodes = (PARSE + slack("a", ["x"]) + slack("side", ["x"]) +
             "- id: c\n  type: Conditional\n  config:\n    condition: ${a.output.ts} == \"1\" AND ${zz.output} == 1\n"
             "- id: h\n  type: HTTP\n  config:\n    url: \"https://x/${side.output.ts}\"\n")
    text, probs = problems(write, nodes, "- from: parse\n  to: [a, side]\n- from: a\n  to: [c, h]\n")
    # `zz` is no node: a path whose root is not a node or `flow` reads the trigger payload (run time);
    # `side` is a node, but not upstream of `h`: reported at the placeholder inside the quoted string
    (p,) = probs
    assert (p.line, p.col) == (line_of(text, "url:"), col_of(text, "${side.output.ts}"))
    assert "`side` is not upstream of `h`" in p.message


def test_expression_reading_a_non_upstream_node(write):
    nodes = PARSE + slack("a", ["x"]) + "- id: c\n  type: Conditional\n  config:\n    condition: ${a.output.ts} == \"1\"\n"
    text, probs = problems(write, nodes, "- from: parse\n  to: [a, c]\n")
    (p,) = probs
    assert (p.line, p.col) == (line_of(text, "condition:"), col_of(text, "${a.output.ts}")) and "`a` is not upstream of `c`" in p.message


def test_malformed_template_is_reported(write):
    nodes = PARSE + slack("b", ["${TITLE"])
    text, probs = problems(write, nodes, "- from: parse\n  to: b\n")
    (p,) = probs
    assert p.line == line_of(text, "${TITLE") and "unclosed" in p.message


def _reads(write, nodes: str, connections: str) -> dict[str, list[str]]:
    from aof_airflow.spec.graph import ancestor_table
    from aof_airflow.spec.references import outputs_read

    res = load_paths([write("flow.yaml", flow_yaml(nodes, connections))])
    assert res.problems == []
    [flow] = res.flows.values()
    return outputs_read(flow, ancestor_table(flow).__getitem__)


def test_a_node_reads_the_outputs_it_names_and_the_flow_variables(write):
    """What a node task pulls from XCom: the nodes named by its templates and conditions, the Transforms."""
    nodes = (PARSE + slack("a", ["first"]) + slack("b", ["${a.output.ts}"]) + slack("c", ["${TITLE}"])
             + "  conditions:\n    - from: b\n      when: a.output.channel == \"#x\"\n" + slack("d", ["${b.output.ts}"]))
    reads = _reads(write, nodes, "- from: parse\n  to: a\n- from: a\n  to: b\n- from: b\n  to: c\n- from: c\n  to: d\n")
    assert reads == {"parse": [], "a": ["parse"], "b": ["parse", "a"], "c": ["parse", "a", "b"], "d": ["parse", "b"]}


def test_the_seed_flow_reads_few_of_its_ancestors():
    from pathlib import Path

    from aof_airflow.spec.graph import ancestor_table
    from aof_airflow.spec.references import outputs_read

    repo = Path(__file__).resolve().parents[3]
    flow = load_paths([repo / "dags/flows", repo / "dags/agents"]).flows["incident-auto-response"]
    reads = outputs_read(flow, ancestor_table(flow).__getitem__)
    assert reads["verify-fix"] == ["parse-alert", "auto-approve", "remediate"]
    assert reads["close-pagerduty"] == ["parse-alert", "auto-approve", "remediate", "remediation-failed"]


def test_a_node_that_decides_a_child_reads_what_the_childs_conditions_read(write):
    """b is c's only upstream and every condition of c reads b: b evaluates them when it ends (and skips c),
    so b pulls what they name (a) although b's own text names nothing."""
    from aof_airflow.spec.graph import decided_children

    nodes = (PARSE + slack("a", ["first"]) + slack("b", ["second"]) + slack("c", ["third"])
             + "  conditions:\n    - from: b\n      when: ${a.output.ts} == \"1\"\n" + slack("d", ["fourth"])
             + "  conditions:\n    - from: b\n      when: true\n    - from: a\n      when: true\n")
    conns = "- from: parse\n  to: a\n- from: a\n  to: b\n- from: b\n  to: c\n- from: b\n  to: d\n"
    reads = _reads(write, nodes, conns)
    assert reads["b"] == ["parse", "a"] and reads["c"] == ["parse", "a", "b"]
    flow = load_paths([write("flow.yaml", flow_yaml(nodes, conns))]).flows["f"]
    # d also reads a, so only d itself can tell: b does not decide it
    assert decided_children(flow) == {"parse": [], "a": [], "b": ["c"], "c": [], "d": []}


def test_the_seed_flow_branches_are_decided_by_their_conditionals():
    from pathlib import Path

    from aof_airflow.spec.graph import decided_children

    repo = Path(__file__).resolve().parents[3]
    flow = load_paths([repo / "dags/flows", repo / "dags/agents"]).flows["incident-auto-response"]
    decides = {k: v for k, v in decided_children(flow).items() if v}
    # remediate (two upstreams), escalate and close-pagerduty (conditions on a node that is not their upstream)
    # check their own conditions when they start
    assert decides == {"check-severity": ["request-approval", "auto-approve"],
                       "remediation-failed": ["rollback", "notify-success"]}


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(["{", "}", "{{", "}}", "$", "${", "a", " ", "\n", "_", ".", "-", "trigger.", "event.",
                                 "steps.n.o", "input.", "variables.x"]), max_size=14).map("".join))
def test_the_older_template_search_finds_what_its_plain_form_finds(text):
    """The `{` of `_OLD_TEMPLATE` comes before its look-behind (for speed); the plain form is the definition."""
    plain = re.compile(r"(?<![$\w{])\{\{?\s*((?:trigger|event|input|steps|variables)\.[A-Za-z0-9_.-]+)\s*\}\}?")
    assert [(m.span(), m.group(1)) for m in _OLD_TEMPLATE.finditer(text)] == \
           [(m.span(), m.group(1)) for m in plain.finditer(text)]
