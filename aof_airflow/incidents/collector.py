"""Build an incident record from a finished dag run: conf, task states/timings, XCom outputs and `aof_meta`.

Why from the run's state and not from a node of the flow: the tutorial's `log-incident` node only
runs on the success path, so escalations, approvals declined and failed nodes would leave no trace.
Nodes are recognised by what they produced (a diagnosis has `severity`/`root_cause`, a remediation has
`action_taken`, an approval has `reaction`), with the seed's node ids preferred, so a flow that renames
its nodes still gets a useful record. Where output says nothing (an approval that timed out, the rollback,
the escalation, the success path), the flow's shape says which node is which (`spec/roles.py`).

`build_record` is pure (tests, rebuilding); `collect` reads a run from the Airflow metadata DB.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from airflow.models.dag import DagTag
from airflow.models.dagrun import DagRun
from airflow.models.taskinstance import TaskInstance
from airflow.models.xcom import XComModel
from airflow.utils.session import create_session
from sqlalchemy import select
from sqlalchemy.orm import Session

from aof_airflow import config
from aof_airflow.incidents.records import IncidentRecord
from aof_airflow.spec.roles import FlowRoles

APPROVE_REACTIONS = {"white_check_mark", "heavy_check_mark", "approve", "approved"}
PAUSE_REACTIONS = {"double_vertical_bar", "pause", "paused"}
SKIP_REACTIONS = {"x", "skip", "skipped", "reject", "rejected"}


@dataclass
class NodeRun:
    """One task instance as the collector needs it (independent of Airflow's ORM class)."""

    task_id: str
    state: str | None
    start: datetime | None = None
    end: datetime | None = None
    try_number: int = 0
    operator: str | None = None
    output: Any = None  # XCom return_value
    meta: dict[str, Any] | None = None  # XCom aof_meta (Agent nodes)

    @property
    def duration(self) -> float | None:
        if self.start and self.end:
            return round((self.end - self.start).total_seconds(), 3)
        return None


@dataclass
class RunView:
    dag_id: str
    run_id: str
    state: str | None
    conf: dict[str, Any] = field(default_factory=dict)
    start: datetime | None = None
    end: datetime | None = None
    nodes: list[NodeRun] = field(default_factory=list)
    msg: str | None = None  # the listener's reason: "success", "task_failure", "timed_out", ...
    roles: FlowRoles = field(default_factory=FlowRoles)  # which node is the approval, the rollback, ...


def _dig(d: Any, *path: str) -> Any:
    for p in path:
        if not isinstance(d, dict):
            return None
        d = d.get(p)
    return d


def _order(n: NodeRun) -> tuple:
    far = datetime.max.replace(tzinfo=timezone.utc)
    return (_aware(n.start) or far, n.task_id)


def _aware(v: datetime | None) -> datetime | None:
    if v is not None and v.tzinfo is None:
        return v.replace(tzinfo=timezone.utc)
    return v


def _pick(nodes: list[NodeRun], preferred: str, has: tuple[str, ...], exclude: tuple[str, ...] = ()) -> NodeRun | None:
    """The node named `preferred` if it produced output, else the earliest whose output has any of `has`."""
    ok = [n for n in nodes if isinstance(n.output, dict) and not any(x in n.task_id for x in exclude)]
    for n in ok:
        if n.task_id == preferred:
            return n
    for n in sorted(ok, key=_order):
        if any(k in n.output for k in has):
            return n
    return None


def _approval(nodes: list[NodeRun], roles: FlowRoles) -> dict[str, Any] | None:
    human = None
    for n in sorted(nodes, key=_order):
        if isinstance(n.output, dict) and "reaction" in n.output:
            human = n
            break
    if human is None:  # the sensor may have timed out or failed without output
        human = next((n for n in nodes if n.task_id in roles.approval
                      and n.state not in (None, "skipped", "removed")), None)
    if human is not None:
        out = human.output if isinstance(human.output, dict) else {}
        reaction = out.get("reaction")
        outcome = str(out.get("outcome") or out.get("decision") or "").lower() or None
        if not outcome:
            r = str(reaction or "").lower()
            if r in APPROVE_REACTIONS:
                outcome = "approved"
            elif r in PAUSE_REACTIONS:
                outcome = "paused"
            elif r in SKIP_REACTIONS:
                outcome = "skipped"
            elif out.get("timed_out") or human.state in ("failed", "up_for_retry") or not r:
                outcome = "timeout"
            else:
                outcome = r
        wait = out.get("wait_seconds", out.get("waited_seconds"))
        return {
            "node": human.task_id,
            "outcome": outcome,
            "reaction": reaction,
            "by": out.get("by") or out.get("user") or out.get("approver") or out.get("decided_by"),
            "source": out.get("source"),  # reaction, slack-button, cli, airflow-ui
            "wait_seconds": float(wait) if isinstance(wait, (int, float)) else human.duration,
            "requested_at": _iso(human.start),
            "decided_at": _iso(human.end),
        }
    for n in nodes:
        if n.state == "success" and isinstance(n.output, dict) and str(n.output.get("APPROVED", "")).lower() == "true":
            return {"node": n.task_id, "outcome": "auto", "reaction": None, "by": "auto-approve",
                    "wait_seconds": 0.0, "requested_at": _iso(n.start), "decided_at": _iso(n.end)}
    return None


def _iso(v: datetime | None) -> str | None:
    return v.isoformat() if v else None


def build_record(run: RunView) -> IncidentRecord:
    """Classify one run and gather what an SRE (and the post-incident analyst) needs to know about it."""
    nodes = sorted(run.nodes, key=_order)
    incident = _dig(run.conf, "event", "incident") or {}
    alert = _pick(nodes, "parse-alert", ("INCIDENT_ID", "INCIDENT_TITLE"))
    av = alert.output if alert else {}
    diag = _pick(nodes, "diagnose", ("severity", "root_cause"), exclude=("verify",))
    dv = diag.output if diag else {}
    rem = _pick(nodes, "remediate", ("action_taken",), exclude=("rollback",))
    rv = rem.output if rem else None
    roles = run.roles
    rollback = next((n for n in nodes if n.task_id in roles.rollback), None)

    rec = IncidentRecord(dag_id=run.dag_id, run_id=run.run_id, result="no_action", run_state=run.state)
    rec.incident_id = av.get("INCIDENT_ID") or incident.get("id")
    rec.title = av.get("INCIDENT_TITLE") or incident.get("title")
    rec.service = av.get("INCIDENT_SERVICE") or _dig(incident, "service", "name") or _dig(incident, "service", "summary")
    rec.urgency = av.get("INCIDENT_URGENCY") or incident.get("urgency")
    rec.url = av.get("INCIDENT_URL") or incident.get("html_url")
    rec.namespace = av.get("K8S_NAMESPACE") or _dig(incident, "custom_details", "namespace")
    rec.resource = av.get("K8S_RESOURCE") or _dig(incident, "custom_details", "resource")
    rec.enrichment = _dig(run.conf, "aof", "enrichment")  # the relay could not fetch the custom details
    rec.severity = dv.get("severity")
    rec.root_cause = dv.get("root_cause")
    rec.recommended_action = dv.get("recommended_action")
    rec.remediation = rv
    rec.approval = _approval(nodes, roles)
    rec.started_at = _aware(run.start)
    rec.ended_at = _aware(run.end)
    if rec.started_at and rec.ended_at:
        rec.duration_seconds = round((rec.ended_at - rec.started_at).total_seconds(), 3)

    usage = {"input_tokens": 0, "output_tokens": 0, "calls": 0}
    for n in nodes:
        m = n.meta or {}
        for k in usage:
            usage[k] += int(_dig(m, "usage", k) or 0)
        if m.get("model"):
            rec.models[n.task_id] = m["model"]
        for a in m.get("actions") or []:
            rec.actions.append({"node": n.task_id, **{k: a.get(k) for k in ("command", "dry_run", "snapshot", "result", "ok")},
                                "shadow": bool(a.get("shadow"))})
        rec.nodes.append({
            "node": n.task_id, "state": n.state, "start": _iso(_aware(n.start)), "end": _iso(_aware(n.end)),
            "duration_seconds": n.duration, "try_number": n.try_number, "operator": n.operator,
            "source": m.get("source"), "model": m.get("model"),
        })
    rec.usage = usage

    failed = [n for n in nodes if n.state == "failed"]
    escalate = next((n for n in nodes if n.task_id in roles.escalate and n.state == "success"), None)
    ap = rec.approval or {}
    if run.msg == "timed_out":
        rec.result = "timed_out"
        unfinished = [n.task_id for n in nodes if n.state not in ("success", "skipped", "failed", "upstream_failed")]
        rec.escalated = True
        rec.escalation = {"node": None, "reason": f"flow timed out; unfinished: {', '.join(unfinished) or '-'}"}
    elif failed or (run.state == "failed" and escalate is None):  # an escalation fails its run on purpose
        first = min(failed, key=lambda n: _aware(n.end) or datetime.max.replace(tzinfo=timezone.utc)) if failed else None
        rec.result = "failed"
        rec.failed_node = first.task_id if first else None
        rec.error = run.msg if run.msg and run.msg != "task_failure" else None
        rec.escalated = True  # a failed run is left open for on-call (design: no failure is silent)
        rec.escalation = {"node": escalate.task_id if escalate else None,
                          "reason": f"node {rec.failed_node} failed" if rec.failed_node else "run failed"}
    elif ap.get("outcome") not in (None, "auto", "approved"):
        rec.result = "skipped_at_approval"
    elif escalate is not None:
        rec.result = "escalated"
        rec.escalated = True
        rec.escalation = {
            "node": escalate.task_id,
            "reason": f"remediation result: {(rv or {}).get('result')}",
            "rollback": rollback.output if rollback and rollback.state == "success" else None,
        }
    elif isinstance(rv, dict) and str(rv.get("result", "")).lower() == "success":
        rec.result = "auto_resolved"
    elif any(n.task_id in roles.resolve and n.state == "success" for n in nodes):
        rec.result = "auto_resolved"
    return rec


def apply_run_state(rec: IncidentRecord, state: str | None, start: datetime | None, end: datetime | None) -> None:
    """Overwrite the run-level fields with the listener's DagRun object (newer than what the DB showed)."""
    rec.run_state = state or rec.run_state
    rec.started_at = _aware(start) or rec.started_at
    rec.ended_at = _aware(end) or rec.ended_at
    if rec.started_at and rec.ended_at:
        rec.duration_seconds = round((rec.ended_at - rec.started_at).total_seconds(), 3)


def collect(dag_id: str, run_id: str, *, session: Session | None = None, msg: str | None = None) -> IncidentRecord:
    """Rebuild the record of one run from the Airflow metadata DB (the listener passes its own session)."""
    if session is None:
        with create_session() as s:
            return collect(dag_id, run_id, session=s, msg=msg)
    return build_record(read_run(dag_id, run_id, session, msg=msg))


def read_run(dag_id: str, run_id: str, session: Session, *, msg: str | None = None) -> RunView:
    dr = session.scalar(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
    if dr is None:
        raise LookupError(f"no dag run {dag_id} / {run_id}")
    tis = session.scalars(
        select(TaskInstance).where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id)
    ).all()
    xcoms: dict[tuple[str, str], Any] = {}
    rows = session.execute(
        select(XComModel.task_id, XComModel.key, XComModel.value).where(
            XComModel.dag_id == dag_id, XComModel.run_id == run_id, XComModel.map_index == -1,
            XComModel.key.in_(("return_value", "aof_meta")),
        )
    ).all()
    for r in rows:
        xcoms[(r.task_id, r.key)] = XComModel.deserialize_value(r)
    nodes = []
    for ti in tis:
        if ti.map_index not in (-1, None):
            continue
        meta = xcoms.get((ti.task_id, "aof_meta"))
        nodes.append(NodeRun(
            task_id=ti.task_id, state=str(ti.state.value if hasattr(ti.state, "value") else ti.state) if ti.state else None,
            start=ti.start_date, end=ti.end_date, try_number=ti.try_number or 0, operator=ti.operator,
            output=xcoms.get((ti.task_id, "return_value")), meta=meta if isinstance(meta, dict) else None,
        ))
    state = dr.state.value if hasattr(dr.state, "value") else dr.state
    return RunView(dag_id=dag_id, run_id=run_id, state=state, conf=dict(dr.conf or {}), start=dr.start_date,
                   end=dr.end_date, nodes=nodes, msg=msg, roles=roles_of(dag_id, session))


def roles_of(dag_id: str, session: Session) -> FlowRoles:
    """The node roles of the flow whose DAG is `dag_id`, from its YAML in the flows folder(s); of a DAG written by
    hand, from its `aof.dev/role-*` tags (none: the record tells only what the nodes' outputs say)."""
    from aof_airflow.spec.loader import load_paths  # the YAML loader: when a run ends, never on a DAG parse

    folders = [p for p in (config.settings().flows_folder or str(config.flows_folder())).split(os.pathsep) if p]
    flow = load_paths(folders, check_graph=False).flows.get(dag_id)
    if flow is not None:
        return FlowRoles.for_flow(flow)
    return FlowRoles.from_tags(session.scalars(select(DagTag.name).where(DagTag.dag_id == dag_id)))
