"""Memory: a second run for the same service sees the first run's summary (SQLite and the metadata DB)."""

from __future__ import annotations

import json

import pytest

from aof_airflow.agent.runtime import run_agent
from aof_airflow.agent.types import AgentScope
from tests.unit.agent.helpers import make_agent, seed_agent

FIRST = {
    "severity": "high", "root_cause": "OOMKilled after the 2.3 release", "affected_components": ["checkout-7d9f"],
    "impact": "5% of checkouts fail", "recommended_action": "raise memory limit to 1Gi", "requires_approval": False,
    "confidence": 0.9,
}


def _agent(memory_type: str):
    seed = seed_agent("diagnostic")
    memory = {"type": memory_type, "config": {"path": "./incident-diagnostics.db"} if memory_type == "SQLite" else {}}
    return make_agent(name="incident-diagnostic", instructions=seed.spec.instructions, memory=memory)


@pytest.mark.parametrize("memory_type", ["SQLite", "Airflow"])
def test_second_run_for_the_same_service_sees_the_first(memory_type, llm, isolated):
    agent = _agent(memory_type)
    llm.reply("INC-1", FIRST)
    llm.reply("INC-2", {**FIRST, "root_cause": "same OOM again"})
    llm.reply("INC-3", {**FIRST, "root_cause": "disk full"})
    run_agent(agent, "Incident INC-1 on checkout", scope=AgentScope(service="checkout", incident_id="INC-1", namespace="prod"))
    assert "Past incidents" not in json.dumps(llm.requests[0])
    run_agent(agent, "Incident INC-2 on checkout", scope=AgentScope(service="checkout", incident_id="INC-2", namespace="prod"))
    second = json.dumps(llm.requests[1])
    assert "Past incidents of service checkout" in second
    assert "OOMKilled after the 2.3 release" in second and "raise memory limit to 1Gi" in second
    run_agent(agent, "Incident INC-3 on payments", scope=AgentScope(service="payments", incident_id="INC-3", namespace="prod"))
    assert "Past incidents" not in json.dumps(llm.requests[2])  # another service's history is not offered
    if memory_type == "SQLite":  # the seed's relative path, under the configured memory_dir
        assert (isolated / "memory" / "incident-diagnostics.db").exists()


def test_only_the_most_recent_entries_are_offered(llm):
    agent = make_agent(name="m", memory={"type": "SQLite", "config": {"path": "m.db", "max_entries": 2}},
                       instructions=seed_agent("diagnostic").spec.instructions)
    for i in range(4):
        llm.reply(f"alert number {i}", {**FIRST, "root_cause": f"cause number {i}"})
    for i in range(4):
        run_agent(agent, f"alert number {i}", scope=AgentScope(service="checkout", incident_id=f"INC-{i}"))
    last = json.dumps(llm.requests[3])
    assert "cause number 2" in last and "cause number 1" in last and "cause number 0" not in last
