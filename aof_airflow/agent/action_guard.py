"""A model's proposed change goes ahead without a human only when the evidence supports it.

WHY in code: a language model can recommend a confident `rollout restart` for a probe on the wrong port or a
NetworkPolicy that blocks DNS, with `requires_approval: false`; the tutorial's flow then auto-approves and
executes it. Before such an answer leaves the Agent node, the same read-only kubectl the model used is read by
the deterministic detectors (`builtin:k8s-rules`): the change is supported only when they independently name a
cause that this very action removes. Otherwise the answer stands, but `requires_approval` becomes true and the
reason is written beside it -- the model's diagnosis is kept, its autonomy is not. When the cluster cannot be
read at all, nothing supports the change either.

`[aof] model_changes_need_evidence = false` turns the check off (an operator's explicit choice, e.g. a test
bench whose scripted model has no cluster behind it); it is on by default.
"""

from __future__ import annotations

import logging

from aof_airflow.agent.rules.engine import RulesEngine
from aof_airflow.agent.rules.gather import parse_resource
from aof_airflow.agent.rules.remediate import classify
from aof_airflow.agent.tools.guards import Limits
from aof_airflow.agent.tools.toolbox import Toolbox
from aof_airflow.agent.types import AgentResult, AgentScope
from aof_airflow.config import setting

log = logging.getLogger("aof.agent")
# A smaller change than the one the evidence supports is supported too (one pod instead of all of them).
NARROWER = {"rollout-restart": {"delete-pod"}}


def check(result: AgentResult, toolbox: Toolbox, scope: AgentScope) -> None:
    """Require approval for a model's mutating recommendation the evidence does not support (in place)."""
    out = result.output
    if result.source != "llm" or not isinstance(out, dict) or "recommended_action" not in out or "requires_approval" not in out:
        return
    if out.get("requires_approval") is True or (setting("model_changes_need_evidence") or "true").strip().lower() in ("false", "0", "no", "off"):
        return
    action, _details = classify(str(out.get("recommended_action") or ""))
    if action == "none":
        return
    why = unsupported(action, toolbox, scope)
    if why:
        out["requires_approval"] = True
        out["approval_reason"] = why
        result.notes.append(f"[aof guard] {action} needs approval: {why}")
        log.warning("model's %s needs approval: %s", action, why)


def unsupported(action: str, toolbox: Toolbox, scope: AgentScope) -> str | None:
    """Why the evidence does not support `action` for this incident (None: it does)."""
    denied = Limits.from_settings().namespace_refusal(scope.namespace)
    if denied:
        return denied
    kind, name = parse_resource(scope.resource, scope.service)
    try:
        _obs, d = RulesEngine().diagnose(toolbox, scope.namespace or "default", kind, name)
    except Exception as e:  # the check itself could not run: nothing supports the change
        return f"the evidence could not be checked ({type(e).__name__}: {e})"
    if d.action == action or action in NARROWER.get(d.action, set()):
        return None
    return (f"the deterministic check of the same cluster finds {d.cls} ({d.primary.summary}), for which it "
            f"recommends {d.action if d.action != 'none' else 'no automated change'}, not {action}")
