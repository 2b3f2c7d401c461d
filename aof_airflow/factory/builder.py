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

from airflow.sdk import DAG, Param, TriggerRule

from aof_airflow.factory.registry import build_task
from aof_airflow.operators.base import NodeWiring
from aof_airflow.operators.escalation import Escalation, RunTimeoutEscalation
from aof_airflow.spec.graph import ancestor_table, decided_children, effective_conditions, topological_order
from aof_airflow.spec.nodes.wait import duration_seconds

START = datetime(2024, 1, 1, tzinfo=timezone.utc)
DEFAULT_CHANNEL = "#incidents"
SLACK_TIMEOUT = 120
DEFAULT_RETRY_DELAY = 30  # seconds, a node's `retry_delay_seconds` when neither it nor spec.config.retry sets one
JOIN_RULES = {"all": TriggerRule.ALL_SUCCESS, "any": TriggerRule.ONE_SUCCESS, "majority": TriggerRule.ALL_DONE}
GRACE = 15  # seconds Airflow waits beyond a node's own timeout, so the node reports its own clean error


def execution_timeout(node: Any) -> timedelta | None:
    cfg = node.config
    if node.type == "Agent":
        return timedelta(seconds=cfg.timeout_seconds + GRACE) if cfg.timeout_seconds else None
    if node.type == "Transform":
        return timedelta(seconds=cfg.timeout_seconds + GRACE)
    if node.type == "Script":
        return timedelta(seconds=cfg.script_config.timeout_seconds + GRACE)
    if node.type == "HTTP":
        return timedelta(seconds=2 * cfg.timeout_seconds + GRACE)
    if node.type in ("Slack", "Response") and not getattr(cfg, "wait_for_reaction", False):
        return timedelta(seconds=SLACK_TIMEOUT)
    return None  # Conditional, Parallel, Join, End: no I/O; approvals and Wait: deferred, bounded by their own timeout


def with_flow_defaults(node: Any, flow: Any) -> Any:
    """The node as its task runs it: `spec.config`'s default timeout where the node sets none, its conditional
    connections as `conditions`, and an approval's channel (the flow's escalation channel) where it names none."""
    cfg = flow.spec.config
    conditions = effective_conditions(flow)[node.id]
    update: dict[str, Any] = {"conditions": conditions} if conditions != list(node.conditions) else {}
    config = node.config
    target = config.script_config if node.type == "Script" else config
    if (cfg.default_timeout_seconds and "timeout_seconds" in type(target).model_fields
            and "timeout_seconds" not in target.model_fields_set):
        target = target.model_copy(update={"timeout_seconds": cfg.default_timeout_seconds})
        config = config.model_copy(update={"script_config": target}) if node.type == "Script" else target
    if node.type in ("Approval", "HumanApproval") and config.channel is None:
        config = config.model_copy(update={"channel": escalation_channel(flow)})
    if config is not node.config:
        update["config"] = config
    return node.model_copy(update=update) if update else node


def retry_kwargs(node: Any, flow: Any) -> dict[str, Any]:
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


def trigger_rule(node: Any, flow: Any, upstream: list[str]) -> str:
    if node.id == flow.spec.config.error_handler:
        return TriggerRule.ONE_FAILED
    if node.type == "Join":
        return JOIN_RULES[node.config.strategy]
    return TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS if len(upstream) > 1 else TriggerRule.ALL_SUCCESS


def escalation_channel(flow: Any) -> str:
    for n in flow.spec.nodes:
        if n.type == "Slack" and "${" not in n.config.channel:
            return n.config.channel
    return DEFAULT_CHANNEL


def doc_md(flow: Any, source: str | None) -> str:
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


def dag_kwargs(flow: Any, source: str | None) -> dict[str, Any]:
    spec = flow.spec
    trig = spec.trigger
    labels = flow.metadata.labels
    kw: dict[str, Any] = dict(
        dag_id=flow.name,
        schedule=trig.config.cron if trig.type == "Schedule" else None,
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
        kw["on_failure_callback"] = RunTimeoutEscalation(flow.name, escalation_channel(flow))
    return kw


def trigger_params() -> dict[str, Param]:
    return {"event": Param({}, type="object", title="event",
                           description="The trigger payload's `event` (e.g. the PagerDuty incident); every top-level "
                                       "key of the run conf is a template root.")}


def build_dag(flow: Any, agents: Mapping[str, Any], *, source: str | None = None,
              reads: Mapping[str, list[str]] | None = None) -> DAG:
    """`reads`: the scan's {node: ancestors it reads} (computed once per YAML content); derived here when absent."""
    order = topological_order(flow)
    up = flow.upstream()
    anc = ancestor_table(flow)
    if reads is None:
        from aof_airflow.spec.references import outputs_read

        reads = outputs_read(flow, anc.__getitem__)
    types = {n.id: n.type for n in flow.spec.nodes}
    transforms = {nid: [a for a in anc[nid] if types[a] == "Transform"] for nid in order}
    decides = decided_children(flow)
    escalate = Escalation(flow.name, escalation_channel(flow))
    owner = flow.metadata.labels.get("team", "aof")
    context = flow.spec.context.as_root()
    nodes = {nid: with_flow_defaults(flow.node(nid), flow) for nid in order}
    tasks: dict[str, Any] = {}
    with DAG(**dag_kwargs(flow, source)) as dag:
        for nid in order:
            node = nodes[nid]
            kw: dict[str, Any] = dict(
                task_id=nid,
                owner=owner,
                flow_name=flow.name,
                node=node,
                ancestors=reads[nid],
                transforms=transforms[nid],
                decides=[(nodes[child], transforms[child]) for child in decides[nid]],
                wiring=NodeWiring(context=context, previous=up[nid][0] if len(up[nid]) == 1 else None,
                                  verbose=flow.spec.config.verbose, error_handler=nid == flow.spec.config.error_handler),
                **retry_kwargs(node, flow),
                trigger_rule=trigger_rule(node, flow, up[nid]),
                on_failure_callback=None if nid == flow.spec.config.error_handler else escalate,
                doc_md=node.description,
            )
            if node.type in ("Slack", "Approval", "HumanApproval"):
                kw["approvers"] = flow.spec.approvers
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
