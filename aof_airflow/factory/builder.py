"""One AgentFlow -> one Airflow DAG: tasks = nodes, edges = connections, trigger rules (docs/architecture.md).

What differs by node type is asked of the type: its model (`spec/nodes/`: defaults, timeout) and its operator
(`operators.base.NodeMixin`: constructor arguments from the flow, trigger rule, build hook).

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

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping

from airflow.sdk import DAG, BaseOperator, Param, TriggerRule

from aof_airflow.factory.registry import build_task
from aof_airflow.factory.schedule import dag_schedule
from aof_airflow.operators.base import NodeWiring, operator_for
from aof_airflow.operators.escalation import NodeFailureNotifier, RunTimeoutNotifier
from aof_airflow.spec.edges import decided_children, effective_conditions
from aof_airflow.spec.graph import ancestor_table, topological_order
from aof_airflow.spec.incident import IncidentProfile
from aof_airflow.spec.models import Agent, AgentFlow, Node, NodeCondition
from aof_airflow.spec.nodes.wait import duration_seconds
from aof_airflow.spec.trigger_docs import bound_schedule
from aof_airflow.spec.triggers import ScheduleConfig

START = datetime(2024, 1, 1, tzinfo=timezone.utc)
DEFAULT_CHANNEL = "#incidents"
DEFAULT_RETRY_DELAY = 30  # seconds, a node's `retry_delay_seconds` when neither it nor spec.config.retry sets one


def execution_timeout(node: Node) -> timedelta | None:
    seconds = node.execution_seconds()
    return None if seconds is None else timedelta(seconds=seconds)


def with_flow_defaults(node: Node, flow: AgentFlow, conditions: list[NodeCondition], channel: str | None = None) -> Node:
    """The node as its task runs it: its type's `with_defaults` (`spec.config`'s default timeout where the node
    sets none, an approval's channel where it names none: `channel`, the flow's escalation channel) and its
    conditional connections as `conditions` (`effective_conditions`)."""
    node = node.with_defaults(flow.spec.config.default_timeout_seconds, channel or escalation_channel(flow))
    return node.model_copy(update={"conditions": conditions}) if conditions != list(node.conditions) else node


def retry_kwargs(node: Node, flow: AgentFlow) -> dict[str, Any]:
    """The node's `retries` / `retry_delay_seconds`, else `spec.config.retry` (AOF: max_attempts, initial_delay,
    backoff_multiplier, max_delay); neither: the deployment's `[core] default_task_retries`."""
    retry = flow.spec.config.retry
    kw: dict[str, Any] = {}
    if node.retries is not None:
        kw["retries"] = node.retries
    elif retry is not None:
        kw["retries"] = retry.max_attempts
    if node.retry_delay_seconds is not None:
        kw["retry_delay"] = timedelta(seconds=node.retry_delay_seconds)
    elif retry is not None:
        kw["retry_delay"] = timedelta(seconds=duration_seconds(retry.initial_delay))
        if retry.backoff_multiplier > 1:
            kw["retry_exponential_backoff"] = retry.backoff_multiplier
        if retry.max_delay:
            kw["max_retry_delay"] = timedelta(seconds=duration_seconds(retry.max_delay))
    else:
        kw["retry_delay"] = timedelta(seconds=DEFAULT_RETRY_DELAY)
    return kw


def trigger_rule(node: Node, flow: AgentFlow, upstream: list[str]) -> str:
    if node.id == flow.spec.config.error_handler:
        return TriggerRule.ONE_FAILED
    own = operator_for(node).trigger_rule_for(node)  # a Join's strategy
    if own is not None:
        return own
    return TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS if len(upstream) > 1 else TriggerRule.ALL_SUCCESS


def escalation_channel(flow: AgentFlow) -> str:
    """The first fixed channel a node of the flow posts to, else DEFAULT_CHANNEL."""
    return next((c for c in (n.posts_to() for n in flow.spec.nodes) if c), DEFAULT_CHANNEL)


def doc_md(flow: AgentFlow, source: str | None) -> str:
    meta = flow.metadata
    lines = [f"# {meta.name}", "", flow.description or "AgentFlow run by aof-airflow.", ""]
    if source:
        lines += [f"Source: `{source}`", ""]
    if meta.annotations:
        lines += ["| annotation | value |", "|---|---|"]
        lines += [f"| `{k}` | {str(v).replace('|', '/')} |" for k, v in sorted(meta.annotations.items())]
        lines.append("")
    conds = effective_conditions(flow)
    lines += ["| node | type | runs when |", "|---|---|---|"]
    for n in flow.spec.nodes:
        when = " OR ".join(f"{c.from_}: {c.text}" for c in conds[n.id]) or "upstream succeeded"
        if n.id == flow.spec.config.error_handler:
            when = "a node failed (error handler)"
        lines.append(f"| `{n.id}` | {n.type} | {when} |")
    return "\n".join(lines)


def dag_kwargs(flow: AgentFlow, source: str | None, schedule: ScheduleConfig | None = None) -> dict[str, Any]:
    """The DAG's own arguments; its callbacks are objects, built per parse by `build_planned`.
    `schedule`: a Schedule `kind: Trigger` bound to the flow (its own Schedule trigger is read from the flow)."""
    spec = flow.spec
    labels = flow.metadata.labels
    kw: dict[str, Any] = dict(
        dag_id=flow.name,
        schedule=dag_schedule(schedule or bound_schedule(flow, {})),
        start_date=START,
        catchup=False,
        doc_md=doc_md(flow, source),
        description=(flow.description or f"AgentFlow {flow.name}")[:200],
        tags=sorted({"aof", *(f"{k}:{v}"[:100] for k, v in labels.items())}),
    )
    if spec.rate_limit.max_concurrent:
        kw["max_active_runs"] = spec.rate_limit.max_concurrent
    if spec.rate_limit.timeout_seconds:
        kw["dagrun_timeout"] = timedelta(seconds=spec.rate_limit.timeout_seconds)
    return kw


def trigger_params() -> dict[str, Param]:
    return {"event": Param({}, type="object", title="event",
                           description="The trigger payload's `event` (e.g. the PagerDuty incident); every top-level "
                                       "key of the run conf is a template root.")}


@dataclass(frozen=True)
class FlowPlan:
    """Everything the DAG of a flow is built from that depends only on the YAML: computed once per content by the
    scan and kept in its disk cache, so a task's re-parse constructs operators and nothing else."""

    name: str
    channel: str  # where failures are escalated
    run_timeout: bool  # rate_limit.timeout_seconds is set: the run's own timeout escalates too
    error_handler: str | None
    order: list[str]
    upstream: dict[str, list[str]]
    nodes: dict[str, Node]  # node id -> the node as its task runs it (with_flow_defaults)
    reads: dict[str, list[str]]
    transforms: dict[str, list[str]]
    decides: dict[str, list[str]]
    dag_kwargs: dict[str, Any]  # without the callbacks (objects built per parse)
    task_kwargs: dict[str, dict[str, Any]]
    incident: IncidentProfile  # where the flow's incident comes from (messages, the agents' scope)


def plan_flow(flow: AgentFlow, source: str | None = None, reads: Mapping[str, list[str]] | None = None,
              schedule: ScheduleConfig | None = None) -> FlowPlan:
    order = topological_order(flow)
    up = flow.upstream()
    anc = ancestor_table(flow)
    if reads is None:
        from aof_airflow.spec.references import outputs_read  # the `${...}` parser: the scan plans, a task does not

        reads = outputs_read(flow, anc.__getitem__)
    variables = {n.id for n in flow.spec.nodes if n.sets_variables}  # the Transforms
    conds = effective_conditions(flow)
    channel = escalation_channel(flow)
    nodes = {nid: with_flow_defaults(flow.node(nid), flow, conds[nid], channel) for nid in order}
    owner = flow.metadata.labels.get("team", "aof")
    context = flow.spec.context.as_root()
    cfg = flow.spec.config
    incident = IncidentProfile.for_flow(flow)
    task_kwargs: dict[str, dict[str, Any]] = {}
    for nid in order:
        node = nodes[nid]
        kw: dict[str, Any] = dict(
            owner=owner,
            wiring=NodeWiring(context=context, previous=up[nid][0] if len(up[nid]) == 1 else None,
                              verbose=cfg.verbose, error_handler=nid == cfg.error_handler),
            **retry_kwargs(node, flow),
            trigger_rule=trigger_rule(node, flow, up[nid]),
            doc_md=node.description,
            **operator_for(node).plan_kwargs(node, flow, incident),
        )
        timeout = execution_timeout(node)
        if timeout is not None:
            kw["execution_timeout"] = timeout
        task_kwargs[nid] = kw
    return FlowPlan(name=flow.name, channel=channel, run_timeout=bool(flow.spec.rate_limit.timeout_seconds),
                    error_handler=cfg.error_handler, order=order, upstream=up, nodes=nodes, reads=dict(reads),
                    transforms={nid: [a for a in anc[nid] if a in variables] for nid in order},
                    decides=decided_children(flow), dag_kwargs=dag_kwargs(flow, source, schedule), task_kwargs=task_kwargs,
                    incident=incident)


def build_dag(flow: AgentFlow, agents: Mapping[str, Agent], *, source: str | None = None,
              reads: Mapping[str, list[str]] | None = None, schedule: ScheduleConfig | None = None) -> DAG:
    """`reads`: {node: ancestors it reads}, derived here when absent; `schedule`: see `dag_kwargs`."""
    return build_planned(plan_flow(flow, source, reads, schedule), agents)


def build_planned(plan: FlowPlan, agents: Mapping[str, Agent]) -> DAG:
    """The DAG of a planned flow (the scan keeps plans, not flows, in its cache: less to unpickle per parse)."""
    escalate = NodeFailureNotifier(flow_name=plan.name, channel=plan.channel, incident=plan.incident)
    kwargs = dict(plan.dag_kwargs)
    if plan.run_timeout:
        kwargs["on_failure_callback"] = RunTimeoutNotifier(flow_name=plan.name, channel=plan.channel,
                                                           incident=plan.incident)
    handler = plan.error_handler
    tasks: dict[str, BaseOperator] = {}
    with DAG(**kwargs) as dag:
        for nid in plan.order:
            node = plan.nodes[nid]
            kw = dict(plan.task_kwargs[nid], task_id=nid, flow_name=plan.name, node=node, ancestors=plan.reads[nid],
                      transforms=plan.transforms[nid],
                      decides=[(plan.nodes[c], plan.transforms[c]) for c in plan.decides[nid]],
                      on_failure_callback=None if nid == handler else escalate)
            tasks[nid] = build_task(node, kw, agents)
        for nid in plan.order:
            for u in plan.upstream[nid]:
                tasks[u] >> tasks[nid]
    # Params for the trigger form / REST validation, set once the tasks exist: every operator constructor
    # deep-copies the DAG's params and default_args, which made parsing 200 flows several times slower.
    dag.params.update(trigger_params())
    return dag
