"""Post-incident Markdown from JSON records: every number counted from the records."""

from __future__ import annotations

import json

from aof_airflow.agent.rules import report as rp

RECORDS = [
    {"incident_id": "TEST001", "title": "High memory usage on api-deployment", "severity": "high",
     "root_cause": "[builtin:k8s-rules: ...] oom-killed: container api is OOMKilled", "remediation": "kubectl rollout restart deployment/api",
     "result": "success", "duration_seconds": 95, "auto_resolved": True, "timestamp": "2026-11-20T10:00:00Z", "service": "api"},
    {"incident_id": "TEST002", "title": "Database connection failures", "severity": "critical",
     "root_cause": "postgres pods in CrashLoopBackOff", "remediation": "none: manual", "result": "failed",
     "duration_seconds": 600, "auto_resolved": False, "timestamp": "2026-11-19T08:00:00Z", "service": "postgres"},
    {"incident_id": "TEST003", "title": "api OOM again", "severity": "high", "root_cause": "OOMKilled (exit 137)",
     "remediation": "kubectl rollout restart deployment/api", "result": "success", "duration_seconds": 65,
     "timestamp": "2026-11-21T10:00:00Z", "service": "api"},
]


def test_records_are_extracted_from_prose_and_arrays() -> None:
    prompt = f"Analyse these incidents:\n{json.dumps(RECORDS[:2])}\nand also {json.dumps(RECORDS[2])} thanks {{not json}}"
    assert [r["incident_id"] for r in rp.extract_records(prompt)] == ["TEST001", "TEST002", "TEST003"]


def test_report_sections_and_counts() -> None:
    md = rp.build(RECORDS)
    for section in ("## Timeline", "## Root causes", "## Remediation effectiveness", "## Recommendations"):
        assert section in md
    assert "builtin:k8s-rules" in md
    assert "Remediation succeeded: 2/3 (66%)" in md
    assert "### oom-killed (2)" in md and "### crash-loop (1)" in md
    assert "| rollout restart | 2 | 2 | 100% |" in md
    assert md.index("TEST002") < md.index("TEST001 ")  # timeline sorted by time
    assert "api (2)" in md and "Review the failed automatic remediations" in md


def test_no_records_says_so() -> None:
    assert "No incident records" in rp.build([])
