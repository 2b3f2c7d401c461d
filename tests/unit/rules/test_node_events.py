"""A node's own events are recorded in namespace default: for a Node incident they are read there (the kubelet's and
node-problem-detector's Warnings), and a refusal is listed as not examined (gather._node_events)."""

from __future__ import annotations

from aof_airflow.agent.rules.gather import Gatherer
from aof_airflow.agent.rules.objects import Observation

from .test_reads import Call

ROW = "Node  n1  ConntrackFull  Warning  3  2026-03-01T11:00:00Z  <none>  Conntrack table usage over 90%: 262041 out of 262144"


class Toolbox:
    def __init__(self, refuse: bool) -> None:
        self.refuse = refuse

    def shell(self, command: str) -> Call:
        if self.refuse:
            return Call(False, "", refused="namespace default is outside this incident's scope")
        return Call(True, ROW)


def test_a_nodes_events_are_read_in_namespace_default() -> None:
    o = Observation(namespace="edge", kind="node", name="n1")
    events = Gatherer(Toolbox(False), "edge")._node_events(o, "n1")
    assert [e["reason"] for e in events] == ["ConntrackFull"]


def test_refused_node_events_are_not_examined() -> None:
    o = Observation(namespace="edge", kind="node", name="n1")
    assert Gatherer(Toolbox(True), "edge")._node_events(o, "n1") == []
    assert "events of node n1" in o.not_read


def test_a_warning_the_named_node_reports_is_the_cause() -> None:
    from aof_airflow.agent.rules.detectors import detect_node_reports_problem
    from aof_airflow.agent.rules.reads import event_rows

    o = Observation(namespace="edge", kind="node", name="n1", events=event_rows(ROW))
    f = detect_node_reports_problem(o)
    assert f is not None and f.cls == "node-problem" and "262041" in f.summary and f.action == "none"
    assert detect_node_reports_problem(Observation(namespace="edge", kind="node", name="n1")) is None
