"""The tutorial's four YAML files load as written, and their graph is the one the tutorial draws."""

from __future__ import annotations

from aof_airflow.spec.graph import ancestors, topological_order
from aof_airflow.spec.loader import load_paths
from aof_airflow.spec.models import AgentNode, ConditionalNode

from .spec_helpers import SEED_FLOW, line_of, seed_files

FLOW = "incident-auto-response"


def _load():
    return load_paths(seed_files())


def test_all_four_seed_files_validate():
    r = _load()
    assert r.problems == [], "\n".join(map(str, r.problems))
    assert r.ok
    assert set(r.flows) == {FLOW}
    assert set(r.agents) == {"incident-diagnostic", "incident-remediation", "post-incident-analyzer"}
    r.raise_for_problems()  # no exception


def test_seed_flow_has_fourteen_nodes_and_the_tutorial_branches():
    flow = _load().flows[FLOW]
    assert len(flow.spec.nodes) == 14
    up = flow.upstream()
    assert "check-severity" in up["request-approval"] and "check-severity" in up["auto-approve"]
    assert "remediation-failed" in up["rollback"] and "remediation-failed" in up["notify-success"]
    assert up["remediate"] == ["request-approval", "auto-approve"]
    order = topological_order(flow)
    assert order[0] == "parse-alert" and order[-1] in {"escalate", "log-incident"}
    assert set(ancestors(flow, "escalate")) >= {"remediation-failed", "rollback", "check-severity"}


def test_seed_values_keep_their_yaml_meaning():
    flow = _load().flows[FLOW]
    assert flow.spec.trigger.config.auth.token == "${PAGERDUTY_WEBHOOK_TOKEN}"  # resolved at run time
    rollback = flow.node("rollback")
    assert rollback.conditions[0].when == "true"  # YAML bool true -> condition text
    assert flow.node("notify-success").conditions[0].when == "false"
    assert isinstance(flow.node("check-severity"), ConditionalNode)
    assert isinstance(flow.node("diagnose"), AgentNode) and flow.node("diagnose").config.agent == "incident-diagnostic"


def test_repeated_to_is_a_fan_out_warning_at_the_second_key():
    r = _load()
    flow_file = seed_files()[0]
    text = flow_file.read_text()
    lines = text.splitlines()
    first_fan = line_of(text, "from: check-severity", nth=-1) + 2  # `to: request-approval` then `to: auto-approve`
    second_fan = line_of(text, "from: remediation-failed", nth=-1) + 2
    assert lines[first_fan - 1].strip() == "to: auto-approve"
    assert lines[second_fan - 1].strip() == "to: notify-success"
    assert [(w.file, w.line, w.col) for w in r.warnings] == [(str(flow_file), first_fan, 7), (str(flow_file), second_fan, 7)]
    assert all(w.severity == "warning" and "fan-out" in w.message for w in r.warnings)
    assert str(r.warnings[0]).startswith(f"{flow_file}:{first_fan}:7: warning: ")


def test_positions_point_into_the_seed_file():
    r = _load()
    text = seed_files()[0].read_text()
    assert r.source(FLOW).name == SEED_FLOW
    idx = [n.id for n in r.flows[FLOW].spec.nodes].index("check-severity")
    assert r.position(FLOW, ("spec", "nodes", idx, "id")) == (line_of(text, "- id: check-severity"), 11)
    assert r.position("incident-diagnostic", ("spec", "model_config", "temperature"))[0] == line_of(
        seed_files()[1].read_text(), "temperature: 0.2")
