"""Pods of the workload's ReplicaSet that are gone: why they went (Preempted, Evicted) is kept from the namespace's
events (reads._absorb_events), and a scheduling failure names the preemption (detectors/scheduling.detect_pending)."""

from __future__ import annotations

from dataclasses import dataclass

from aof_airflow.agent.rules.detectors import detect_pending
from aof_airflow.agent.rules.reads import Reader

from .test_actions import event, obs, pod


@dataclass
class Call:
    ok: bool
    output: str
    truncated: bool = False


ROWS = "\n".join([
    "Pod  api-new-old1  Preempted  Normal  1  2026-03-01T11:00:00Z  <none>  Preempted by ml/retrain-1 on node n1",
    "Pod  other-7f9-x1  Preempted  Normal  1  2026-03-01T11:00:00Z  <none>  Preempted by ml/retrain-2 on node n1",
    "Pod  api-new-old2  Pulled  Normal  1  2026-03-01T11:00:00Z  <none>  pulled",
])


def test_why_a_sibling_pod_is_gone_is_kept_and_named() -> None:
    waiting = pod("api-new-p1", ready=False, phase="Pending")
    o = obs(pods=[waiting], events=[])
    Reader._absorb_events(Reader.__new__(Reader), o, Call(True, ROWS))
    assert [e["involvedObject"]["name"] for e in o.events] == ["api-new-old1"]
    o.events.append(event("api-new-p1", "FailedScheduling", "0/3 nodes are available: 3 Insufficient cpu."))
    f = detect_pending(o)
    assert f is not None and "preempted by higher-priority pods" in f.summary
