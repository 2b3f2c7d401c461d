"""Findings + the inventory + the action checks -> the diagnostic agent's JSON contract (severity, root_cause,
affected_components, impact, recommended_action, requires_approval, confidence).

WHY here and not in the detectors: the cause (which may be "unknown"), the change (proven by its own
preconditions, `actions.py`) and the severity (from impact: replicas ready, endpoints serving, errors, work
waiting) are three separate judgments; this module puts them side by side without letting one decide another.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import BANNER, MODEL
from . import actions as ax
from . import facts as F
from .detectors import Finding, run_all
from .inventory import ERROR_LINE, Anomaly, explained, inventory
from .objects import KINDS, Observation, pod_name, pod_ready, pods_of, selector_matches

SEVERITIES = ("low", "medium", "high", "critical")
UNKNOWN = ("unclassified", "no-fault-found", "not-examined", "resource-not-found")  # no cause named
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
    decision: ax.Decision | None = None
    anomalies: list[Anomaly] = field(default_factory=list)
    unexplained: list[Anomaly] = field(default_factory=list)

    @property
    def cls(self) -> str:
        return self.primary.cls

    @property
    def action(self) -> str:
        """The change proposed (judged by its preconditions), not the one the cause called for."""
        return self.decision.action if self.decision else "none"


def availability(obs: Observation) -> tuple[int, int]:
    """(ready, desired) replicas of what the incident names, exactly as the controller's status says (a sentence
    of fact must be true of the data); pods counted only when there is no controller."""
    w = obs.workload
    pods = pods_of(obs)
    if obs.job is not None and w is None:
        return 0, 0  # a Job has no replicas to serve: its outcome is its conditions
    if w is not None and obs.daemonset is not None:
        st = w.get("status", {})
        return st.get("numberReady") or 0, st.get("desiredNumberScheduled") or 0
    if w is not None:
        desired = w.get("spec", {}).get("replicas", 1)
        return min(w.get("status", {}).get("readyReplicas") or 0, desired), desired
    if obs.service is not None:
        subsets = (obs.endpoints or {}).get("subsets") or []
        eps = sum(len(s.get("addresses") or []) for s in subsets)
        return eps, max(len(pods), 1)
    return sum(pod_ready(p) for p in pods), len(pods)


def _max(*sev: str) -> str:
    return max(sev, key=SEVERITIES.index)


def severity_for(obs: Observation, anomalies: list[Anomaly]) -> tuple[str, int, int]:
    """From impact, whatever the class: replicas ready against desired, every replica failing, Services in
    front with no ready endpoint, errors in the logs of serving pods, work waiting (Jobs, pending pods)."""
    ready, desired = availability(obs)
    if desired > 0 and ready == 0:
        sev = "critical" if obs.statefulset is not None else "high"
    elif ready < desired:
        sev = "medium"
    else:
        sev = "low"
    pods = pods_of(obs)
    failing = F.failing_pods(obs)
    if pods and len(failing) == len(pods) and desired and obs.job is None:
        sev = _max(sev, "high")  # every replica is failing (restarting, unschedulable...): the outage is only a matter of time
    if any(a.subject.startswith("service/") and ("no ready endpoints" in a.text or " targets " in a.text) for a in anomalies):
        sev = _max(sev, "high")  # a Service in front that can serve nothing: every request fails
    work = obs.job is not None or any(p.get("status", {}).get("phase") == "Pending" for p in pods)
    if not obs.examined or obs.unread_dependencies or (obs.target is None and obs.kind != "namespace"):
        sev = _max(sev, "medium")  # the impact is unknown: never reported as low
    if any(a.impact for a in anomalies) or (work and anomalies):
        sev = _max(sev, "medium")  # errors, saturation, waiting work: users or jobs are affected
    serving = _serving(obs, pods)
    if serving and (F.cpu_saturated(obs) or _errors_in_every(obs, serving)):
        sev = _max(sev, "high")  # every replica doing the work is pinned or answering with errors: users see it now
    if F.recurring_evictions(obs):
        sev = _max(sev, "medium")  # a pod evicted for its own usage is evicted again: the work it holds is lost each time
    if F.job_overdue(obs) and any(e.get("reason") == "JobAlreadyActive" for e in obs.events):
        sev = _max(sev, "high")  # the schedule's runs are skipped behind a Job far past its history: work piles up
    return sev, ready, desired


def _serving(obs: Observation, pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The Ready pods that do the workload's work: those a Service selects, or, when no Service selects any of the
    workload's pods (a worker, a consumer), its Ready pods when there are several (work fails whichever replica
    takes it; one replica's errors alone do not tell the work from the process)."""
    ready = [p for p in pods if pod_ready(p)]
    fronted = [p for p in ready if any(selector_matches((s.get("spec") or {}).get("selector"), p["metadata"].get("labels"))
                                       for s in obs.services or [] if (s.get("spec") or {}).get("selector"))]
    return fronted or (ready if obs.workload is not None and obs.services is not None and len(ready) >= 2 else [])


def _errors_in_every(obs: Observation, pods: list[dict[str, Any]]) -> bool:
    """Every pod of these whose current log was read has error lines, and logs of at least two (or all) were read:
    the errors are not one replica's."""
    def texts(p: dict[str, Any]) -> list[str]:
        return [t for k, t in obs.logs.items() if k.split("/")[0] == pod_name(p) and not k.endswith("/previous")]
    read = [p for p in pods if texts(p)]
    if not read or len(read) < min(2, len(pods)):
        return False
    return all(any(ERROR_LINE.search(ln) for t in texts(p) for ln in (t or "").splitlines()) for p in read)


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


def not_examined(obs: Observation) -> str:
    read = [f"{len(obs.pods)} pod(s)", f"{len(obs.events)} event(s)", f"logs of {len(obs.logs)} container(s)"]
    read += [f"{len(v)} {k}" for k, v in (("Service(s)", obs.services), ("Node(s)", obs.nodes), ("HPA(s)", obs.hpas),
                                          ("PDB(s)", obs.pdbs), ("ResourceQuota(s)", obs.quotas)) if v is not None]
    return f"examined {', '.join(read)}; not examined: {', '.join(obs.not_examined())}"


# Kinds whose health shows in the pods that use them: with none of those read, "nothing wrong" would be a guess.
USED_BY_PODS = {"persistentvolumeclaim", "service", "configmap", "secret", "ingress"}


def _manual_endpoints(obs: Observation) -> list[str]:
    """The addresses of a selectorless Service's Endpoints (written by hand, often pointing outside the cluster)."""
    svc = obs.service or (obs.target if obs.kind == "service" else None)
    if not svc or (svc.get("spec") or {}).get("selector"):
        return []
    eps = obs.endpoints or (obs.endpoints_of or {}).get(svc["metadata"]["name"]) or {}
    return [f"{a.get('ip')}:{p.get('port')}" for s in eps.get("subsets") or [] for a in s.get("addresses") or []
            for p in (s.get("ports") or [{}])][:4]


def healthy_or_unknown(obs: Observation, anomalies: list[Anomaly]) -> Finding:
    """No detector named a cause: nothing is wrong in what was read (only when the inventory is empty), or
    something is wrong that no detector knows (the anomalies are listed, the cause is "unknown"), or the named
    object was not found or not examined (said so, never "fine")."""
    ready, desired = availability(obs)
    if not obs.examined:
        return Finding(
            cls="not-examined", summary=f"{obs.kind}/{obs.name} was not examined: builtin:k8s-rules does not read {obs.kind} objects",
            evidence=[f"{obs.kind} is not among the kinds builtin:k8s-rules reads ({', '.join(k for k in KINDS if k != 'namespace')})",
                      "no kubectl command was run for it; nothing is known about its state"],
            confidence=0.1,
            advice=f"diagnose {obs.kind}/{obs.name} by hand (kubectl describe {obs.kind} {obs.name}) or with a language model",
        )
    if obs.target is None and obs.kind != "namespace":
        why = obs.not_read.get(obs.kind)
        if why:
            return Finding(cls="not-examined", summary=f"{obs.kind}/{obs.name} was not examined: {why}",
                           evidence=[f"{obs.kind}/{obs.name}: {why}", not_examined(obs)], confidence=0.1,
                           advice=f"diagnose {obs.kind}/{obs.name} by hand (kubectl describe {obs.kind} {obs.name})")
        return Finding(
            cls="resource-not-found", summary=f"{obs.kind}/{obs.name} was not found in namespace {obs.namespace}",
            evidence=[e for e in obs.errors[:2]], confidence=0.5,
            advice="check the resource name and namespace given by the alert",
        )
    counts = f"{ready}/{desired} replicas ready" if desired else f"{len(pods_of(obs))} pod(s) read"
    if not anomalies and obs.unread_dependencies:
        what = "; ".join(obs.unread_dependencies)
        return Finding(cls="not-examined", summary=f"{obs.kind}/{obs.name} was read, but what it depends on was not examined: {what}",
                       evidence=[f"{obs.kind}/{obs.name}: found; not examined: {what}", not_examined(obs)], confidence=0.2,
                       advice=f"check by hand what was not examined ({what})")
    if anomalies:
        subjects = sorted({a.subject for a in anomalies if a.subject.count("/") == 1})
        return Finding(
            cls="unclassified", summary=f"{counts}; {len(anomalies)} anomal{'y' if len(anomalies) == 1 else 'ies'} "
                                        "found that no known failure mechanism explains: the cause is unknown",
            evidence=[str(a) for a in anomalies[:6]] + [not_examined(obs)], confidence=0.3, affected=subjects[:8],
            advice="investigate the anomalies listed: describe the objects and read their logs",
        )
    if not pods_of(obs) and obs.kind in USED_BY_PODS and not obs.users_read:
        what = [f"the pods that use {obs.kind}/{obs.name} (none was read: their state and logs are unknown)"]
        what += [f"whether {a} answers (hand-written Endpoints: no selector picks these addresses)" for a in _manual_endpoints(obs)]
        return Finding(cls="not-examined", summary=f"{obs.kind}/{obs.name} was read, but not what uses it: {'; '.join(what)}",
                       evidence=[f"{obs.kind}/{obs.name}: found; not examined: {'; '.join(what)}", not_examined(obs)],
                       confidence=0.2, advice=f"look at the pods that use {obs.kind}/{obs.name}: their events and logs")
    ev = [counts, f"{len(pods_of(obs))} pod(s) read: none waiting, restarting, unready or near a limit; no Warning event; "
          "no error line in the logs read", not_examined(obs)]
    return Finding(
        cls="no-fault-found", summary=f"nothing wrong in what was examined: {counts}, no anomaly in pods, events, "
                                      "Services, nodes or logs; the cause may lie in what was not examined",
        evidence=ev, confidence=0.4,
        advice="look at what was not examined (listed above)",
    )


def diagnose(obs: Observation, findings: list[Finding] | None = None, table: dict[str, ax.ActionRule] | None = None) -> Diagnosis:
    """The cause, the inventory, the change judged by its own checks, and the severity from impact."""
    findings = run_all(obs) if findings is None else findings
    anomalies = inventory(obs)
    primary = choose(findings) or healthy_or_unknown(obs, anomalies)
    if primary.cls in ("service-no-endpoints", "statefulset-down"):
        # symptom with no explaining cause found: still report it, with an honest, lower confidence
        primary.confidence = min(primary.confidence, 0.5)
    others = [f for f in findings if f is not primary]
    names = set(primary.affected) | {a for o in others if not o.cause for a in o.affected}
    touches = obs.workload_ref and (obs.workload_ref in names or any(pod_name(p) in names for p in obs.pods))
    unexplained = [a for a in anomalies if not explained(a, names | ({obs.workload_ref} if touches else set()), obs.workload_ref)]
    if primary.cls in UNKNOWN:
        unexplained = list(anomalies)  # the cause is unknown: nothing is explained (its evidence lists them)
    elif unexplained:
        primary.confidence = max(0.3, primary.confidence - 0.1 * min(3, len(unexplained)))
    sev, ready, desired = severity_for(obs, anomalies)
    if primary.cls == "not-examined":
        sev = _max(sev, "medium")  # what was not examined may be down: an unknown impact is never reported as low
    d = Diagnosis(primary=primary, others=others, severity=sev, ready=ready, desired=desired, anomalies=anomalies,
                  unexplained=unexplained)
    d.decision = ax.decide(obs, primary.action, primary.command, table)
    d.output = contract(obs, d)
    return d


def recommended_action(obs: Observation, d: Diagnosis) -> str:
    """The proposed change with its proof, or the manual fix with why no change is proposed."""
    f, dec = d.primary, d.decision
    if dec is not None and dec.action != "none" and dec.command:
        note = f" ({f.advice})" if f.advice and dec.action == f.action else ""
        gate = "" if dec.proven else f"; needs approval: {dec.why}"
        return f"{dec.command}{note}{gate}"
    why = f"; {dec.why}" if dec is not None and f.action != "none" else ""
    return f"none: no automated action; {f.advice or 'manual investigation needed'}{why}"


def contract(obs: Observation, d: Diagnosis) -> dict[str, Any]:
    f, dec = d.primary, d.decision
    quotes = "; ".join(f.evidence[:3])
    extra = "".join(f" Also: {o.summary}." for o in d.others[:2])
    unexplained = (f" Not explained by this cause: {'; '.join(str(a) for a in d.unexplained[:3])}."
                   if d.unexplained and f.cls not in UNKNOWN else "")
    root = f"{BANNER} {f.cls}: {f.summary}. Evidence: {quotes}.{extra}{unexplained}"
    affected = list(dict.fromkeys(
        ([obs.workload_ref] if obs.workload_ref else [])
        + ([f"service/{obs.service['metadata']['name']}"] if obs.service else [])
        + [a for a in f.affected]
    ))
    counts = f"{d.ready}/{d.desired} replicas ready" if d.desired else f"{len(pods_of(obs))} pod(s)"
    if f.cls == "no-fault-found":
        impact = f"none observed in what was examined: {counts}"
    elif f.cls == "not-examined":
        impact = f"unknown: {obs.kind}/{obs.name} was not examined"
    elif obs.job is not None and obs.workload is None:
        active = obs.job.get("status", {}).get("active")
        impact = (f"job/{obs.job['metadata']['name']} has not finished: the work it does waits" if active else
                  f"job/{obs.job['metadata']['name']} did not complete: its work was not done")
    elif d.desired and d.ready == 0:
        impact = f"outage: 0/{d.desired} replicas of {obs.workload_ref or obs.kind + '/' + str(obs.name)} ready" + (
            " (stateful workload: data store unavailable)" if obs.statefulset is not None else "")
    elif d.ready < d.desired:
        impact = f"degraded: {d.ready}/{d.desired} replicas ready; reduced capacity, possible errors for users"
    else:
        impact = f"{counts}; " + ("failed pods left behind" if f.cls == "evicted" else
                                  "the anomalies listed may affect users" if d.anomalies else "no user impact seen")
    mutating = dec is not None and dec.action != "none"
    # a change is automatic only when proven, explaining everything seen, not critical, and aimed at what the
    # incident named (a namespace-wide page names no workload: the target would be inferred)
    requires = d.severity == "critical" or (mutating and (not dec.proven or bool(d.unexplained)  # type: ignore[union-attr]
                                                          or obs.kind == "namespace"))
    out = {
        "severity": d.severity,
        "root_cause": root,
        "affected_components": affected or [f"{obs.kind}/{obs.name}"],
        "impact": impact,
        "recommended_action": recommended_action(obs, d),
        "requires_approval": bool(requires),
        "confidence": round(f.confidence, 2),
        # beyond the contract's fields (allowed: it checks the ones it names): what a reviewer needs
        "anomalies": [str(a) for a in d.anomalies[:20]],
        "not_examined": obs.not_examined(),
        "action_checks": {a: v.summary() for a, v in (dec.verdicts.items() if dec else [])},
        "reads": {"kubectl_calls": len(obs.commands), "seconds": round(obs.seconds, 2)},
    }
    return out


def markdown(obs: Observation, d: Diagnosis) -> str:
    """The human-readable answer (AgentResult.text): contract first, then every finding with its evidence."""
    import json

    lines = [f"Diagnosis by {MODEL} (deterministic detectors over kubectl output; no language model).", "",
             "```json", json.dumps(d.output, indent=2), "```", "", f"## {d.primary.cls}: {d.primary.summary}"]
    lines += [f"- {e}" for e in d.primary.evidence]
    for o in d.others:
        lines += ["", f"## also {o.cls}: {o.summary}"] + [f"- {e}" for e in o.evidence]
    if d.anomalies:
        lines += ["", "## anomalies in what was read"] + [f"- {a}" + ("" if a not in d.unexplained else " (not explained)") for a in d.anomalies]
    if d.decision:
        lines += ["", "## changes and their checks"] + [f"- {v.summary()}" for v in d.decision.verdicts.values()]
    lines += ["", "## not examined"] + [f"- {x}" for x in obs.not_examined()]
    if obs.errors:
        lines += ["", "## commands that failed"] + [f"- {e}" for e in obs.errors]
    return "\n".join(lines)
