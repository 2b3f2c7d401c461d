"""Agent node: render `input`, run the named agent through the runtime's one entry point, return its contract.

The operator knows nothing about models or tools: it calls `aof_airflow.agent.runtime.run_agent` (imported
at run time, so DAG parsing never loads SDKs) with an AgentScope naming what the incident lets it touch.
The contract object is the XCom return value (what templates see); the rest (model, usage, tool calls,
actions) goes beside it under the XCom key `aof_meta`.
"""

from __future__ import annotations

from typing import Any

from aof_airflow.agent.types import AgentScope
from aof_airflow.operators.base import NodeOperator, render_or_fail

META_KEY = "aof_meta"


def _first(tctx: Any, *paths: tuple[str, ...]) -> str | None:
    for path in paths:
        try:
            value = tctx.resolve(path)
        except LookupError:
            continue
        if value not in (None, ""):
            return str(value)
    return None


def scope_for(tctx: Any, *, flow: str, run_id: str | None, node_id: str) -> AgentScope:
    """Where the agent may act: the incident's namespace and resource, as parse-alert exported them."""
    return AgentScope(
        flow=flow,
        run_id=run_id,
        node_id=node_id,
        incident_id=_first(tctx, ("INCIDENT_ID",), ("event", "incident", "id")),
        service=_first(tctx, ("INCIDENT_SERVICE",), ("event", "incident", "service", "name")),
        namespace=_first(tctx, ("K8S_NAMESPACE",), ("event", "incident", "custom_details", "namespace")),
        resource=_first(tctx, ("K8S_RESOURCE",), ("event", "incident", "custom_details", "resource")),
    )


class AgentOperator(NodeOperator):
    ui_color = "#fde7d6"

    def __init__(self, *, agent: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.agent = agent  # the spec.models.Agent this node runs

    def run(self, tctx: Any, context: Any) -> Any:
        from aof_airflow.agent.runtime import run_agent
        from aof_airflow.templating import render_text

        cfg = self.node.config
        prompt = render_or_fail(self.node.id, "input", render_text, cfg.input, tctx)
        if cfg.context:  # AOF's node `context`: named values handed to the agent with its input
            lines = [f"- {k}: {render_or_fail(self.node.id, f'context {k}', render_text, v, tctx)}"
                     for k, v in cfg.context.items()]
            prompt = f"{prompt}\n\nContext:\n" + "\n".join(lines)
        scope = scope_for(tctx, flow=self.flow_name, run_id=context["dag_run"].run_id, node_id=self.node.id)
        self.log.info("agent %s (%s), scope %s", self.agent.name, self.agent.spec.model, scope)
        result = run_agent(self.agent, prompt, scope=scope, timeout_seconds=cfg.timeout_seconds)
        meta = result.meta()
        context["ti"].xcom_push(key=META_KEY, value=meta)
        usage = meta.get("usage") or {}
        self.log.info("answered by %s (%s) in %s steps; tokens in=%s out=%s calls=%s; %d tool calls, %d actions",
                      result.model, result.source, result.steps, usage.get("input_tokens"), usage.get("output_tokens"),
                      usage.get("calls"), len(result.tool_calls), len(result.actions))
        for note in result.notes:
            self.log.warning("note: %s", note)
        return result.output
