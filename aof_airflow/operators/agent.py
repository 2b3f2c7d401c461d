"""Agent node: render `input`, run the named agent through the runtime's one entry point, return its contract.

The operator knows nothing about models or tools: it calls `aof_airflow.agent.runtime.run_agent` with an
AgentScope naming what the incident lets it touch, as the flow's incident profile finds it
(spec/incident.py). The contract object is the XCom return value (what templates see); the rest
(model, usage, tool calls, actions) goes beside it under the XCom key `aof_meta`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from airflow.sdk import BaseOperator, Context

from aof_airflow.agent.types import AgentScope
from aof_airflow.operators.base import NodeOperator, render_or_fail
from aof_airflow.spec.compat import inline_agent
from aof_airflow.spec.incident import IncidentProfile
from aof_airflow.spec.models import Agent, AgentFlow, AgentNode

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
    """Runs an Agent node's agent (named or inline) on its rendered input, within the incident's scope.

    :param agent: the Agent document the node names (or its inline agent)
    :param incident: where the flow's incident id, service, namespace and resource come from
    """

    ui_color = "#fde7d6"
    node: AgentNode
    node_types = ("Agent",)

    @classmethod
    def plan_kwargs(cls, node: AgentNode, flow: AgentFlow, incident: IncidentProfile) -> dict[str, Any]:  # type: ignore[override]
        kw: dict[str, Any] = {"incident": incident}
        if node.config.inline is not None:  # validated once per content, kept in the scan cache
            kw["agent"] = inline_agent(node.config.inline, flow.name)
        return kw

    @classmethod
    def build(cls, node: AgentNode, kwargs: dict[str, Any], agents: Mapping[str, Agent]) -> BaseOperator:  # type: ignore[override]
        agent = kwargs.pop("agent", None) or agents.get(node.config.agent or "")
        if agent is None:
            raise KeyError(f"node {node.id!r} runs agent {node.config.agent!r}, which no Agent file defines "
                           f"(known: {', '.join(sorted(agents)) or 'none'})")
        return cls(agent=agent, **kwargs)

    def __init__(self, *, agent: Agent, incident: IncidentProfile | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.agent = agent
        self.incident = incident or IncidentProfile()

    def run(self, tctx: TemplateContext, context: Context) -> dict[str, Any] | str:
        from aof_airflow.agent.runtime import run_agent  # tools, engines, SDKs: run time only
        from aof_airflow.templating import render_text  # off the DAG-parse path

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
