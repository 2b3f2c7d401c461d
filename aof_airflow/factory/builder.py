"""One AgentFlow -> one Airflow DAG: tasks = nodes, edges = connections, trigger rules per DESIGN §4.

Semantics carried by the DAG shape (visible in the Airflow graph and the serialized DAG):
- a node with one upstream uses `all_success`: a skipped or failed upstream skips / fails it (skip
  propagation); a join (several upstreams) uses `none_failed_min_one_success`, so "auto-approved OR
  human-approved" runs when one branch ran and the other was skipped; all skipped -> skipped;
- the node's own `conditions` are checked in the task (NodeMixin.check_conditions): all false -> skipped;
  a child whose conditions all read its only upstream is decided by that upstream when it ends (Airflow's
  branching: the child is marked skipped without a process of its own, and a join does not wait for it);
- each task knows the ancestors whose outputs it reads (topological order: the nodes its templates and
  conditions name, and the ancestor Transforms), so it pulls those XComs and no others.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Mapping

from airflow.sdk import DAG, BaseOperator, Param, TriggerRule

from aof_airflow.factory.registry import build_task
from aof_airflow.factory.schedule import dag_schedule
from aof_airflow.operators.escalation import NodeFailureNotifier, RunTimeoutNotifier
from aof_airflow.operators.incident import IncidentProfile
from aof_airflow.spec.graph import ancestor_table, decided_children, topological_order
from aof_airflow.spec.models import Agent, AgentFlow, Node
from aof_airflow.spec.trigger_docs import bound_schedule
from aof_airflow.spec.triggers import ScheduleConfig

START = datetime(2024, 1, 1, tzinfo=timezone.utc)
DEFAULT_CHANNEL = "#incidents"
SLACK_TIMEOUT = 120
GRACE = 15  # seconds Airflow waits beyond a node's own timeout, so the node reports its own clean error


def execution_timeout(node: Node) -> timedelta | None:
    cfg = node.config
    if node.type == "Agent":
        return timedelta(seconds=cfg.timeout_seconds + GRACE) if cfg.timeout_seconds else None
    if node.type == "Transform":
        return timedelta(seconds=cfg.timeout_seconds + GRACE)
    if node.type == "HTTP":
        return timedelta(seconds=2 * cfg.timeout_seconds + GRACE)
    if node.type == "Slack" and not cfg.wait_for_reaction:
        return timedelta(seconds=SLACK_TIMEOUT)
    return None  # Conditional: no I/O; approvals: the sensor's own timeout


def escalation_channel(flow: AgentFlow) -> str:
    for n in flow.spec.nodes:
        if n.type == "Slack" and "${" not in n.config.channel:
            return n.config.channel
    return DEFAULT_CHANNEL


def doc_md(flow: AgentFlow, source: str | None) -> str:
    meta = flow.metadata
    lines = [f"# {meta.name}", "", meta.description or "AgentFlow run by aof-airflow.", ""]
    if source:
        lines += [f"Source: `{source}`", ""]
    lines += ["| node | type | runs when |", "|---|---|---|"]
    for n in flow.spec.nodes:
        when = " OR ".join(f"{c.from_}: `{c.when}`" for c in n.conditions) or "upstream succeeded"
        lines.append(f"| `{n.id}` | {n.type} | {when} |")
    return "\n".join(lines)


def dag_kwargs(flow: AgentFlow, source: str | None, incident: IncidentProfile,
               schedule: ScheduleConfig | None = None) -> dict[str, Any]:
    spec = flow.spec
    labels = flow.metadata.labels
    kw: dict[str, Any] = dict(
        dag_id=flow.name,
        schedule=dag_schedule(schedule or bound_schedule(flow, {})),
        start_date=START,
        catchup=False,
        doc_md=doc_md(flow, source),
        description=(flow.metadata.description or f"AgentFlow {flow.name}")[:200],
        tags=sorted({"aof", *(f"{k}:{v}"[:100] for k, v in labels.items())}),
    )
    if spec.rate_limit.max_concurrent:
        kw["max_active_runs"] = spec.rate_limit.max_concurrent
    if spec.rate_limit.timeout_seconds:
        kw["dagrun_timeout"] = timedelta(seconds=spec.rate_limit.timeout_seconds)
        kw["on_failure_callback"] = RunTimeoutNotifier(flow_name=flow.name, channel=escalation_channel(flow),
                                                       incident=incident)
    return kw


def trigger_params() -> dict[str, Param]:
    return {"event": Param({}, type="object", title="event",
                           description="The trigger payload's `event` (e.g. the PagerDuty incident); every top-level "
                                       "key of the run conf is a template root.")}


def build_dag(flow: AgentFlow, agents: Mapping[str, Agent], *, source: str | None = None,
              reads: Mapping[str, list[str]] | None = None, schedule: ScheduleConfig | None = None) -> DAG:
    """`reads`: the scan's {node: ancestors it reads} (computed once per YAML content); derived here when absent.
    `schedule`: a Schedule `kind: Trigger` bound to the flow (its own Schedule trigger is read from the flow)."""
    order = topological_order(flow)
    up = flow.upstream()
    anc = ancestor_table(flow)
    if reads is None:
        from aof_airflow.spec.references import outputs_read  # the ${...} parser: off the cached parse path

        reads = outputs_read(flow, anc.__getitem__)
    types = {n.id: n.type for n in flow.spec.nodes}
    transforms = {nid: [a for a in anc[nid] if types[a] == "Transform"] for nid in order}
    decides = decided_children(flow)
    incident = IncidentProfile.for_flow(flow)
    escalate = NodeFailureNotifier(flow_name=flow.name, channel=escalation_channel(flow), incident=incident)
    owner = flow.metadata.labels.get("team", "aof")
    tasks: dict[str, BaseOperator] = {}
    with DAG(**dag_kwargs(flow, source, incident, schedule)) as dag:
        for nid in order:
            node = flow.node(nid)
            kw: dict[str, Any] = dict(
                task_id=nid,
                owner=owner,
                flow_name=flow.name,
                node=node,
                ancestors=reads[nid],
                transforms=transforms[nid],
                decides=[(flow.node(child), transforms[child]) for child in decides[nid]],
                **({} if node.retries is None else {"retries": node.retries}),
                retry_delay=timedelta(seconds=node.retry_delay_seconds),
                trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS if len(up[nid]) > 1 else TriggerRule.ALL_SUCCESS,
                on_failure_callback=escalate,
                doc_md=node.description,
            )
            if node.type == "Slack" and node.config.wait_for_reaction:
                kw["approvers"] = flow.spec.approvers
            if node.type == "Agent":
                kw["incident"] = incident
            timeout = execution_timeout(node)
            if timeout is not None:
                kw["execution_timeout"] = timeout
            tasks[nid] = build_task(node, kw, agents)
        for nid in order:
            for u in up[nid]:
                tasks[u] >> tasks[nid]
    # Params for the trigger form / REST validation, set once the tasks exist: every operator constructor
    # deep-copies the DAG's params and default_args, which made parsing 200 flows several times slower.
    dag.params.update(trigger_params())
    return dag
