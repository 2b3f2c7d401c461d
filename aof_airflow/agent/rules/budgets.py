"""PodDisruptionBudgets over pods: which budgets select a pod, pods the eviction API cannot evict because more than
one budget selects them, and whether the budgets allow deleting a Ready pod.

WHY apart: a drain evicts through the eviction API, which refuses a pod selected by more than one budget
(whatever those budgets allow), so a cordoned node keeps it forever; and a delete bypasses every budget, so a
change that deletes a Ready pod must respect them itself.
"""

from __future__ import annotations

from typing import Any

from .objects import Observation, pod_name, pod_ready, selector_matches


def budgets_of(obs: Observation, pod: dict[str, Any]) -> list[dict[str, Any]]:
    labels = pod["metadata"].get("labels")
    return [b for b in obs.pdbs or [] if selector_matches((b.get("spec") or {}).get("selector"), labels)]


def cordoned(obs: Observation) -> set[str]:
    return {n["metadata"]["name"] for n in obs.nodes or [] if n.get("spec", {}).get("unschedulable")}


def unevictable_on_cordoned(obs: Observation) -> list[tuple[str, str]]:
    """(pod, why) for pods left on a cordoned node that more than one budget selects: no drain can evict them."""
    out, closed = [], cordoned(obs)
    for p in obs.pods:
        node = p.get("spec", {}).get("nodeName")
        pdbs = budgets_of(obs, p)
        if node in closed and len(pdbs) > 1 and p.get("status", {}).get("phase") == "Running":
            names = ", ".join(f"poddisruptionbudget/{b['metadata']['name']}" for b in pdbs)
            out.append((pod_name(p), f"pod {pod_name(p)} is still on cordoned node {node} and is selected by {len(pdbs)} "
                                     f"PodDisruptionBudgets ({names}): the eviction API refuses a pod that has more than "
                                     "one PodDisruptionBudget, so no drain can move it"))
    return out


def budgets_allow_deleting(obs: Observation, pods: list[str]) -> str | None:
    """Every budget selecting a Ready pod to delete allows a disruption (a pod not Ready is not counted healthy)."""
    ready = [p for p in obs.pods if pod_name(p) in pods and pod_ready(p)]
    if not ready:
        return "the pods to delete are not Ready: no budget counts them as healthy"
    if obs.pdbs is None:
        return None  # budgets not read: unproven
    for p in ready:
        for b in budgets_of(obs, p):
            if ((b.get("status") or {}).get("disruptionsAllowed") or 0) < 1:
                return None
    named = sorted({b["metadata"]["name"] for p in ready for b in budgets_of(obs, p)})
    return (f"the budgets selecting {', '.join(pod_name(p) for p in ready)} allow a disruption: "
            + (", ".join(f"poddisruptionbudget/{n}" for n in named) if named else "no budget selects them"))
