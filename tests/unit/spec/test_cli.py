"""`aofctl validate`, `flow graph`, `schema`: exit codes and output format, in-process and via the script."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import yaml

from aof_airflow.cli import main

from .spec_helpers import AGENT, flow_yaml, line_of, seed_files

LINE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+):(?P<col>\d+): (?P<msg>.+)$")


def test_validate_seed_exits_0_and_prints_the_warnings(capsys):
    assert main(["validate", "-f", *map(str, seed_files())]) == 0
    out = capsys.readouterr()
    lines = out.out.splitlines()
    assert len(lines) == 2 and all(LINE.match(x) and ": warning: " in x for x in lines)
    assert "valid:" in out.err and "1 flow(s), 3 agent(s)" in out.err


def test_validate_reports_one_line_per_problem_and_exits_1(write, capsys):
    bad = write("bad.yaml", AGENT.format(name="x") + "  instructionz: hi\n---\nkind: Agent\n")
    assert main(["validate", "-f", str(bad)]) == 1
    lines = capsys.readouterr().out.splitlines()
    parsed = [LINE.match(x).groupdict() for x in lines]
    assert [(p["file"], int(p["line"])) for p in parsed] == [(str(bad), 8), (str(bad), 10)]
    assert "unknown key `instructionz`" in parsed[0]["msg"] and "missing `apiVersion`" in parsed[1]["msg"]


def test_validate_resolves_agents_across_files_and_folders(write, tmp_path, capsys):
    flow = write("flows/f.yaml", flow_yaml("- id: a\n  type: Agent\n  config: {agent: helper}\n"))
    write("agents/helper.yaml", AGENT.format(name="helper"))
    assert main(["validate", "-f", str(flow)]) == 1
    assert "agent `helper`, which is not defined" in capsys.readouterr().out
    assert main(["validate", "-f", str(flow), "-f", str(tmp_path / "agents")]) == 0
    assert main(["validate", "-f", str(flow), str(tmp_path / "agents")]) == 0


def test_flow_graph_json_has_the_tutorial_branches(capsys):
    assert main(["flow", "graph", "-f", str(seed_files()[0]), "--json"]) == 0
    graph = json.loads(capsys.readouterr().out)
    assert graph["flow"] == "incident-auto-response"
    nodes = {n["id"]: n for n in graph["nodes"]}
    assert len(nodes) == 14 and set(graph["nodes"][0]) == {"id", "type", "upstream"}
    assert nodes["request-approval"]["upstream"] == ["check-severity"]
    assert nodes["auto-approve"]["upstream"] == ["check-severity"]
    assert nodes["rollback"]["upstream"] == ["remediation-failed"]
    assert nodes["notify-success"]["upstream"] == ["remediation-failed"]
    assert nodes["remediate"] == {"id": "remediate", "type": "Agent", "upstream": ["request-approval", "auto-approve"]}
    order = [n["id"] for n in graph["nodes"]]
    assert all(order.index(u) < order.index(n["id"]) for n in graph["nodes"] for u in n["upstream"])


def test_flow_graph_tree_and_agent_check_when_agents_given(write, capsys):
    assert main(["flow", "graph", "-f", *map(str, seed_files())]) == 0
    tree = capsys.readouterr().out
    assert tree.splitlines()[0] == "incident-auto-response"
    assert "remediate (joins; see above)" in tree and "[Agent: incident-remediation]" in tree
    text = flow_yaml("- id: a\n  type: Agent\n  config: {agent: missing}\n")
    f = write("f.yaml", text)
    assert main(["flow", "graph", "-f", str(f)]) == 0  # no agent files given: names not checked
    capsys.readouterr()
    assert main(["flow", "graph", "-f", str(f), "-f", str(write("a.yaml", AGENT.format(name="other")))]) == 1
    err = capsys.readouterr().err
    assert f"{f}:{line_of(text, 'agent: missing')}:" in err


def test_flow_graph_refuses_a_cycle(write, capsys):
    t = "- id: {0}\n  type: Transform\n  config: {{script: 'true'}}\n"
    f = write("f.yaml", flow_yaml(t.format("a") + t.format("b"), "- from: a\n  to: b\n- from: b\n  to: a\n"))
    assert main(["flow", "graph", "-f", str(f), "--json"]) == 1
    out = capsys.readouterr()
    assert out.out == "" and "cycle: a -> b -> a" in out.err


def test_schema_command_and_seed_documents_conform(capsys):
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    validator = jsonschema.Draft202012Validator(schema)
    for f in seed_files():
        doc = yaml.safe_load(f.read_text())  # PyYAML keeps the last `to:`; shape is what matters here
        assert list(validator.iter_errors(doc)) == [], f
    assert list(validator.iter_errors({"apiVersion": "aof.dev/v1", "kind": "Agent", "metadata": {"name": "x"},
                                       "spec": {"model": "openai:gpt-4", "instructions": "i", "typo": 1}}))
    assert main(["schema", "--kind", "Agent"]) == 0
    agent_schema = json.loads(capsys.readouterr().out)
    assert agent_schema["title"] == "Agent" and "model_config" in json.dumps(agent_schema)


def test_installed_console_script(tmp_path):
    script = Path(sys.executable).with_name("aofctl")
    exe = str(script) if script.exists() else shutil.which("aofctl")
    assert exe, "aofctl console script is not installed"
    ok = subprocess.run([exe, "validate", "-f", *map(str, seed_files())], capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert len(ok.stdout.splitlines()) == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: aof.dev/v1\nkind: Agent\nmetadata: {name: x}\nspec: {model: gpt4, instructions: i}\n")
    res = subprocess.run([exe, "validate", "-f", str(bad)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 1
    assert res.stdout.startswith(f"{bad}:4:15: ") and "spec.model" in res.stdout
