"""A hand-computed set of incident records (see test_metrics.py for the numbers worked out by hand)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from aof_airflow.incidents.records import IncidentRecord

FLOW = "incident-auto-response"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)


def rec(i: int, result: str, severity: str, duration: float, *, approval: str = "auto", wait: float = 0.0,
        escalated: bool = False, state: str = "success", flow: str = FLOW, hours_ago: float = 1.0,
        tokens: tuple[int, int] = (1000, 200)) -> IncidentRecord:
    end = NOW - timedelta(hours=hours_ago)
    return IncidentRecord(
        dag_id=flow, run_id=f"run-{i}", result=result, run_state=state, incident_id=f"INC{i:03d}",
        title=f"incident {i}", service="API Service", severity=severity, root_cause=f"cause {i}",
        approval={"outcome": approval, "by": "auto-approve" if approval == "auto" else "U0SRE",
                  "wait_seconds": wait, "node": "request-approval"},
        escalated=escalated, failed_node="remediate" if result == "failed" else None,
        usage={"input_tokens": tokens[0], "output_tokens": tokens[1], "calls": 2},
        started_at=end - timedelta(seconds=duration), ended_at=end, duration_seconds=duration, recorded_at=end,
    )


def records() -> list[IncidentRecord]:
    return [
        rec(1, "auto_resolved", "high", 120),
        rec(2, "auto_resolved", "high", 300),
        rec(3, "auto_resolved", "critical", 600, approval="approved", wait=90),
        rec(4, "auto_resolved", "high", 60),
        rec(5, "escalated", "critical", 900, approval="approved", wait=30, escalated=True),
        rec(6, "skipped_at_approval", "critical", 700, approval="skipped", wait=600),
        rec(7, "failed", "high", 45, escalated=True, state="failed"),
        rec(8, "timed_out", "medium", 1800, escalated=True, state="failed"),
        # outside a 7-day window, and another flow: neither may count
        rec(9, "failed", "low", 10, escalated=True, state="failed", hours_ago=24 * 8),
        rec(10, "auto_resolved", "low", 5, flow="other-flow"),
    ]


# Worked out by hand for FLOW over the 7 days before NOW (records 1-8):
EXPECTED = {
    "runs": 8,
    "results": {"auto_resolved": 4, "escalated": 1, "failed": 1, "skipped_at_approval": 1, "timed_out": 1},
    "success_rate": 0.75,  # 6 of 8 finished in state success (7 failed in a node, 8 timed out)
    "auto_resolved_rate": 0.5,  # 4 of 8
    "escalation_rate": 0.375,  # 5, 7, 8
    # human approvals: waits 90, 30, 600 -> sorted 30, 90, 600: median 90; p90 rank ceil(2.7)=3 -> 600
    "approval_wait": {"count": 3, "median": 90.0, "p90": 600.0, "max": 600.0},
    # auto-resolved durations: high 120, 300, 60 -> median 120, p90 rank 3 -> 300; critical 600
    "mttr_high": {"count": 3, "median": 120.0, "p90": 300.0, "max": 300.0},
    "mttr_critical": {"count": 1, "median": 600.0, "p90": 600.0, "max": 600.0},
    # all: 60, 120, 300, 600 -> median (120+300)/2 = 210; p90 rank ceil(3.6)=4 -> 600
    "mttr_all": {"count": 4, "median": 210.0, "p90": 600.0, "max": 600.0},
    "tokens": {"input": 8000, "output": 1600},
}
