"""Scenario files are data checked by a schema, so another engineer's scenarios fail loudly when wrong."""

from __future__ import annotations

import copy

import pytest
import yaml
from pydantic import ValidationError

from aof_lab.sandbox.scenario import SCENARIO_DIR, Scenario, load_scenario, scenario_names

DEMO = ("high-memory-api", "postgres-replicas-failing", "remediation-fails-verification")


def test_demo_scenarios_exist_and_load():
    assert set(DEMO) <= set(scenario_names())
    for name in scenario_names():
        sc = load_scenario(name)
        assert sc.name == name and sc.expect.actions


def test_tutorial_payload_shape():
    p = load_scenario("high-memory-api").payload()["event"]["incident"]
    assert (p["id"], p["custom_details"]) == ("TEST001", {"namespace": "production", "resource": "deployment/api"})
    p2 = load_scenario("postgres-replicas-failing").payload()["event"]["incident"]
    assert p2["id"] == "TEST002" and p2["custom_details"]["resource"] == "statefulset/postgres"


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["objects"][1].update(kind="Gadget"), "not one the sandbox serves"),
    (lambda d: d["incident"].update(resource="deployment/nope"), "is not among objects"),
    (lambda d: d["expect"].update(actions=["reboot-the-world"]), "actions"),
    (lambda d: d["on_action"].update({"rollout-restart": "maybe"}), "on_action"),
    (lambda d: d["logs"].update({"just-a-pod": "x"}), "logs key"),
    (lambda d: d.update(surprise=1), "surprise"),
])
def test_bad_scenarios_are_rejected(mutate, message):
    data = yaml.safe_load((SCENARIO_DIR / "high-memory-api.yaml").read_text())
    bad = copy.deepcopy(data)
    mutate(bad)
    with pytest.raises(ValidationError, match=message):
        Scenario.model_validate(bad)
    Scenario.model_validate(data)
