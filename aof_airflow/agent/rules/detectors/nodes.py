"""Node detectors: nodes NotReady with this workload's pods on them, pods evicted by node pressure, a node whose
clock runs behind (credentials refused as not yet valid there only)."""

from __future__ import annotations

import re
from typing import Any

from ..facts import recurring_evictions
from ..objects import Observation, condition, events_for, pod_name, pods_of, quote_event
from .common import Finding


def detect_evicted(obs: Observation) -> Finding | None:
    """Pods in phase Failed with reason Evicted (node pressure); leftovers to clean, and a pressure to explain."""
    ev_pods = [p for p in obs.pods if p.get("status", {}).get("reason") == "Evicted"]
    if not ev_pods:
        return None
    msg = ev_pods[0].get("status", {}).get("message", "")
    m = re.search(r"low on resource: (\S+?)\.?(?:\s|$)", msg)
    res = m.group(1) if m else "resources"
    ev = [f"pod {pod_name(p)}: phase Failed reason Evicted \"{p.get('status', {}).get('message', '')}\" (node {p.get('spec', {}).get('nodeName', '?')})" for p in ev_pods[:3]]
    ev += [quote_event(e) for e in obs.events if e.get("reason") == "Evicted"][:1]
    names = [pod_name(p) for p in ev_pods]
    own = recurring_evictions(obs)
    if own:
        # over the pod's own ephemeral-storage limit: the writable layer (files written outside volumes), container
        # logs and emptyDir volumes count against it, and a new pod fills them the same way
        return Finding(
            cls="evicted", summary=f"{len(ev_pods)} pod(s) evicted for their own ephemeral storage over their limit: what "
                                   "the containers write to their writable layer (files outside volumes), their logs and "
                                   "emptyDir volumes count against it, and each new pod fills it again", evidence=ev + [own],
            action="none", confidence=0.8, affected=names, min_severity="medium",
            advice="bound what the container writes (retention, rotation, a sized volume for its data) or raise its "
                   "ephemeral-storage limit; deleting the evicted pods only clears leftovers",
        )
    return Finding(
        cls="evicted", summary=f"{len(ev_pods)} pod(s) evicted: node low on {res}", evidence=ev,
        action="delete-pod", command=f"kubectl delete pod {' '.join(names)} -n {obs.namespace}", confidence=0.8,
        affected=names, min_severity="low",
        advice=f"set {res} requests/limits so the scheduler accounts for them; check node {res} pressure",
    )


def _node_ready(node: dict[str, Any]) -> dict[str, Any] | None:
    """The Ready condition of a node that is NOT ready (None when it is)."""
    c = condition(node, "Ready")
    return c if c is not None and c.get("status") != "True" else None


def detect_node_not_ready(obs: Observation) -> Finding | None:
    """A node that is NotReady / stopped reporting, with this workload's pods on it or unschedulable because of it
    (the unreachable / not-ready taints). The node is the cause; restarting the workload changes nothing there."""
    if not obs.nodes:
        return None
    bad = {n["metadata"]["name"]: c for n in obs.nodes for c in [_node_ready(n)] if c}
    if not bad:
        return None
    on_bad = [p for p in pods_of(obs) if p.get("spec", {}).get("nodeName") in bad]
    tainted = [p for p in pods_of(obs) if re.search(r"node\.kubernetes\.io/(?:unreachable|not-ready)",
                                                     " ".join([(condition(p, "PodScheduled") or {}).get("message") or ""]
                                                              + [e.get("message") or "" for e in events_for(obs, pod_name(p), ("FailedScheduling",))]))]
    if obs.kind != "node" and not (on_bad or tainted):
        return None
    ev = [f"node {n}: condition Ready={c.get('status')} reason {c.get('reason')}: \"{c.get('message', '')}\" (since {c.get('lastTransitionTime', '?')})"
          for n, c in sorted(bad.items())]
    ev += [f"pod {pod_name(p)} on node {p['spec']['nodeName']}: not ready" + (" (being deleted)" if p["metadata"].get("deletionTimestamp") else "")
           for p in on_bad[:3]]
    ev += [f"pod {pod_name(p)}: Pending, \"{(condition(p, 'PodScheduled') or {}).get('message', '')}\"" for p in tainted[:1]]
    names = ", ".join(sorted(bad))
    f = Finding(
        cls="node-not-ready", summary=f"node {names} is not ready ({next(iter(bad.values())).get('reason')}); "
                                      f"{len(on_bad)} pod(s) on it, {len(tainted)} waiting to be scheduled elsewhere",
        evidence=ev, action="none", confidence=0.85, affected=[pod_name(p) for p in on_bad + tainted], min_severity="medium",
        advice=f"investigate node {names} (kubelet, network, the machine); the pods move once it is replaced or back "
               "-- restarting the workload does not bring a node back",
    )
    # A ReadWriteOnce volume stays attached to the lost node until the pod there is gone (force-deleted, or the node
    # marked out-of-service): the replacement waits on a Multi-Attach error, not on the scheduler.
    attach = [e for p in pods_of(obs) for e in events_for(obs, pod_name(p), ("FailedAttachVolume",))
              if "Multi-Attach" in (e.get("message") or "")]
    if attach:
        f.evidence.append(quote_event(attach[-1]))
        f.summary += (f"; the replacement pod waits on a Multi-Attach error: its ReadWriteOnce volume is still attached "
                      f"to node {names}, which cannot detach it")
    # A StatefulSet recreates a pod (same name, same volume) only once the old object is gone, and the kubelet of a
    # lost node never confirms the deletion: the pod stays Terminating and its identity stays down until removed.
    held = [p for p in on_bad if p["metadata"].get("deletionTimestamp")
            and any(o.get("kind") == "StatefulSet" for o in p["metadata"].get("ownerReferences") or [])]
    if held:
        pods = ", ".join(pod_name(p) for p in held)
        f.summary += (f"; StatefulSet pod(s) {pods} stuck Terminating (marked for deletion since "
                      f"{held[0]['metadata']['deletionTimestamp']}): the kubelet of the lost node cannot confirm the "
                      "deletion, so the StatefulSet cannot recreate the pod elsewhere")
        f.action = "delete-pod"
        f.advice = (f"once node {names} is confirmed down (or fenced), force-delete {pods} so the StatefulSet recreates "
                    "it on a Ready node; then investigate the node")
    return f




PRESSURES = ("MemoryPressure", "DiskPressure", "PIDPressure", "NetworkUnavailable")


def detect_node_pressure(obs: Observation) -> Finding | None:
    """A Ready node that reports memory, disk or PID pressure (or no network), with these pods on it or named by
    the incident: the kubelet evicts or refuses pods there; the workload is not what failed."""
    hosts = {p.get("spec", {}).get("nodeName") for p in obs.pods}
    hit = [(n, c) for n in obs.nodes or [] if obs.kind == "node" or n["metadata"]["name"] in hosts
           for c in n.get("status", {}).get("conditions") or [] if c.get("type") in PRESSURES and c.get("status") == "True"]
    if not hit:
        return None
    names = sorted({n["metadata"]["name"] for n, _ in hit})
    on = [pod_name(p) for p in obs.pods if p.get("spec", {}).get("nodeName") in names]
    return Finding(
        cls="node-pressure", summary=f"node {', '.join(names)} reports {', '.join(sorted({c['type'] for _, c in hit}))}",
        evidence=[f"node {n['metadata']['name']}: condition {c['type']}=True ({c.get('reason')})" for n, c in hit[:3]]
        + ([f"{len(on)} pod(s) of this workload on it: {', '.join(on[:4])}"] if on else []),
        confidence=0.75, affected=[f"node/{n}" for n in names] + on,
        advice="free the node's resource (disk: images and logs; memory: pods without limits) or drain and replace it",
    )


# A credential refused because it is not valid yet: the verifier compares the issuer's time with its own clock.
NOT_YET_VALID = re.compile(r"used before issued|not (?:yet )?valid yet|is not yet valid|issued in the future|iat\S* (?:is )?in the future"
                           r"|before (?:its )?(?:nbf|not.?before)|clock skew", re.I)


def detect_clock_behind(obs: Observation) -> Finding | None:
    """Pods that refuse credentials as 'not yet valid' (JWT iat/nbf, a certificate's notBefore) while their
    siblings on other nodes, whose logs were read, accept them: the refusing pods read time from their node's
    clock, and it runs behind the issuer's. A pod of the same workload there (anti-affinity, a node selector) fails
    the same way: the fix is the node's time sync, not a change to the workload."""
    hits: dict[str, tuple[str, str]] = {}
    clean: set[str] = set()
    for p in pods_of(obs):
        node = p.get("spec", {}).get("nodeName")
        texts = [t for k, t in obs.logs.items() if k.split("/")[0] == pod_name(p) and not k.endswith("/previous")]
        lines = [ln.strip() for t in texts for ln in (t or "").splitlines() if NOT_YET_VALID.search(ln)]
        if node and lines:
            hits.setdefault(node, (pod_name(p), lines[-1]))
        elif node and texts:
            clean.add(node)
    if len(hits) != 1 or not (clean - set(hits)):
        return None
    node, (pod, line) = next(iter(hits.items()))
    return Finding(
        cls="node-clock-behind",
        summary=f"pod {pod} on node {node} refuses credentials as not yet valid while the pods on "
                f"{', '.join(sorted(clean - set(hits)))} accept them: the clock of node {node} runs behind the issuer's "
                "(time sync on the node)",
        evidence=[f"log of {pod}: \"{line[:200]}\"", f"pods on {', '.join(sorted(clean - set(hits)))}: no such refusal in the logs read"],
        confidence=0.65, affected=[f"pod/{pod}", f"node/{node}"], min_severity="medium",
        advice=f"check time sync on node {node} (chronyc tracking / timedatectl); cordon it and move its pods until the "
               "clock is right: a replacement pod placed on the same node fails the same way",
    )


def detect_node_reports_problem(obs: Observation) -> Finding | None:
    """The node the incident names reports a problem in its own Warning events (node-problem-detector: a full
    conntrack table, a kernel deadlock, a runtime restarting; the kubelet: a failed image GC...): the pods there
    fail because of the node, not their spec. No change to a workload fixes it."""
    if obs.kind != "node" or not obs.name:
        return None
    warnings = [e for e in obs.events if e.get("type") == "Warning" and e.get("involvedObject", {}).get("kind") == "Node"
                and e.get("involvedObject", {}).get("name") == obs.name]
    if not warnings:
        return None
    e = warnings[-1]
    return Finding(
        cls="node-problem", summary=f"node {obs.name} reports {e.get('reason')}: \"{(e.get('message') or '')[:200]}\"",
        evidence=[quote_event(x) for x in warnings[-3:]] + [f"{len(pods_of(obs))} pod(s) run on node {obs.name}"],
        confidence=0.75, affected=[f"node/{obs.name}"], min_severity="high",
        advice=f"fix what node {obs.name} reports (or cordon and drain it, and replace it); restarting workloads does not",
    )
