"""Node type -> the function that builds its Airflow task. One entry per AgentFlow node type.

Operator classes are imported on first use so that parsing a folder of flows imports only what it needs.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any, Callable, Mapping

log = logging.getLogger(__name__)

APPROVAL_SENSOR = "aof_airflow.operators.approval:ApprovalNodeSensor"

# builder(node, kwargs, agents) -> operator. `kwargs` holds task_id, the NodeMixin fields and BaseOperator args.
Builder = Callable[[Any, dict[str, Any], Mapping[str, Any]], Any]
REGISTRY: dict[str, Builder] = {}


def register(*node_types: str) -> Callable[[Builder], Builder]:
    def deco(fn: Builder) -> Builder:
        for t in node_types:
            REGISTRY[t] = fn
        return fn

    return deco


def _cls(path: str) -> Any:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def operator(path: str) -> Builder:
    """The builder of a node type whose operator takes the node kwargs as they are (most do)."""

    def build(node: Any, kw: dict[str, Any], agents: Mapping[str, Any]) -> Any:
        kw.pop("approvers", None)
        return _cls(path)(**kw)

    return build


register("Transform")(operator("aof_airflow.operators.transform:TransformOperator"))
register("Conditional")(operator("aof_airflow.operators.conditional:ConditionalOperator"))
register("HTTP")(operator("aof_airflow.operators.http:HttpNodeOperator"))


@register("Agent")
def _agent(node: Any, kw: dict[str, Any], agents: Mapping[str, Any]) -> Any:
    cfg = node.config
    if cfg.inline is not None:
        from aof_airflow.spec.models import inline_agent

        agent = inline_agent(cfg.inline, kw["flow_name"])
    elif cfg.agent in agents:
        agent = agents[cfg.agent]
    else:
        raise KeyError(f"node {node.id!r} runs agent {cfg.agent!r}, which no Agent file defines "
                       f"(known: {', '.join(sorted(agents)) or 'none'})")
    return _cls("aof_airflow.operators.agent:AgentOperator")(agent=agent, **kw)


def approval_sensor_class() -> Any | None:
    try:
        return _cls(APPROVAL_SENSOR)
    except (ImportError, AttributeError) as exc:
        log.warning("approval sensor unavailable (%s): approval nodes will fail when reached", exc)
        return None


@register("Slack")
def _slack(node: Any, kw: dict[str, Any], agents: Mapping[str, Any]) -> Any:
    if not node.config.wait_for_reaction:
        kw.pop("approvers", None)
        return _cls("aof_airflow.operators.slack:SlackMessageOperator")(**kw)
    return _approval(node, kw, agents)


@register("Approval", "HumanApproval")
def _approval(node: Any, kw: dict[str, Any], agents: Mapping[str, Any]) -> Any:
    approvers = kw.pop("approvers", None)  # the flow's `approvers`
    sensor = approval_sensor_class()
    if sensor is None:
        return _cls("aof_airflow.operators.slack:ApprovalUnavailableOperator")(**kw)
    # the sensor never retries, whatever default_task_retries says: a second try would ask again
    return sensor(approvers=approvers, **{**kw, "retries": 0})


register("Script")(operator("aof_airflow.operators.script:ScriptOperator"))
register("Wait")(operator("aof_airflow.operators.wait:WaitOperator"))
register("Parallel")(operator("aof_airflow.operators.parallel:ParallelOperator"))
register("Join")(operator("aof_airflow.operators.join:JoinOperator"))
register("End")(operator("aof_airflow.operators.end:EndOperator"))
register("Response")(operator("aof_airflow.operators.response:ResponseOperator"))


def build_task(node: Any, kwargs: dict[str, Any], agents: Mapping[str, Any]) -> Any:
    try:
        builder = REGISTRY[node.type]
    except KeyError:
        raise KeyError(f"node {node.id!r}: no builder for node type {node.type!r}") from None
    return builder(node, kwargs, agents)
