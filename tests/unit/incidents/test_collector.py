"""Classification of runs the integration tests cannot easily produce: timeouts, paused/timed-out approvals."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from aof_airflow.incidents.collector import NodeRun, RunView, build_record
from aof_airflow.spec.loader import load_paths
from aof_airflow.spec.roles import FlowRoles
from tests.locations import SEED_AGENTS, SEED_FLOW

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)


def node(task_id: str, state: str, output=None, start: int = 0, end: int = 1, meta=None) -> NodeRun:
    return NodeRun(task_id=task_id, state=state, start=T0 + timedelta(seconds=start),
                   end=T0 + timedelta(seconds=end), output=output, meta=meta)


def base(*extra: NodeRun, state: str = "success", msg: str | None = None) -> RunView:
    conf = {"event": {"incident": {"id": "P1", "title": "disk full", "service": {"name": "db"}, "urgency": "high"}}}
    nodes = [node("parse-alert", "success", {"INCIDENT_ID": "P1", "INCIDENT_TITLE": "disk full"}),
             node("diagnose", "success", {"severity": "critical", "root_cause": "logs", "requires_approval": True},
                  1, 5, meta={"model": "builtin:k8s-rules", "source": "rules", "usage": {}}), *extra]
    return RunView(dag_id="f", run_id="r", state=state, conf=conf, start=T0, end=T0 + timedelta(seconds=700),
                   nodes=nodes, msg=msg, roles=seed_roles())


def seed_roles() -> FlowRoles:
    [flow] = load_paths([SEED_FLOW, SEED_AGENTS]).flows.values()
    return FlowRoles.for_flow(flow)


def test_the_seed_flows_roles_come_from_its_shape():
    """No role is found by a node's name: the approval is the node that waits for a reaction, the rollback the
    conditional second run of the remediating agent, the escalation what follows it, the rest the success path."""
    assert seed_roles() == FlowRoles(approval=("request-approval",), rollback=("rollback",), escalate=("escalate",),
                                     resolve=("notify-success", "close-pagerduty", "log-incident"))


def test_annotations_name_the_roles_a_shape_does_not_show():
    [flow] = load_paths([SEED_FLOW, SEED_AGENTS]).flows.values()
    notes = {**flow.metadata.annotations, "aof.dev/role-rollback": "undo, revert", "aof.dev/role-escalate": ""}
    renamed = flow.model_copy(update={"metadata": flow.metadata.model_copy(update={"annotations": notes})})
    roles = FlowRoles.for_flow(renamed)
    assert roles.rollback == ("undo", "revert") and roles.escalate == () and roles.approval == ("request-approval",)


def test_paused_approval():
    rec = build_record(base(node("request-approval", "success", {"reaction": "double_vertical_bar", "user": "U1"}, 5, 65),
                            node("remediate", "skipped")))
    assert rec.result == "skipped_at_approval"
    assert rec.approval["outcome"] == "paused" and rec.approval["by"] == "U1" and rec.approval["wait_seconds"] == 60
    assert rec.service == "db" and rec.models == {"diagnose": "builtin:k8s-rules"}


def test_approval_that_timed_out_without_output_fails_the_run():
    rec = build_record(base(node("request-approval", "failed", None, 5, 605), node("remediate", "upstream_failed"),
                            state="failed"))
    assert rec.result == "failed" and rec.failed_node == "request-approval" and rec.escalated
    assert rec.approval["outcome"] == "timeout" and rec.approval["wait_seconds"] == 600


def test_flow_timeout():
    rec = build_record(base(node("remediate", "running", None, 5, 700), state="failed", msg="timed_out"))
    assert rec.result == "timed_out" and rec.escalated
    assert "remediate" in rec.escalation["reason"]
    assert rec.duration_seconds == 700


def test_run_without_incident_payload_still_gets_a_record():
    rv = RunView(dag_id="f", run_id="manual", state="success", conf={}, start=T0, end=T0, nodes=[])
    rec = build_record(rv)
    assert rec.result == "no_action" and rec.incident_id is None and rec.nodes == []


def test_a_hand_written_dag_names_its_roles_in_tags():
    tags = ["aof", "aof.dev/role-escalate:escalate", "aof.dev/role-resolve:notify, close", "aof.dev/role-nope:x"]
    assert FlowRoles.from_tags(tags) == FlowRoles(escalate=("escalate",), resolve=("notify", "close"))
