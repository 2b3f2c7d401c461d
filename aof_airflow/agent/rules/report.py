"""Post-incident Markdown in rules mode: timeline, root causes grouped, remediation effectiveness, advice.

WHY deterministic: the same records always give the same report; every number in it is counted from the
JSON records given in the prompt (the seed's log-incident shape, or the incident table's rows), and the
recommendations come from a fixed table keyed by failure class, so nothing is invented.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from typing import Any

from . import BANNER, MODEL

ADVICE = {
    "crash-loop": "Crash loops: add a startup smoke test to the deploy pipeline and alert on restarts before users notice.",
    "oom-killed": "OOMKilled: right-size memory limits from observed usage and watch memory growth per revision (leaks).",
    "memory-near-limit": "Memory near limit: raise limits or fix the leak; schedule a capacity review.",
    "image-pull": "Image pull failures: check in CI that the image tag exists and that imagePullSecrets are valid before deploy.",
    "config-missing": "Missing ConfigMap/Secret: ship config with the release (same chart/kustomization) and validate references.",
    "probe-failing": "Probe failures: make readiness depend only on the pod itself; use startupProbe for slow starts.",
    "rollout-stuck": "Stuck rollouts: enable automatic rollback on progressDeadlineSeconds in the deploy tool.",
    "outdated-revision": "Pods left on an old revision: alert when a StatefulSet's or DaemonSet's pods stay off its update revision.",
    "scaled-to-zero": "Scaled to zero: restrict scale permissions and use an HPA/minReplicas guard.",
    "service-selector-mismatch": "Service selector mismatch: test Service-to-pod label matching in CI (e.g. policy check).",
    "service-no-endpoints": "No endpoints: alert on Service endpoint count, not only on pod state.",
    "evicted": "Evictions: set ephemeral-storage/memory requests so the scheduler accounts for them; clean up Failed pods.",
    "statefulset-down": "Stateful workloads down: add PodDisruptionBudgets and test restore procedures.",
    "pending-insufficient-resources": "Unschedulable pods: add cluster-autoscaler headroom or lower requests; alert on Pending > 5 min.",
    "pending-node-selector": "Node selector/affinity mismatch: validate node labels against workload selectors.",
    "pending-taint": "Taints: keep tolerations with the workload definition; document dedicated node pools.",
    "pending-unbound-pvc": "Unbound PVCs: verify StorageClasses exist in every cluster the chart targets.",
    "pending-volume-node-affinity": "Zonal volumes: keep node capacity in every zone that holds a workload's volumes.",
    "pending-anti-affinity": "Required anti-affinity: use preferred rules or keep replicas <= nodes (check in CI).",
    "probe-misconfigured": "Probe on the wrong port: lint probes against containerPorts in CI; use named ports.",
    "network-policy-blocking": "NetworkPolicies: test egress to kube-dns and the service paths a workload needs before applying a policy.",
    "node-not-ready": "Lost nodes: alert on node NotReady and keep spare capacity so evicted pods can be rescheduled.",
    "rbac-forbidden": "RBAC refusals: test ServiceAccount permissions (kubectl auth can-i) with the release; alert on Forbidden in logs.",
    "job-failed": "Failed Jobs: alert on BackoffLimitExceeded and make Jobs safe to re-run.",
    "not-examined": "Kinds the rules engine does not read were paged: route them to a human or a language-model diagnosis.",
}


def extract_records(text: str) -> list[dict[str, Any]]:
    """Every JSON object (or array of objects) embedded in the prompt, in order."""
    dec = json.JSONDecoder()
    out: list[dict[str, Any]] = []
    i = 0
    while i < len(text):
        if text[i] in "{[":
            try:
                obj, end = dec.raw_decode(text, i)
            except ValueError:
                i += 1
                continue
            if isinstance(obj, list):
                items = obj
            elif isinstance(obj, dict):
                items = obj.get("records") or obj.get("incidents") or [obj]
            else:
                items = []
            out += [r for r in items if isinstance(r, dict)]
            i = end
        else:
            i += 1
    return out


def _get(r: dict[str, Any], *keys: str, default: Any = None) -> Any:
    for k in keys:
        v = r.get(k)
        if v not in (None, ""):
            return v
        for nest in ("diagnosis", "output", "remediation_output"):
            sub = r.get(nest)
            if isinstance(sub, dict) and sub.get(k) not in (None, ""):
                return sub[k]
    return default


def cause_class(root_cause: str) -> str:
    """The rules' class when the diagnosis came from us ('... crash-loop: ...'), else a coarse keyword class."""
    m = re.search(r"\]\s*([a-z][a-z0-9-]+):", root_cause or "")
    if m:
        return m.group(1)
    low = (root_cause or "").lower()
    for key, cls in (("oom", "oom-killed"), ("memory", "memory-near-limit"), ("crashloop", "crash-loop"),
                     ("crash", "crash-loop"), ("imagepull", "image-pull"), ("image", "image-pull"),
                     ("configmap", "config-missing"), ("secret", "config-missing"), ("probe", "probe-failing"),
                     ("pending", "pending-insufficient-resources"), ("evict", "evicted"), ("endpoint", "service-no-endpoints"),
                     ("rollout", "rollout-stuck")):
        if key in low:
            return cls
    return "other"


def action_class(remediation: str) -> str:
    low = (remediation or "").lower()
    for key, cls in (("rollout undo", "rollout undo"), ("rollout restart", "rollout restart"), ("scale", "scale"),
                     ("delete pod", "delete pod")):
        if key in low:
            return cls
    return "none" if not low or low.startswith("none") else "other"


def build(records: list[dict[str, Any]], title: str = "Post-incident analysis") -> str:
    lines = [f"# {title}", "", f"_Generated by {MODEL} {BANNER}: counted from {len(records)} incident record(s)._", ""]
    if not records:
        return "\n".join(lines + ["No incident records were given; nothing to analyse."])
    rows = []
    for r in records:
        rows.append({
            "id": str(_get(r, "incident_id", "id", default="?")),
            "title": str(_get(r, "title", "incident_title", default="")),
            "service": str(_get(r, "service", default="")),
            "severity": str(_get(r, "severity", default="unknown")).lower(),
            "root_cause": str(_get(r, "root_cause", default="")),
            "remediation": str(_get(r, "remediation", "action_taken", default="")),
            "result": str(_get(r, "result", "status", default="unknown")).lower(),
            "duration": _num(_get(r, "duration_seconds", "duration")),
            "auto": _get(r, "auto_resolved", default=None),
            "time": str(_get(r, "timestamp", "started_at", "created_at", default="")),
        })
    rows.sort(key=lambda x: x["time"])
    n = len(rows)
    ok = sum(1 for x in rows if x["result"] in ("success", "resolved"))
    durs = [x["duration"] for x in rows if x["duration"] is not None]
    sev = Counter(x["severity"] for x in rows)
    lines += ["## Summary", "", f"- Incidents: {n}",
              "- By severity: " + ", ".join(f"{k} {v}" for k, v in sorted(sev.items(), key=lambda kv: -kv[1])),
              f"- Remediation succeeded: {ok}/{n} ({100 * ok // n}%)"]
    if durs:
        lines.append(f"- Time to resolve: mean {sum(durs) / len(durs):.0f}s, max {max(durs):.0f}s")
    lines += ["", "## Timeline", "", "| time | incident | service | severity | result | duration |", "|---|---|---|---|---|---|"]
    for x in rows:
        d = f"{x['duration']:.0f}s" if x["duration"] is not None else "-"
        lines.append(f"| {x['time'] or '-'} | {x['id']} {_cell(x['title'])} | {x['service'] or '-'} | {x['severity']} | {x['result']} | {d} |")
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for x in rows:
        groups[cause_class(x["root_cause"])].append(x)
    lines += ["", "## Root causes", ""]
    for cls, xs in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        lines.append(f"### {cls} ({len(xs)})")
        for x in xs[:5]:
            lines.append(f"- {x['id']}: {_cell(x['root_cause'])[:300] or '(no root cause recorded)'}")
        lines.append("")
    lines += ["## Remediation effectiveness", "", "| action | attempts | succeeded | rate |", "|---|---|---|---|"]
    eff: dict[str, list[bool]] = defaultdict(list)
    for x in rows:
        eff[action_class(x["remediation"])].append(x["result"] in ("success", "resolved"))
    for a, res in sorted(eff.items(), key=lambda kv: -len(kv[1])):
        lines.append(f"| {a} | {len(res)} | {sum(res)} | {100 * sum(res) // len(res)}% |")
    lines += ["", "## Contributing factors", ""]
    services = Counter(x["service"] for x in rows if x["service"])
    repeat = [s for s, c in services.items() if c > 1]
    lines.append(f"- Recurring services: {', '.join(f'{s} ({services[s]})' for s in repeat)}" if repeat else "- No service had more than one incident.")
    failed = [x for x in rows if x["result"] not in ("success", "resolved")]
    lines.append(f"- Remediations that did not resolve: {', '.join(x['id'] for x in failed)}" if failed else "- Every remediation resolved its incident.")
    lines += ["", "## Recommendations", ""]
    recs = [ADVICE[c] for c in sorted(groups, key=lambda c: -len(groups[c])) if c in ADVICE]
    if failed:
        recs.append("Review the failed automatic remediations above: the recommended action did not match the cause.")
    for s in repeat:
        recs.append(f"{s}: {services[s]} incidents; schedule a reliability review of this service.")
    lines += [f"{i}. {r}" for i, r in enumerate(recs or ["No recurring pattern found in these records."], 1)]
    return "\n".join(lines) + "\n"


def _num(v: Any) -> float | None:
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _cell(s: str) -> str:
    return s.replace("|", "/").replace("\n", " ").strip()
