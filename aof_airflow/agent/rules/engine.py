"""`RulesEngine`: the `builtin:k8s-rules` Engine. Decides what it is asked from the agent's output contract
and the structured lines the flow passes (`Action:`, `Remediation:`), then diagnoses, remediates, rolls back,
verifies or writes a post-incident report.

WHY the contract decides: the same engine stands in for every seed agent (`model` or `fallback_models`);
the diagnostic agent's contract has `root_cause`, the remediation agent's has `action_taken`, the
post-incident analyzer has none and asks for Markdown. Anything else is refused with a clear AgentError
instead of an answer that would only look plausible.
"""

from __future__ import annotations

import json
import re
import time
from typing import TYPE_CHECKING, Any

from aof_airflow.agent.tools.guards import Limits
from aof_airflow.agent.types import AgentError, AgentResult, AgentScope, Usage
from aof_airflow.config import settings

from . import BANNER, MODEL, SOURCE
from . import diagnose as dx
from . import remediate as rx
from . import report as rp
from .gather import Gatherer
from .objects import Observation, parse_resource

if TYPE_CHECKING:  # annotations only: the DAG-parse path stays light
    from aof_airflow.agent.tools.toolbox import Toolbox

DEFAULT_WINDOW = 60.0  # the seed's "monitor for 60 seconds"


def contract_fields(instructions: str) -> set[str]:
    """Field names of the agent's "Output format" block (the runtime's parser when present)."""
    try:
        from aof_airflow.agent import contract as contracts

        c = contracts.parse(instructions)
        if c is not None:
            return set(c.fields)
    except ImportError:  # pragma: no cover - the runtime module is part of the package
        pass
    block = instructions.split("Output format", 1)[-1] if "Output format" in instructions else ""
    return set(re.findall(r'"([a-z_]+)"\s*:', block))


def task_of(instructions: str, prompt: str) -> str:
    """The task, from the agent's output contract and the structured lines the flow passes -- not from wording:
    a remediation contract with an `Action:` line executes it, without one it undoes the change quoted after the
    prompt's first colon; a diagnostic contract with a `Remediation:` line verifies, otherwise diagnoses; an
    agent promising no JSON (the post-incident analyzer) gets the report counted from the JSON records it is given."""
    fields = contract_fields(instructions)
    if "action_taken" in fields:
        return "remediate" if re.search(r"^\s*Action\s*:", prompt, re.M) else "rollback"
    if "root_cause" in fields or "severity" in fields:
        return "verify" if re.search(r"^\s*Remediation\s*:", prompt, re.M) else "diagnose"
    if not fields:  # the post-incident analyzer: Markdown counted from the JSON records in the prompt
        return "report"
    raise AgentError(
        f"{MODEL} answers only the diagnostic (root_cause/severity), remediation (action_taken) and post-incident "
        f"(JSON records in, Markdown report out) agents; this agent's output format has fields {sorted(fields) or 'none'}. "
        f"Configure a language model for it.")


def _line(prompt: str, key: str) -> str | None:
    m = re.search(rf"^\s*{key}\s*:\s*(\S.*?)\s*$", prompt, re.M | re.I)
    v = m.group(1) if m else None
    return None if not v or v.startswith("${") or v.lower() in ("none", "null", "unknown", "-") else v


def target_from(prompt: str, scope: AgentScope) -> tuple[str, str | None]:
    """(namespace, resource): the scope first (set by the flow from the incident), then the prompt's lines,
    then a kubectl command quoted in the prompt (the verify and rollback prompts carry only that)."""
    cmd = re.search(r"kubectl\s+\S+(?:\s+\S+)*?\s+((?:deployment|deploy|statefulset|sts|pod|service|svc)/[a-z0-9][a-z0-9.-]*)", prompt)
    ns_flag = re.search(r"kubectl\b[^\n]*?(?:-n|--namespace)[= ]([a-z0-9-]+)", prompt)
    ns = scope.namespace or _line(prompt, "Namespace") or (ns_flag.group(1) if ns_flag else None) or "default"
    res = scope.resource or _line(prompt, "Resource") or (cmd.group(1) if cmd else None)
    return ns, res


def verify_window(prompt: str, deadline: float) -> float:
    m = re.search(r"monitor(?:ing)?\s+(?:for\s+)?(\d+)\s*s", prompt, re.I)
    want = float(m.group(1)) if m else DEFAULT_WINDOW
    cap = settings().rules_verify_window  # operators (and tests) may shorten the watch
    if cap is not None:
        want = min(want, cap)
    return max(0.0, min(want, deadline - time.monotonic() - 5.0))


class RulesEngine:
    """Engine protocol implementation for `builtin:<anything>` (the registry passes the model ref)."""

    def __init__(self, model_ref: str = MODEL, *, history: Any | None = None) -> None:
        """history: a metrics HistorySource for this engine's diagnoses (else the registered one, `history.py`)."""
        if model_ref != MODEL:
            raise AgentError(f"unknown builtin model {model_ref!r}; the only one is {MODEL}")
        self.model_ref = model_ref
        self.history = history
        self.last: dx.Diagnosis | None = None  # the latest diagnosis, for the evaluation harness

    def run(self, agent: Any, prompt: str, *, toolbox: Toolbox, scope: AgentScope, deadline: float) -> AgentResult:
        start = len(getattr(toolbox, "tool_calls", []) or [])
        astart = len(getattr(toolbox, "actions", []) or [])
        task = task_of(agent.spec.instructions, prompt)
        if task == "report":
            records = rp.extract_records(prompt)
            text = rp.build(records)
            return self._result(text, text, toolbox, start, astart, [f"{BANNER} post-incident report from {len(records)} record(s)"])
        ns, resource = target_from(prompt, scope)
        kind, name = parse_resource(resource, scope.service)
        if task in ("diagnose", "verify"):
            obs, d = self.diagnose(toolbox, ns, kind, name)
            text = dx.markdown(obs, d)
            return self._result(d.output, text, toolbox, start, astart,
                                [f"{BANNER} {task}: {d.cls}; {len(obs.commands)} kubectl call(s) in {obs.seconds:.2f}s"])
        if task == "remediate":
            out, text = self.remediate(prompt, toolbox, ns, kind, name, deadline)
        else:
            out, text = self.rollback(prompt, toolbox, ns, kind, name, deadline)
        return self._result(out, text, toolbox, start, astart, [f"{BANNER} {task}: {out['action_taken']} -> {out['result']}"])

    # ------------------------------------------------------------------------------------------- tasks
    def diagnose(self, toolbox: Toolbox, ns: str, kind: str, name: str | None, *, logs: bool = True) -> tuple[Observation, dx.Diagnosis]:
        obs = Gatherer(toolbox, ns, logs=logs, history=self.history).gather(kind, name)
        d = dx.diagnose(obs)
        denied = Limits.from_settings().namespace_refusal(ns) if d.action != "none" else None
        if denied and d.decision is not None:  # automation may not change this namespace: recommend the manual fix
            f = d.primary
            f.evidence.append(f"not changed automatically: {denied}")
            d.output["recommended_action"] = (f"none: no automated action; {denied}; manual fix: "
                                              f"{d.decision.command or ''} ({f.advice})".replace(":  (", ": ("))
            d.decision.action, d.decision.command = "none", None
        self.last = d
        d.output["diagnosed_by"] = MODEL
        d.output["evidence"] = d.primary.evidence[:8]
        return obs, d

    def fresh(self, toolbox: Toolbox, ns: str, kind: str, name: str | None) -> tuple[Observation, dx.Diagnosis]:
        """The check just before a change: the objects first; their logs too when the objects alone show no
        fault (a Ready, never-restarted pod's logs can hold the only sign of it)."""
        obs, d = self.diagnose(toolbox, ns, kind, name, logs=False)
        return self.diagnose(toolbox, ns, kind, name) if d.cls == "no-fault-found" else (obs, d)

    def remediate(self, prompt: str, toolbox: Toolbox, ns: str, kind: str, name: str | None, deadline: float) -> tuple[dict[str, Any], str]:
        # The check just before the change: is the fault still there, on which workload and pods. That is
        # read from the objects; the logs that explained the cause were read by the diagnosis.
        obs, before = self.fresh(toolbox, ns, kind, name)
        action_text = rx.parse_action_line(prompt)
        if before.cls == "no-fault-found":
            p = rx.Plan("none", None, "a fresh diagnosis finds nothing wrong any more; no change needed")
        else:
            p = rx.plan(action_text, before, obs.workload_ref, ns)
        return self._execute(p, toolbox, ns, kind, name, deadline, prompt, before, rollback=False)

    def rollback(self, prompt: str, toolbox: Toolbox, ns: str, kind: str, name: str | None, deadline: float) -> tuple[dict[str, Any], str]:
        failed = prompt.split(":", 1)[1] if ":" in prompt else prompt
        obs, before = self.fresh(toolbox, ns, kind, name)
        p = rx.rollback_plan(failed, obs.workload_ref, ns)
        return self._execute(p, toolbox, ns, kind, name, deadline, prompt, before, rollback=True)

    def _execute(self, p: rx.Plan, toolbox: Toolbox, ns: str, kind: str, name: str | None, deadline: float,
                 prompt: str, before: dx.Diagnosis, *, rollback: bool) -> tuple[dict[str, Any], str]:
        logs: list[str] = [f"{BANNER}", f"before: {before.cls}: {before.primary.summary}", f"plan: {p.action}: {p.why}"]
        changed_ok = True
        if p.command:
            made = len(getattr(toolbox, "actions", []) or [])
            call = toolbox.shell(p.command)
            logs.append(f"$ {p.command}\n{call.output.strip()[:1500]}")
            changed_ok = bool(call.ok)
            if call.refused:
                logs.append(f"refused by the Shell tool: {call.refused}")
                return self._not_applied(f"none (refused): {p.command}", f"not attempted: {call.refused}", logs, before)
            if any(getattr(a, "shadow", False) for a in (getattr(toolbox, "actions", []) or [])[made:]):
                return self._not_applied(f"shadow: would have run {p.command}",
                                         "shadow mode: nothing was changed (the server accepted the dry run)", logs, before)
        if p.command and not changed_ok:
            verification = "not verified: the change itself failed (see logs)"
            healthy, after = False, before
        elif p.command is None:
            # nothing changed: the fresh diagnosis made just before is the verification
            healthy, after = before.cls == "no-fault-found", before
            verification = (f"{'healthy' if healthy else 'still failing'} (no change made; checked just now): "
                            f"{after.cls}: {after.primary.summary} ({after.ready}/{after.desired} ready)")
        else:
            window = verify_window(prompt, deadline)
            if p.command and obs_ref_kind(kind, before) and window > 0:
                ref = self._status_target(before, kind, name)
                if ref:
                    t = max(1, int(min(window, 30)))
                    st = toolbox.shell(f"kubectl rollout status {ref} -n {ns} --timeout={t}s")
                    logs.append(f"$ kubectl rollout status {ref} --timeout={t}s\n{st.output.strip()[:800]}")
                    window = max(0.0, verify_window(prompt, deadline) - 0)
            healthy, after, rounds = rx.verify(lambda: self.diagnose(toolbox, ns, kind, name)[1], window)
            verification = (f"{'healthy' if healthy else 'still failing'} after {rounds} check(s) within {window:.0f}s: "
                            f"{after.cls}: {after.primary.summary} ({after.ready}/{after.desired} ready)")
        if rollback:
            result = "success" if (p.command is None or changed_ok) else "failed"
            if p.command and changed_ok and not healthy:
                result = "partial"
        elif p.command is None:
            result = "success" if healthy else "failed"
            if not healthy:
                verification += f"; manual intervention required: {before.primary.advice or before.output['recommended_action']}"
        else:
            result = "success" if healthy else ("partial" if changed_ok and after.cls != before.cls else "failed")
        out = {
            "action_taken": p.command or f"none: {p.why}",
            "result": result,
            "verification": verification,
            "rollback_needed": bool(not rollback and p.command and changed_ok and not healthy and p.action != "delete-pod"),
            "logs": "\n".join(logs)[-4000:],
            "remediated_by": MODEL,
        }
        text = f"Remediation by {MODEL} (deterministic rules, no language model).\n\n```json\n{json.dumps(out, indent=2)}\n```"
        return out, text

    @staticmethod
    def _not_applied(taken: str, why: str, logs: list[str], before: dx.Diagnosis) -> tuple[dict[str, Any], str]:
        """A change the guards did not let through, or shadow mode recorded instead: nothing fixed, nothing to
        undo; the fault as last seen goes to the human the flow escalates to."""
        out = {
            "action_taken": taken,
            "result": "failed",
            "verification": f"{why}; still failing as checked just before: {before.cls}: {before.primary.summary} "
                            f"({before.ready}/{before.desired} ready); manual fix: {before.primary.advice or before.output['recommended_action']}",
            "rollback_needed": False,
            "logs": "\n".join(logs)[-4000:],
            "remediated_by": MODEL,
        }
        return out, f"Remediation by {MODEL} (deterministic rules, no language model).\n\n```json\n{json.dumps(out, indent=2)}\n```"

    @staticmethod
    def _status_target(before: dx.Diagnosis, kind: str, name: str | None) -> str | None:
        refs = [a for a in before.output.get("affected_components", []) if a.startswith(("deployment/", "statefulset/"))]
        return refs[0] if refs else None

    def _result(self, output: dict[str, Any] | str, text: str, toolbox: Toolbox, start: int, astart: int, notes: list[str]) -> AgentResult:
        calls = list((getattr(toolbox, "tool_calls", []) or [])[start:])
        return AgentResult(
            output=output, text=text, model=MODEL, source=SOURCE, usage=Usage(), steps=len(calls),
            tool_calls=calls, actions=list((getattr(toolbox, "actions", []) or [])[astart:]), notes=notes,
        )


def obs_ref_kind(kind: str, before: dx.Diagnosis) -> bool:
    """`rollout status` applies to Deployments and StatefulSets only."""
    return any(a.startswith(("deployment/", "statefulset/")) for a in before.output.get("affected_components", []))
