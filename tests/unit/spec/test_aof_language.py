"""AOF's v1 language beyond the tutorial: every form is read, and every mistake is an error at its line."""

from __future__ import annotations

import textwrap

import pytest

from aof_airflow.spec.loader import load_text
from aof_airflow.spec.models import MCPTool, ShellTool

from .spec_helpers import line_of


def flow(nodes: str, connections: str = "", spec_extra: str = "", api: str = "aof.dev/v1") -> str:
    text = f"apiVersion: {api}\nkind: AgentFlow\nmetadata:\n  name: f\nspec:\n"
    if spec_extra:
        text += textwrap.indent(textwrap.dedent(spec_extra).strip("\n"), "  ") + "\n"
    text += "  nodes:\n" + textwrap.indent(textwrap.dedent(nodes).strip("\n"), "    ") + "\n"
    if connections:
        text += "  connections:\n" + textwrap.indent(textwrap.dedent(connections).strip("\n"), "    ") + "\n"
    return text


def problems(text: str) -> list:
    from aof_airflow.spec.graph import check_flow

    parsed = load_text(text, "f.yaml")
    out = list(parsed.problems)
    for d in parsed.documents:
        if d.kind == "AgentFlow":
            out += check_flow(d.model, agents=set(), locate=d.locate, locate_in=d.locate_in, file="f.yaml")
    return out


START = """
- from: start
  to: a
"""


def test_a_conditional_that_does_not_parse_fails_validation_at_its_line():
    text = flow("""
        - id: a
          type: Conditional
          config:
            condition: '${event.x} == == "1"'
        """, START)
    [p] = problems(text)
    assert p.line == line_of(text, "condition:") and "node `a`" in p.message and "==" in p.message


def test_every_when_is_parsed_at_validation_time():
    text = flow("""
        - id: a
          type: Conditional
          config: {condition: "${event.x} == 1"}
        - id: b
          type: End
        - id: c
          type: End
          conditions:
            - from: a
              when: "true AND"
        """, START + "- from: a\n  to: b\n  when: x ==\n- from: a\n  to: c\n")
    msgs = {p.line: p.message for p in problems(text)}
    assert line_of(text, "when: x ==") in msgs and "connection from `a`" in msgs[line_of(text, "when: x ==")]
    assert line_of(text, 'when: "true AND"') in msgs


def test_an_empty_file_says_so():
    [p] = load_text("# nothing here\n", "e.yaml").problems
    assert (p.line, p.col) == (1, 1) and "empty" in p.message


def test_another_aof_kind_gets_no_did_you_mean():
    [p] = load_text("apiVersion: aof.dev/v1\nkind: AgentFleet\nmetadata: {name: x}\nspec: {}\n", "x.yaml").problems
    assert "AgentFleet" in p.message and "did you mean" not in p.message and "Agent and AgentFlow" in p.message


def test_start_is_the_entry_and_trigger_is_read_as_start_with_a_warning():
    assert problems(flow("- id: a\n  type: End\n", START)) == []
    parsed = load_text(flow("- id: a\n  type: End\n", "- from: trigger\n  to: a\n"), "f.yaml")
    assert not parsed.problems and any("from: start" in w.message for w in parsed.warnings)


def test_previous_needs_exactly_one_node_connected_into_the_reader():
    one = flow("""
        - id: a
          type: Transform
          config: {script: "echo"}
        - id: b
          type: End
          config: {message: "${previous.output}"}
        """, START + "- from: a\n  to: b\n")
    assert problems(one) == []
    two = flow("""
        - id: a
          type: End
        - id: a2
          type: End
        - id: b
          type: End
          config: {message: "${previous.output}"}
        """, "- from: start\n  to: [a, a2]\n- from: a\n  to: b\n- from: a2\n  to: b\n")
    [p] = problems(two)
    assert "`previous`" in p.message and "`a`, `a2`" in p.message


def test_context_references_are_checked_against_spec_context():
    text = flow("""
        - id: a
          type: Script
          config:
            scriptConfig:
              command: "kubectl get pods -n ${context.namespace} ${context.env.MODE} ${CHECK_NS} ${context.nmspace}"
        """, START, spec_extra="context:\n  namespace: prod\n  env: {MODE: fast, CHECK_NS: default}\n")
    [p] = problems(text)
    assert "context.nmspace" in p.message and "did you mean `namespace`?" in p.message


def test_aofs_older_template_form_points_at_the_event_form():
    text = flow("- id: a\n  type: End\n  config: {message: 'hi {{trigger.body.message}}'}\n", START)
    [p] = problems(text)
    assert "${event.body.message}" in p.message
    # a Go template in a command is not mistaken for one
    ok = flow("- id: a\n  type: Script\n  config:\n    scriptConfig: {command: 'docker ps --format \"{{json .}}\"'}\n", START)
    assert problems(ok) == []


def test_api_version_variants_with_the_v1_schema_are_read_with_a_warning_older_schemas_are_an_error():
    parsed = load_text(flow("- id: a\n  type: End\n", START, api="aof.dev/v1alpha1"), "f.yaml")
    assert not parsed.problems and "read as aof.dev/v1" in parsed.warnings[0].message
    older = "apiVersion: aof.sh/v1alpha1\nkind: AgentFlow\nmetadata: {name: x}\nsteps:\n  - name: a\n"
    [p] = load_text(older, "o.yaml").problems
    assert p.line == 1 and "older AOF schema" in p.message and "`steps`" in p.message


def test_a_node_type_aof_has_but_we_cannot_run_names_the_supported_types():
    [p] = problems(flow("- id: a\n  type: Fleet\n  config: {fleet: rca}\n", START))
    assert "cannot run it" in p.message and "Script" in p.message and p.line == 8  # the `type:` line


def test_script_tools_and_their_args_are_checked():
    bad = flow("""
        - id: a
          type: Script
          config:
            scriptConfig: {tool: kubectl, action: get, args: {namespace: x}}
        - id: b
          type: Script
          config:
            scriptConfig: {tool: terraform, action: plan}
        """, "- from: start\n  to: [a, b]\n")
    msgs = [p.message for p in problems(bad)]
    assert any("needs args: resource" in m for m in msgs) and any("unknown Script tool `terraform`" in m for m in msgs)


@pytest.mark.parametrize("config, needle", [
    ("{channel: '', message: hi}", "channel"),
    ("{channel: '#x', message: hi, timeout_seconds: 99999999}", "timeout_seconds"),
])
def test_empty_channels_and_absurd_numbers_are_errors(config, needle):
    [p] = problems(flow(f"- id: a\n  type: Slack\n  config: {config}\n", START))
    assert needle in p.message


def test_conditions_in_aofs_forms_and_connection_conditions():
    text = flow("""
        - id: ok
          type: Approval
          config: {message: "go?"}
        - id: go
          type: End
          conditions: [{from: ok, reaction: white_check_mark}]
        - id: check
          type: Conditional
          config: {condition: "1 == 1"}
        - id: pass
          type: End
          conditions: [{from: check, value: true}]
        - id: skip
          type: End
        """, "- from: start\n  to: [ok, check]\n- from: ok\n  to: go\n- from: check\n  to: pass\n"
             "- from: check\n  to: skip\n  condition: 'false'\n")
    assert problems(text) == []
    from aof_airflow.spec.graph import decided_children, effective_conditions

    f = load_text(text, "f.yaml").documents[0].model
    conds = effective_conditions(f)
    assert conds["skip"][0].from_ == "check" and conds["skip"][0].when == "false"
    assert decided_children(f)["check"] == ["pass", "skip"]


def test_error_handler_must_be_a_node_without_connections_into_it():
    [p] = problems(flow("- id: a\n  type: End\n", START, spec_extra="config:\n  error_handler: oops\n"))
    assert "error handler `oops`" in p.message


def test_aofs_agent_spellings():
    text = textwrap.dedent("""
        apiVersion: aof.sh/v1alpha1
        kind: Agent
        metadata: {name: a}
        spec:
          model: google:gemini-2.5-flash
          system_prompt: be brief
          temperature: 0.2
          max_tokens: 500
          max_iterations: 4
          tools: [kubectl, helm, shell, read_file]
          mcp_servers:
            - {name: fs, command: npx, args: [-y, server-fs]}
          environment: {A: b}
        """)
    parsed = load_text(text, "a.yaml")
    assert not parsed.problems, parsed.problems
    spec = parsed.documents[0].model.spec
    assert spec.instructions == "be brief" and spec.model_settings.temperature == 0.2 and spec.max_steps == 4
    shell = [t for t in spec.tools if isinstance(t, ShellTool)]
    assert [t.config.allowed_commands for t in shell] == [["kubectl", "helm"]]
    assert [t.config.command for t in spec.tools if isinstance(t, MCPTool)] == [["npx", "-y", "server-fs"]]
    warned = " ".join(w.message for w in parsed.warnings)
    assert "`shell`" in warned and "`read_file`" in warned and "`environment`" in warned and "aof.sh/v1alpha1" in warned
    typo = load_text(text.replace("environment", "temprature"), "b.yaml").problems
    assert typo and "temprature" in typo[0].message  # a typo is still an error
