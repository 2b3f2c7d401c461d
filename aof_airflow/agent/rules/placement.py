"""Whether a pod template may run on a node: its taints against the tolerations, its labels against the
nodeSelector. WHY: a DaemonSet's desired count leaves out the nodes it may not run on, silently: "4/4 ready"
can hide that a whole node pool has no pod of it.
"""

from __future__ import annotations

from typing import Any

from .facts import node_ready
from .objects import Observation, pods_of

BLOCKING = ("NoSchedule", "NoExecute")


def tolerates(tolerations: list[dict[str, Any]], taint: dict[str, Any]) -> bool:
    """The scheduler's rule: same key (or an empty key with Exists), same effect (or none), Exists or equal value."""
    for t in tolerations or []:
        if t.get("effect") and t.get("effect") != taint.get("effect"):
            continue
        op = t.get("operator") or "Equal"
        if op == "Exists" and (not t.get("key") or t.get("key") == taint.get("key")):
            return True
        if op == "Equal" and t.get("key") == taint.get("key") and (t.get("value") or "") == (taint.get("value") or ""):
            return True
    return False


def why_not_on(pod_spec: dict[str, Any], node: dict[str, Any]) -> list[str]:
    """What keeps a pod of this spec off the node (empty: nothing in taints or nodeSelector)."""
    out = [f"taint {t.get('key')}={t.get('value', '')}:{t.get('effect')} not tolerated"
           for t in node.get("spec", {}).get("taints") or []
           if t.get("effect") in BLOCKING and not tolerates(pod_spec.get("tolerations") or [], t)]
    labels = node.get("metadata", {}).get("labels") or {}
    out += [f"nodeSelector {k}={v} not among its labels" for k, v in (pod_spec.get("nodeSelector") or {}).items()
            if labels.get(k) != v]
    return out


def daemonset_left_out(obs: Observation) -> list[tuple[str, list[str]]]:
    """(node, reasons) for the Ready nodes with no pod of the DaemonSet that its template may not run on."""
    ds = obs.daemonset
    if ds is None or obs.nodes is None:
        return []
    spec = ds.get("spec", {}).get("template", {}).get("spec", {})
    hosts = {p.get("spec", {}).get("nodeName") for p in pods_of(obs)}
    out = []
    for n in obs.nodes:
        name = n["metadata"]["name"]
        if name not in hosts and node_ready(n):
            # a control-plane node's role taint keeps workloads off by design
            why = [w for w in why_not_on(spec, n) if not w.startswith("taint node-role.kubernetes.io/")]
            if why:
                out.append((name, why))
    return out
