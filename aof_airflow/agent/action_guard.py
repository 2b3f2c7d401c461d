"""A model's proposed change goes ahead without a human only when the evidence supports it.

WHY in code: a language model can recommend a confident `rollout restart` for a probe on the wrong port or a
NetworkPolicy that blocks DNS, with `requires_approval: false`; the tutorial's flow then auto-approves and
executes it. Before such an answer leaves the Agent node, the cluster is read again (the same read-only kubectl
the model used) and the change is checked against its own preconditions and contraindications -- the table in
`aof_airflow/agent/rules/actions.py` the rules engine uses for its own changes, whatever cause anyone named.
The change goes ahead without a human only when every precondition is proven and nothing contraindicates it;
otherwise the answer stands, but `requires_approval` becomes true and the unproven or forbidding checks are
written beside it -- the model's diagnosis is kept, its autonomy is not. When the cluster cannot be read at
all, nothing supports the change either.

`[aof] model_changes_need_evidence = false` turns the check off (an operator's explicit choice, e.g. a test
bench whose scripted model has no cluster behind it); it is on by default.
"""

from __future__ import annotations

import logging
from typing import Any

from aof_airflow.agent.rules import actions as ax
from aof_airflow.agent.rules.engine import RulesEngine
from aof_airflow.agent.rules.objects import parse_resource
from aof_airflow.agent.rules.remediate import classify
from aof_airflow.agent.tools.guards import Limits
from aof_airflow.agent.tools.toolbox import Toolbox
from aof_airflow.agent.types import AgentResult, AgentScope
from aof_airflow.config import settings

log = logging.getLogger("aof.agent")


def check(result: AgentResult, toolbox: Toolbox, scope: AgentScope) -> None:
    """Require approval for a model's mutating recommendation the evidence does not support (in place)."""
    out = result.output
    if result.source != "llm" or not isinstance(out, dict) or "recommended_action" not in out or "requires_approval" not in out:
        return
    if out.get("requires_approval") is True or not settings().model_changes_need_evidence:
        return
    action, details = classify(str(out.get("recommended_action") or ""))
    if action == "none":
        return
    why = unsupported(action, toolbox, scope, details)
    if why:
        out["requires_approval"] = True
        out["approval_reason"] = why
        result.notes.append(f"[aof guard] {action} needs approval: {why}")
        log.warning("model's %s needs approval: %s", action, why)


def unsupported(action: str, toolbox: Toolbox, scope: AgentScope, details: dict[str, Any] | None = None) -> str | None:
    """Why the evidence does not support `action` for this incident (None: it does); `details` are what the model
    named (the pods it would delete)."""
    denied = Limits.from_settings().namespace_refusal(scope.namespace)
    if denied:
        return denied
    kind, name = parse_resource(scope.resource, scope.service)
    try:
        obs, _d = RulesEngine().diagnose(toolbox, scope.namespace or "default", kind, name)
    except Exception as e:  # the check itself could not run: nothing supports the change
        return f"the evidence could not be checked ({type(e).__name__}: {e})"
    if action not in ax.TABLE:
        return f"{action} is not a change whose preconditions are known"
    v = ax.verdict(action, obs)
    if not v.proven:
        return v.summary()
    named = set((details or {}).get("pods") or [])
    stuck = {n for n, _ in ax.F.stuck_pods(obs)}
    if action == "delete-pod" and named - stuck:
        return f"pod(s) {', '.join(sorted(named - stuck))} are not the stuck one(s) ({', '.join(sorted(stuck))})"
    return None
