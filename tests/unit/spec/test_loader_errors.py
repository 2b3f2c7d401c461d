"""Each class of loader error is reported at the exact line and column of the offending YAML."""

from __future__ import annotations

import pytest

from aof_airflow.spec.loader import clear_cache, load_paths, load_text
from aof_airflow.spec.problems import Problem, SpecError

from .spec_helpers import AGENT, flow_yaml, line_of

TRANSFORM = """
- id: a
  type: Transform
  config:
    script: export X=1
"""


def only(result) -> Problem:
    assert len(result.problems) == 1, "\n".join(map(str, result.problems))
    return result.problems[0]


def test_problem_format():
    assert str(Problem("f.yaml", 3, 5, "boom")) == "f.yaml:3:5: boom"
    assert str(Problem("f.yaml", 3, 5, "hm", "warning")) == "f.yaml:3:5: warning: hm"


def test_unknown_key_names_it_and_suggests(write):
    p = write("a.yaml", AGENT.format(name="x") + "  modle_config:\n    temperature: 0.1\n")
    prob = only(load_paths([p]))
    assert (prob.file, prob.line, prob.col) == (str(p), 8, 3)
    assert "unknown key `modle_config`" in prob.message and "did you mean `model_config`?" in prob.message


def test_unknown_key_deep_in_a_node(write):
    text = flow_yaml("""
    - id: a
      type: Slack
      config:
        channel: "#x"
        mesage: hi
    """)
    p = write("f.yaml", text)
    probs = load_paths([p]).problems
    unknown = [x for x in probs if "unknown key" in x.message]
    assert [(x.line, x.col) for x in unknown] == [(line_of(text, "mesage:"), 9)]
    assert "`mesage`" in unknown[0].message and "`message`" in unknown[0].message and "node `a`" in unknown[0].message
    missing = [x for x in probs if "missing required key `message`" in x.message]
    assert missing and missing[0].line == line_of(text, 'channel: "#x"')  # the config mapping starts there


def test_unknown_key_without_near_match_lists_known_keys(write):
    p = write("a.yaml", AGENT.format(name="x") + "  zzzzzz: 1\n")
    prob = only(load_paths([p]))
    assert "known: " in prob.message and "instructions" in prob.message


def test_other_duplicate_key_is_an_error_at_the_second_key(write):
    text = AGENT.format(name="x") + "  model: anthropic:claude\n"
    p = write("a.yaml", text)
    prob = only(load_paths([p]))
    assert (prob.line, prob.col) == (8, 3)
    assert "duplicate key `model` (first at line 6)" in prob.message


def test_duplicate_from_inside_a_connection_is_an_error_not_a_fan_out(write):
    text = flow_yaml(TRANSFORM + "- id: b\n  type: Transform\n  config: {script: 'true'}\n",
                     "- from: a\n  from: b\n  to: b\n")
    p = write("f.yaml", text)
    r = load_paths([p])
    prob = only(r)
    assert prob.line == line_of(text, "from: b") and "duplicate key `from`" in prob.message
    assert r.warnings == []


def test_repeated_to_with_lists_fans_out_in_order(write):
    nodes = TRANSFORM + "".join(f"- id: {n}\n  type: Transform\n  config: {{script: 'true'}}\n" for n in "bcd")
    text = flow_yaml(nodes, "- from: a\n  to: b\n  to: [c, d]\n")
    r = load_paths([write("f.yaml", text)])
    assert r.ok, r.problems
    assert r.flows["f"].spec.connections[0].to == ["b", "c", "d"]
    assert [w.line for w in r.warnings] == [line_of(text, "to: [c, d]")]
    # every fanned-out target keeps its own position
    assert r.position("f", ("spec", "connections", 0, "to", 2)) == (line_of(text, "to: [c, d]"), 15)
    assert r.position("f", ("spec", "connections", 0, "to", 0)) == (line_of(text, "to: b"), 11)


def test_missing_api_version(write):
    p = write("a.yaml", "kind: Agent\nmetadata: {name: x}\nspec: {model: 'openai:gpt-4', instructions: hi}\n")
    prob = only(load_paths([p]))
    assert (prob.line, prob.col) == (1, 1)
    assert "missing `apiVersion`" in prob.message and "aof.dev/v1" in prob.message


def test_wrong_api_version_points_at_the_value(write):
    p = write("a.yaml", AGENT.format(name="x").replace("aof.dev/v1", "aof.dev/v2"))
    prob = only(load_paths([p]))
    assert (prob.line, prob.col) == (1, 13)
    assert "'aof.dev/v2'" in prob.message and "aof.dev/v1" in prob.message


def test_missing_and_unknown_kind(write):
    p = write("a.yaml", AGENT.format(name="x").replace("kind: Agent\n", ""))
    assert "missing `kind`" in only(load_paths([p])).message
    p = write("b.yaml", AGENT.format(name="x").replace("kind: Agent", "kind: AgentFlo"))
    prob = only(load_paths([p]))
    assert (prob.line, prob.col) == (2, 7) and "did you mean `AgentFlow`?" in prob.message


def test_unknown_node_type_suggests(write):
    text = flow_yaml("- id: a\n  type: Slak\n  config: {channel: x, message: y}\n")
    prob = only(load_paths([write("f.yaml", text)]))
    assert (prob.line, prob.col) == (line_of(text, "type: Slak"), 13)
    assert "unknown type `Slak`" in prob.message and "`Slack`" in prob.message


def test_wrong_value_type_points_at_the_value_and_hints_quotes(write):
    text = flow_yaml("- id: a\n  type: Slack\n  config:\n    channel: 12\n    message: hi\n")
    prob = only(load_paths([write("f.yaml", text)]))
    assert (prob.line, prob.col) == (line_of(text, "channel: 12"), 18)
    assert "config.channel" in prob.message and "quotes" in prob.message


def test_model_validator_error_is_located_at_the_config(write):
    text = flow_yaml("- id: c\n  type: Conditional\n  config:\n    condition: a == 1\n    conditions: []\n")
    prob = only(load_paths([write("f.yaml", text)]))
    assert prob.line == line_of(text, "condition: a == 1") and "exactly one of" in prob.message


def test_yaml_syntax_error_has_its_line(write):
    p = write("a.yaml", "apiVersion: aof.dev/v1\nkind: Agent\nmetadata:\n  name: [x\n")
    prob = only(load_paths([p]))
    assert prob.message.startswith("YAML syntax error") and prob.line >= 4


def test_non_string_key_is_an_error(write):
    p = write("a.yaml", AGENT.format(name="x").replace("metadata:\n", "metadata:\n  labels: {1: a}\n"))
    prob = only(load_paths([p]))
    assert prob.line == 4 and "not a string" in prob.message


def test_multi_document_file_and_agents_resolved_across_files(write):
    text = AGENT.format(name="one") + "---\n" + AGENT.format(name="two") + "---\n"
    p = write("agents.yaml", text)
    flow = write("flow.yaml", flow_yaml("- id: a\n  type: Agent\n  config: {agent: two}\n"))
    r = load_paths([flow, p])
    assert r.ok, r.problems
    assert set(r.agents) == {"one", "two"}
    assert r.position("two", ("metadata", "name")) == (line_of(text, "name: two"), 9)


def test_errors_in_a_later_document_carry_lines_of_the_whole_file(write):
    text = AGENT.format(name="one") + "---\n" + AGENT.format(name="two") + "  max_stepz: 3\n"
    prob = only(load_paths([write("a.yaml", text)]))
    assert prob.line == line_of(text, "max_stepz") and "`max_steps`" in prob.message


def test_same_name_defined_twice(write):
    a = write("a.yaml", AGENT.format(name="x"))
    b = write("b.yaml", AGENT.format(name="x"))
    prob = only(load_paths([a, b]))
    assert prob.file == str(b) and prob.line == 4 and "defined twice" in prob.message and str(a) in prob.message


def test_directories_missing_paths_and_spec_error(write, tmp_path):
    write("d/one.yaml", AGENT.format(name="one"))
    write("d/sub/two.yml", AGENT.format(name="two"))
    write("d/readme.txt", "not yaml: [")
    r = load_paths([tmp_path / "d", tmp_path / "nope.yaml"])
    assert set(r.agents) == {"one", "two"}
    prob = only(r)
    assert prob.message == "no such file or directory"
    with pytest.raises(SpecError) as exc:
        r.raise_for_problems()
    assert str(exc.value) == str(prob)


def test_spec_error_lists_every_problem(write):
    text = AGENT.format(name="x") + "  foo: 1\n  bar: 2\n"
    r = load_paths([write("a.yaml", text)])
    with pytest.raises(SpecError) as exc:
        r.raise_for_problems()
    assert str(exc.value).splitlines() == [str(p) for p in r.problems] and len(r.problems) == 2


def test_load_text_is_cached_by_name_and_content():
    clear_cache()
    text = AGENT.format(name="x")
    first = load_text(text, "a.yaml")
    assert load_text(text, "a.yaml") is first
    assert load_text(text, "b.yaml") is not first
    changed = load_text(text.replace("do things", "other"), "a.yaml")
    assert changed is not first and changed.documents[0].model.spec.instructions == "other"


def test_yaml_anchors_and_merge_keys(write):
    text = AGENT.format(name="x") + (
        "  tools:\n"
        "    - &sh {type: Shell, config: {allowed_commands: [kubectl]}}\n"
        "    - *sh\n")
    r = load_paths([write("a.yaml", text)])
    assert r.ok, r.problems
    assert len(r.agents["x"].spec.tools) == 2
    merged = "x: &base {temperature: 0.5, max_tokens: 10}\n" + AGENT.format(name="m").replace(
        "spec:\n", "spec:\n  model_config:\n    <<: *base\n    max_tokens: 20\n")
    # `x` is not a document key: report it, but the merge itself worked
    r = load_paths([write("m.yaml", merged)])
    assert [p.message.split(";")[0] for p in r.problems] == ["unknown key `x` in document"]


def test_pattern_errors_explain_the_expected_form(write):
    p = write("a.yaml", AGENT.format(name="x").replace("openai:gpt-4", "gpt4"))
    prob = only(load_paths([p]))
    assert (prob.line, prob.col) == (6, 10) and "'gpt4'" in prob.message and "provider:model" in prob.message
