"""Remediation in rules mode: map the approved recommendation to one guarded kubectl change, then verify.

WHY so narrow: the rules engine only executes the five actions it can reason about (rollout restart, rollout
undo, scale, delete pod, none), only on the incident's workload, and only through `toolbox.shell`, which
runs the server-side dry run and the snapshot before the change and refuses other namespaces. The outcome is
judged by a fresh diagnosis within a time window, not by the exit code of the change.
"""

from __future__ import annotations

import re
import shlex
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from .diagnose import Diagnosis

_CMD = re.compile(
    r"kubectl\s+(?P<verb>rollout\s+restart|rollout\s+undo|scale|delete\s+pods?)\s+(?P<rest>[^()\n;|&]*)", re.I)
_TARGET = re.compile(r"\b(?:deployment|deploy|deployments|statefulset|sts|statefulsets|daemonset|ds|daemonsets)(?:\.apps)?"
                     r"/[a-z0-9][a-z0-9.-]*", re.I)


@dataclass
class Plan:
    """What will be run: the action class and the exact command (None for 'none')."""

    action: str
    command: str | None
    why: str
    pods: list[str] = field(default_factory=list)


def parse_action_line(prompt: str) -> str:
    """The `Action: ...` line the seed flow passes (the diagnosis' recommended_action); else the whole prompt."""
    m = re.search(r"^\s*Action\s*:\s*(.+)$", prompt, re.M | re.I)
    return m.group(1).strip() if m else prompt


def classify(text: str) -> tuple[str, dict[str, Any]]:
    """Recommended action text (ours or a model's) -> (action class, details such as target/replicas/pods)."""
    details: dict[str, Any] = {}
    if re.match(r"\s*none\b", text, re.I):  # "none: ...; manual fix: kubectl ..." recommends no automated change
        return "none", details
    if "restartedAt" in text:  # our own restart, written as its patch
        t = _TARGET.search(text)
        if t:
            details["target"] = t.group(0)
        return "rollout-restart", details
    m = _CMD.search(text)
    if m:
        verb = re.sub(r"\s+", " ", m.group("verb").lower())
        rest = m.group("rest")
        t = _TARGET.search(rest)
        if t:
            details["target"] = t.group(0)
        r = re.search(r"--replicas[= ](\d+)", rest)
        if r:
            details["replicas"] = int(r.group(1))
        if verb.startswith("delete"):
            details["pods"] = [w for w in rest.split() if not w.startswith("-") and re.fullmatch(r"[a-z0-9][a-z0-9.-]*", w)
                               and w not in ("pod", "pods")]
            ns = re.search(r"(?:-n|--namespace)[= ](\S+)", rest)
            if ns and ns.group(1) in details["pods"]:
                details["pods"].remove(ns.group(1))
            details["force"] = bool(re.search(r"(?:^|\s)--force\b", rest))
            return "delete-pod", details
        return {"rollout restart": "rollout-restart", "rollout undo": "rollout-undo", "scale": "scale"}[verb], details
    low = text.lower()
    if re.match(r"\s*none\b", low) or "no automated action" in low or "no action" in low:
        return "none", details
    if re.search(r"roll(ing)?[\s-]?back|rollout undo|previous revision|revert", low):
        return "rollout-undo", details
    if re.search(r"\brestart", low):
        return "rollout-restart", details
    r = re.search(r"scale\b.*?(\d+)\s*replica|replicas?\s*(?:to|=)\s*(\d+)", low)
    if r:
        details["replicas"] = int(r.group(1) or r.group(2))
        return "scale", details
    if re.search(r"delete (the )?(stuck |evicted )?pod", low):
        return "delete-pod", details
    return "none", details


def plan(prompt_action: str, fresh: Diagnosis, workload_ref: str | None, namespace: str) -> Plan:
    """The approved action, applied to the incident's workload (never to another target named in free text)."""
    action, d = classify(prompt_action)
    target = workload_ref
    if d.get("target") and workload_ref and d["target"].split("/")[-1] != workload_ref.split("/")[-1]:
        return Plan("none", None, f"the recommended target {d['target']} is not the incident's workload {workload_ref}; not acting")
    ns = shlex.quote(namespace)
    if action == "none":
        return Plan("none", None, "the diagnosis recommends no automated action")
    if action == "delete-pod":
        pods = d.get("pods") or list(fresh.primary.affected)
        pods = [p for p in pods if "/" not in p]
        if not pods:
            return Plan("none", None, "no pod named to delete")
        force = " --grace-period=0 --force" if d.get("force") else ""  # a pod its lost node cannot finish deleting
        return Plan("delete-pod", f"kubectl delete pod {' '.join(shlex.quote(p) for p in pods)} -n {ns}{force}",
                    "delete the stuck/failed pod(s); the controller recreates them", pods)
    if not target:
        return Plan("none", None, f"{action} needs a Deployment or StatefulSet; none found for this incident")
    if action == "rollout-restart":
        return Plan(action, restart_command(target, namespace), "restart the pods with the current template "
                    "(the patch `kubectl rollout restart` sends, written out because `rollout restart` has no --dry-run "
                    "and every change goes through a server dry run first)")
    if action == "rollout-undo":
        if not target.startswith(("deployment/", "daemonset/", "statefulset/")):
            return Plan("none", None, f"rollout undo needs a Deployment, DaemonSet or StatefulSet, not {target}")
        return Plan(action, f"kubectl rollout undo {target} -n {ns}",
                    "return to the previous revision (a ReplicaSet's, or a ControllerRevision's)")
    replicas = d.get("replicas")
    if replicas is None:
        return Plan("none", None, "scale requested without a replica count")
    return Plan("scale", f"kubectl scale {target} --replicas={int(replicas)} -n {ns}", f"scale to {replicas} replicas")


def restart_command(target: str, namespace: str, now: str | None = None) -> str:
    """`kubectl rollout restart` as the merge patch it sends (restartedAt annotation): dry-run-able."""
    import datetime as _dt

    ts = now or _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = '{"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":"' + ts + '"}}}}}'
    return f"kubectl patch {target} -n {shlex.quote(namespace)} --type=merge -p {shlex.quote(body)}"


def rollback_plan(failed_action: str, workload_ref: str | None, namespace: str) -> Plan:
    """Undo of a failed remediation, where an undo exists: a restart or undo of a Deployment -> `rollout undo`."""
    if re.match(r"\s*(none|shadow)\b", failed_action, re.I):
        return Plan("none", None, "the remediation changed nothing (no action, refused by a guard, or shadow mode); nothing to roll back")
    action, d = classify(failed_action)
    target = d.get("target") or workload_ref
    ns = shlex.quote(namespace)
    if action == "rollout-restart" and target and target.startswith(("deployment/", "deploy/")):
        return Plan("rollout-undo", f"kubectl rollout undo {target} -n {ns}", "return to the revision before the restart")
    if action == "rollout-undo":
        return Plan("none", None, "the failed remediation was itself a rollout undo; rolling forward would re-apply the failing revision")
    if action == "scale":
        return Plan("none", None, "a scale is not rolled back automatically (previous replica count is in the remediation's snapshot)")
    if action == "delete-pod":
        return Plan("none", None, "a deleted pod cannot be restored; its controller already replaced it")
    return Plan("none", None, "no change was made by the remediation; nothing to roll back")


def verify(rediagnose: Callable[[], Diagnosis], window: float, *, interval: float = 2.0,
           sleep: Callable[[float], None] = time.sleep) -> tuple[bool, Diagnosis, int]:
    """Re-diagnose until nothing is wrong or `window` seconds pass: (healthy, last diagnosis, rounds)."""
    end = time.monotonic() + max(0.0, window)
    rounds = 0
    while True:
        rounds += 1
        d = rediagnose()
        if d.cls == "no-fault-found":
            return True, d, rounds
        if time.monotonic() + interval > end:
            return False, d, rounds
        sleep(interval)
