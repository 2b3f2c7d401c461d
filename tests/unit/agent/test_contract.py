"""The output contract read from the seed's "Output format" blocks, and answers checked against it."""

from __future__ import annotations

from aof_airflow.agent import contract
from tests.unit.agent.helpers import seed_agent


def test_seed_contracts_are_read():
    diag = contract.parse(seed_agent("diagnostic").spec.instructions)
    assert list(diag.fields) == ["severity", "root_cause", "affected_components", "impact", "recommended_action",
                                 "requires_approval", "confidence"]
    assert diag.fields["severity"].choices == ("critical", "high", "medium", "low")
    assert diag.fields["requires_approval"].kind == "bool"
    assert (diag.fields["confidence"].low, diag.fields["confidence"].high) == (0.0, 1.0)
    rem = contract.parse(seed_agent("remediation").spec.instructions)
    assert rem.fields["result"].choices == ("success", "failed", "partial")
    assert contract.parse(seed_agent("post-incident").spec.instructions) is None


def test_extraction_plain_fenced_and_in_prose():
    c = contract.parse(seed_agent("remediation").spec.instructions)
    obj = {"action_taken": "kubectl rollout restart deployment/api", "result": "success", "verification": "ok",
           "rollback_needed": False, "logs": "restarted"}
    import json

    text = json.dumps(obj)
    for answer in (text, f"```json\n{text}\n```", f"I restarted it.\n{text}\nAll good {{not json}}"):
        assert contract.check_answer(answer, c) == (obj, [])


def test_violations_are_named():
    c = contract.parse(seed_agent("diagnostic").spec.instructions)
    obj, problems = c.check({"severity": "urgent", "requires_approval": "maybe", "confidence": 1.5})
    assert obj is None
    text = " ".join(problems)
    assert "'severity' must be one of critical|high|medium|low" in text
    assert "'requires_approval' must be true or false" in text
    assert "'confidence' must be a number from 0.0 to 1.0" in text
    assert "missing field 'root_cause'" in text


def test_normalisation_of_case_and_boolean_strings():
    c = contract.parse(seed_agent("diagnostic").spec.instructions)
    base = {"severity": "Critical", "root_cause": "x", "affected_components": [], "impact": "i",
            "recommended_action": "r", "requires_approval": "TRUE", "confidence": 1}
    obj, problems = c.check(base)
    assert problems == [] and obj["severity"] == "critical" and obj["requires_approval"] is True
