"""Agent node: render `input`, run the named agent through the runtime's one entry point, return its contract.

The operator knows nothing about models or tools: it calls `aof_airflow.agent.runtime.run_agent` with an
AgentScope naming what the incident lets it touch, as the flow's incident profile finds it
(operators/incident.py). The contract object is the XCom return value (what templates see); the rest
(model, usage, tool calls, actions) goes beside it under the XCom key `aof_meta`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import Context

from aof_airflow.agent.types import AgentScope
from aof_airflow.operators.base import NodeOperator, render_or_fail
from aof_airflow.operators.incident import IncidentProfile
from aof_airflow.spec.models import Agent, AgentNode

if TYPE_CHECKING:
    from aof_airflow.templating import TemplateContext

META_KEY = "aof_meta"


def scope_for(profile: IncidentProfile, tctx: TemplateContext, *, flow: str, run_id: str | None,
              node_id: str) -> AgentScope:
    """Where the agent may act: the incident's namespace and resource, as the profile finds them."""
    incident = profile.resolve(tctx)
    return AgentScope(flow=flow, run_id=run_id, node_id=node_id, incident_id=incident.id, service=incident.service,
                      namespace=incident.namespace, resource=incident.resource)


class AgentOperator(NodeOperator):
    ui_color = "#fde7d6"
    node: AgentNode

    def __init__(self, *, agent: Agent, incident: IncidentProfile | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.agent = agent
        self.incident = incident or IncidentProfile()

    def run(self, tctx: TemplateContext, context: Context) -> dict[str, Any] | str:
        # both kept off the DAG-parse path, which every task process takes (measured: ~60 ms; test_dag_shape)
        from aof_airflow.agent.runtime import run_agent
        from aof_airflow.templating import render_text

        cfg = self.node.config
        prompt = render_or_fail(self.node.id, "input", render_text, cfg.input, tctx)
        if cfg.context:  # AOF's node `context`: named values handed to the agent with its input
            lines = [f"- {k}: {render_or_fail(self.node.id, f'context {k}', render_text, v, tctx)}"
                     for k, v in cfg.context.items()]
            prompt = f"{prompt}\n\nContext:\n" + "\n".join(lines)
        scope = scope_for(self.incident, tctx, flow=self.flow_name, run_id=context["dag_run"].run_id,
                          node_id=self.node.id)
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
