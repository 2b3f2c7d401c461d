"""Findings -> the diagnostic agent's JSON contract (severity, root_cause, affected_components, impact,
recommended_action, requires_approval, confidence).

WHY here and not in the detectors: severity is about impact (how many replicas still serve, whether the
workload holds state), not about the failure class; one place decides it, the same way for every class.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import BANNER, MODEL
from .detectors import Finding, pod_name, pod_ready, pods_of, run_all
from .gather import KINDS, Observation

SEVERITIES = ("low", "medium", "high", "critical")
PRECURSORS = {"memory-near-limit"}  # a warning sign, not a failure: never raised to high by itself
# Failures seen in logs or around the pods, not in their restarts: "every replica is failing" does not
# make them outages by itself (the pods still serve what does not need the refused call).
SERVING = {"rbac-forbidden", "errors-in-logs", "network-policy-blocking", "node-not-ready"}
CONTRACT_KEYS = ("severity", "root_cause", "affected_components", "impact", "recommended_action", "requires_approval", "confidence")


@dataclass
class Diagnosis:
    """The chosen cause, the rest of what was found, and the contract object built from them."""

    primary: Finding
    others: list[Finding]
    severity: str
    ready: int
    desired: int
    output: dict[str, Any] = field(default_factory=dict)

    @property
    def cls(self) -> str:
        return self.primary.cls

    @property
    def action(self) -> str:
        return self.primary.action


def availability(obs: Observation) -> tuple[int, int]:
    """(ready, desired) replicas of what the incident names; pods counted when there is no controller. When the
    pod list was longer than what was read, the controller's own status counts (a partial list undercounts)."""
    w = obs.workload
    pods = pods_of(obs)
    ready = sum(pod_ready(p) for p in pods)
    if obs.job is not None and w is None:
        return 0, 0  # a Job has no replicas to serve: its outcome is its conditions
    if w is not None and obs.daemonset is not None:
        st = w.get("status", {})
        desired = st.get("desiredNumberScheduled", len(pods))
        return (min(ready, desired) if pods and obs.pods_complete else st.get("numberReady") or 0), desired
    if w is not None:
        desired = w.get("spec", {}).get("replicas", 1)
        if pods and obs.pods_complete:
            return min(ready, desired), desired
        return min(w.get("status", {}).get("readyReplicas") or 0, desired), desired
    if obs.service is not None:
        subsets = (obs.endpoints or {}).get("subsets") or []
        eps = sum(len(s.get("addresses") or []) for s in subsets)
        return eps, max(len(pods), 1)
    return ready, len(pods)


def _max(*sev: str) -> str:
    return max(sev, key=SEVERITIES.index)


def severity_for(obs: Observation, primary: Finding, findings: list[Finding]) -> tuple[str, int, int]:
    ready, desired = availability(obs)
    if desired > 0 and ready == 0:
        sev = "critical" if obs.statefulset is not None else "high"
    elif ready < desired:
        sev = "medium"
    else:
        sev = "low"
    pods = {pod_name(p) for p in pods_of(obs)}
    if primary.cause and pods and pods <= set(primary.affected) and primary.cls not in PRECURSORS | SERVING and obs.job is None:
        sev = _max(sev, "high")  # every replica is failing (restarting, unschedulable...): the outage is only a matter of time
    sev = _max(sev, primary.min_severity, *(f.min_severity for f in findings if f.cls == "statefulset-down"))
    return sev, ready, desired


def choose(findings: list[Finding]) -> Finding | None:
    """First cause by detector priority; a symptom only when no cause explains it."""
    causes = [f for f in findings if f.cause]
    pool = causes or findings
    if not pool:
        return None
    # rollout-stuck is a cause only when no pod-level reason explains the stuck rollout
    specific = [f for f in pool if f.cls != "rollout-stuck"]
    pool = specific or pool
    return sorted(pool, key=lambda f: f.rank)[0]


# Kinds and signals this engine does not read unless a symptom points there: named in every answer that
# finds nothing, so "nothing found" is never mistaken for "nothing wrong".
NOT_READ = ("HorizontalPodAutoscalers", "Ingresses", "PodDisruptionBudgets", "RBAC (Roles, RoleBindings)",
            "NetworkPolicies (read only when logs show network errors)", "metrics beyond kubectl top",
            "dependencies outside the cluster")


def not_examined(obs: Observation) -> str:
    read = [f"{len(obs.pods)} pod(s)", f"{len(obs.events)} event(s)", f"logs of {len(obs.logs)} container(s)"]
    skipped = [k for k in NOT_READ if not (k.startswith("NetworkPolicies") and obs.networkpolicies is not None)]
    if obs.nodes is None:
        skipped.insert(0, "Nodes")
    return f"examined {', '.join(read)}; not examined: {', '.join(skipped)}"


def healthy_or_unknown(obs: Observation) -> Finding:
    """Nothing matched: either nothing is wrong in what was read (say what was not), something is wrong that no
    detector knows, or the incident names a kind this engine does not read at all (say so: not "not found")."""
    ready, desired = availability(obs)
    if not obs.examined:
        return Finding(
            cls="not-examined", summary=f"{obs.kind}/{obs.name} was not examined: builtin:k8s-rules does not read {obs.kind} objects",
            evidence=[f"{obs.kind} is not among the kinds builtin:k8s-rules reads ({', '.join(k for k in KINDS if k != 'namespace')})",
                      "no kubectl command was run for it; nothing is known about its state"],
            action="none", confidence=0.1, min_severity="medium",
            advice=f"diagnose {obs.kind}/{obs.name} by hand (kubectl describe {obs.kind} {obs.name}) or with a language model",
        )
    if obs.target is None and obs.kind != "namespace":
        return Finding(
            cls="resource-not-found", summary=f"{obs.kind}/{obs.name} was not found in namespace {obs.namespace}",
            evidence=[e for e in obs.errors[:2]], action="none", confidence=0.5, min_severity="medium",
            advice="check the resource name and namespace given by the alert",
        )
    pods = pods_of(obs)
    unready = [p for p in pods if not pod_ready(p) and p.get("status", {}).get("phase") != "Succeeded"]
    if unready or ready < desired:
        ev = [f"pod {pod_name(p)}: phase {p.get('status', {}).get('phase')}, not ready" for p in unready[:3]]
        ev.append(f"{ready}/{desired} replicas ready")
        ev.append(not_examined(obs))
        return Finding(
            cls="unclassified", summary=f"{ready}/{desired} replicas ready, but no known failure pattern matches",
            evidence=ev, action="none", confidence=0.3, affected=[pod_name(p) for p in unready],
            min_severity="medium", advice="investigate manually: describe the pods and read their logs",
        )
    ev = [f"{ready}/{desired} replicas ready"]
    restarts = sum(cs.get("restartCount", 0) for p in pods for cs in p.get("status", {}).get("containerStatuses", []) or [])
    counted = "" if obs.pods_complete else f" (of {len(pods)} read; the controller's status counts {ready} ready)"
    ev.append(f"{len(pods)} pod(s) Running and Ready, {restarts} restart(s) in total{counted}")
    warn = [e for e in obs.events if e.get("type") == "Warning"]
    ev.append(f"{len(warn)} Warning event(s) about these objects")
    ev.append(not_examined(obs))
    return Finding(
        cls="no-fault-found", summary=f"nothing wrong in what was examined: {ready}/{desired} replicas ready, no failure "
                                      "pattern in pods, events or logs; the cause may lie in what was not examined",
        evidence=ev, action="none", confidence=0.4 if not warn else 0.3, min_severity="low",
        advice="look at what was not examined (autoscalers, ingress, RBAC, dependencies outside the cluster)",
    )


def diagnose(obs: Observation, findings: list[Finding] | None = None) -> Diagnosis:
    findings = run_all(obs) if findings is None else findings
    primary = choose(findings) or healthy_or_unknown(obs)
    if primary.cls in ("service-no-endpoints", "statefulset-down"):
        # symptom with no explaining cause found: still report it, with an honest, lower confidence
        primary.confidence = min(primary.confidence, 0.5)
    others = [f for f in findings if f is not primary]
    sev, ready, desired = severity_for(obs, primary, findings)
    d = Diagnosis(primary=primary, others=others, severity=sev, ready=ready, desired=desired)
    d.output = contract(obs, d)
    return d


def recommended_action(obs: Observation, f: Finding) -> str:
    if f.action != "none" and f.command:
        return f"{f.command} ({f.advice})" if f.advice else f.command
    return f"none: no automated action; {f.advice or 'manual investigation needed'}"


def contract(obs: Observation, d: Diagnosis) -> dict[str, Any]:
    f = d.primary
    quotes = "; ".join(f.evidence[:3])
    extra = "".join(f" Also: {o.summary}." for o in d.others[:2])
    root = f"{BANNER} {f.cls}: {f.summary}. Evidence: {quotes}.{extra}"
    affected = list(dict.fromkeys(
        ([obs.workload_ref] if obs.workload_ref else [])
        + ([f"service/{obs.service['metadata']['name']}"] if obs.service else [])
        + [a for a in f.affected]
    ))
    if f.cls == "no-fault-found":
        impact = f"none observed in what was examined: {d.ready}/{d.desired} replicas ready"
    elif f.cls == "not-examined":
        impact = f"unknown: {obs.kind}/{obs.name} was not examined"
    elif obs.job is not None and obs.workload is None:
        impact = f"job/{obs.job['metadata']['name']} did not complete: its work was not done"
    elif d.desired and d.ready == 0:
        impact = f"outage: 0/{d.desired} replicas of {obs.workload_ref or obs.kind + '/' + str(obs.name)} ready" + (
            " (stateful workload: data store unavailable)" if obs.statefulset is not None else "")
    elif d.ready < d.desired:
        impact = f"degraded: {d.ready}/{d.desired} replicas ready; reduced capacity, possible errors for users"
    else:
        impact = f"{d.ready}/{d.desired} replicas ready; intermittent errors possible while containers restart" if f.cls not in ("evicted",) \
            else f"{d.ready}/{d.desired} replicas ready; failed pods left behind"
    mutating = f.action != "none"
    requires = d.severity == "critical" or (mutating and obs.statefulset is not None)
    return {
        "severity": d.severity,
        "root_cause": root,
        "affected_components": affected or [f"{obs.kind}/{obs.name}"],
        "impact": impact,
        "recommended_action": recommended_action(obs, f),
        "requires_approval": bool(requires),
        "confidence": round(f.confidence, 2),
    }


def markdown(obs: Observation, d: Diagnosis) -> str:
    """The human-readable answer (AgentResult.text): contract first, then every finding with its evidence."""
    import json

    lines = [f"Diagnosis by {MODEL} (deterministic detectors over kubectl output; no language model).", "",
             "```json", json.dumps(d.output, indent=2), "```", "", f"## {d.primary.cls}: {d.primary.summary}"]
    lines += [f"- {e}" for e in d.primary.evidence]
    for o in d.others:
        lines += ["", f"## also {o.cls}: {o.summary}"] + [f"- {e}" for e in o.evidence]
    if obs.errors:
        lines += ["", "## commands that failed"] + [f"- {e}" for e in obs.errors]
    return "\n".join(lines)
