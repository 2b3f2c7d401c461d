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


def register(node_type: str) -> Callable[[Builder], Builder]:
    def deco(fn: Builder) -> Builder:
        REGISTRY[node_type] = fn
        return fn

    return deco


def _cls(path: str) -> Any:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


@register("Transform")
def _transform(node: Any, kw: dict[str, Any], agents: Mapping[str, Any]) -> Any:
    return _cls("aof_airflow.operators.transform:TransformOperator")(**kw)


@register("Conditional")
def _conditional(node: Any, kw: dict[str, Any], agents: Mapping[str, Any]) -> Any:
    return _cls("aof_airflow.operators.conditional:ConditionalOperator")(**kw)


@register("HTTP")
def _http(node: Any, kw: dict[str, Any], agents: Mapping[str, Any]) -> Any:
    return _cls("aof_airflow.operators.http:HttpNodeOperator")(**kw)


@register("Agent")
def _agent(node: Any, kw: dict[str, Any], agents: Mapping[str, Any]) -> Any:
    if node.config.agent not in agents:
        raise KeyError(f"node {node.id!r} runs agent {node.config.agent!r}, which no Agent file defines "
                       f"(known: {', '.join(sorted(agents)) or 'none'})")
    return _cls("aof_airflow.operators.agent:AgentOperator")(agent=agents[node.config.agent], **kw)


def approval_sensor_class() -> Any | None:
    try:
        return _cls(APPROVAL_SENSOR)
    except (ImportError, AttributeError) as exc:
        log.warning("approval sensor unavailable (%s): approval nodes will fail when reached", exc)
        return None


@register("Slack")
def _slack(node: Any, kw: dict[str, Any], agents: Mapping[str, Any]) -> Any:
    approvers = kw.pop("approvers", None)  # the flow's `approvers`, for approval nodes
    if not node.config.wait_for_reaction:
        return _cls("aof_airflow.operators.slack:SlackMessageOperator")(**kw)
    sensor = approval_sensor_class()
    if sensor is None:
        return _cls("aof_airflow.operators.slack:ApprovalUnavailableOperator")(**kw)
    # the sensor never retries, whatever default_task_retries says: a second try would ask again
    return sensor(approvers=approvers, **{**kw, "retries": 0})


def build_task(node: Any, kwargs: dict[str, Any], agents: Mapping[str, Any]) -> Any:
    try:
        builder = REGISTRY[node.type]
    except KeyError:
        raise KeyError(f"node {node.id!r}: no builder for node type {node.type!r}") from None
    return builder(node, kwargs, agents)
