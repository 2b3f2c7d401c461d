"""Disruption detectors: PodDisruptionBudgets that allow no disruption, named by the incident or holding up the
drain of a cordoned node the incident names."""

from __future__ import annotations

from ..budgets import unevictable_on_cordoned
from ..objects import Observation, pod_name, pods_of, selector_matches
from .common import Finding


def detect_pdb_overlap(obs: Observation) -> Finding | None:
    """A pod left on a cordoned node that more than one PodDisruptionBudget selects: the eviction API refuses it
    whatever the budgets allow, so the drain never finishes. Deleting the pod lets this drain finish; only disjoint
    selectors keep the next one from blocking."""
    stuck = unevictable_on_cordoned(obs)
    if not stuck:
        return None
    pods = [n for n, _ in stuck]
    return Finding(
        cls="pdb-overlap-blocks-eviction",
        summary=stuck[0][1],
        evidence=[why for _, why in stuck[:3]],
        action="delete-pod", command=f"kubectl delete pod {' '.join(pods)} -n {obs.namespace}",
        confidence=0.85, min_severity="medium",
        affected=pods + sorted({f"node/{p.get('spec', {}).get('nodeName')}" for p in obs.pods if pod_name(p) in pods}),
        advice="make the budgets' selectors disjoint (one budget per pod), or the next drain blocks the same way",
    )


def detect_pdb_blocking(obs: Observation) -> Finding | None:
    """The incident names a PodDisruptionBudget that allows no disruption (drains and evictions wait on it)."""
    pdb = obs.target if obs.kind == "poddisruptionbudget" else None
    if obs.kind == "node":
        return _drain_blocked(obs)
    st = (pdb or {}).get("status", {})
    if not pdb or st.get("disruptionsAllowed", 1) != 0:
        return None
    name = pdb["metadata"]["name"]
    unhealthy = (st.get("currentHealthy") or 0) < (st.get("desiredHealthy") or 0)
    return Finding(
        cls="pdb-blocks-disruptions",
        summary=f"poddisruptionbudget/{name} allows 0 disruptions: {st.get('currentHealthy', 0)} healthy of "
                f"{st.get('desiredHealthy', '?')} wanted, {st.get('expectedPods', '?')} expected",
        evidence=[f"poddisruptionbudget/{name}: disruptionsAllowed 0, currentHealthy {st.get('currentHealthy', 0)}, "
                  f"desiredHealthy {st.get('desiredHealthy', '?')}, expectedPods {st.get('expectedPods', '?')}, spec "
                  f"{ {k: v for k, v in pdb.get('spec', {}).items() if k != 'selector'} }"],
        confidence=0.8, affected=[f"poddisruptionbudget/{name}"],
        advice=("make the unhealthy pods healthy first (the budget counts them)" if unhealthy else
                "the budget leaves no room for a disruption at this replica count: lower minAvailable or add replicas"),
    )


def _drain_blocked(obs: Observation) -> Finding | None:
    """The incident names a cordoned node whose drain cannot finish: a pod still on it is protected by a
    PodDisruptionBudget that allows no disruption (minAvailable equal to the replicas), so every eviction is refused."""
    node = obs.target
    if not node or not node.get("spec", {}).get("unschedulable"):
        return None
    blocked = [(p, b) for p in pods_of(obs) if not any(o.get("kind") == "DaemonSet" for o in p["metadata"].get("ownerReferences") or [])
               for b in obs.pdbs or [] if (b.get("status") or {}).get("disruptionsAllowed", 1) == 0
               and selector_matches((b.get("spec") or {}).get("selector"), p["metadata"].get("labels"))]
    if not blocked:
        return None
    p, b = blocked[0]
    st, spec = b.get("status") or {}, {k: v for k, v in (b.get("spec") or {}).items() if k != "selector"}
    pods = sorted({pod_name(x) for x, _ in blocked})
    owner = next((o for o in p["metadata"].get("ownerReferences") or [] if o.get("controller", True)), {})
    return Finding(
        cls="pdb-blocks-disruptions",
        summary=f"node {node['metadata']['name']} is cordoned and its drain cannot finish: pod(s) {', '.join(pods)} "
                f"protected by poddisruptionbudget/{b['metadata']['name']} ({spec}) which allows 0 disruptions "
                f"({st.get('currentHealthy', '?')} healthy of {st.get('expectedPods', '?')} expected, "
                f"{st.get('desiredHealthy', '?')} required): every eviction is refused",
        evidence=[f"node {node['metadata']['name']}: spec.unschedulable true (cordoned)",
                  f"poddisruptionbudget/{b['metadata']['name']}: spec {spec}, disruptionsAllowed 0, currentHealthy "
                  f"{st.get('currentHealthy', '?')}, expectedPods {st.get('expectedPods', '?')}",
                  f"pod {pod_name(p)} on the node, owned by {owner.get('kind', '?')}/{owner.get('name', '?')}"],
        action="delete-pod", command=f"kubectl delete pod {' '.join(pods)} -n {obs.namespace}",
        confidence=0.8, affected=[f"node/{node['metadata']['name']}", f"poddisruptionbudget/{b['metadata']['name']}"] + pods,
        min_severity="low",
        advice=(f"add a replica to the workload behind poddisruptionbudget/{b['metadata']['name']} so one may be evicted "
                "(or lower minAvailable); deleting the pod bypasses the budget and runs one replica short until its "
                "replacement is Ready elsewhere"),
    )
