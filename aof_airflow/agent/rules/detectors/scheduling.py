"""Scheduling detectors: pods the scheduler cannot place (resources, selectors, taints, affinity, volumes)."""

from __future__ import annotations

import re

from ..objects import Observation, condition, events_for, pod_name, pods_of, quote_event, requests_of, statuses
from ..placement import daemonset_left_out
from .common import Finding, note_revision
from .storage import unbound_claims_evidence, volume_affinity_evidence

_INSUFFICIENT = re.compile(r"Insufficient ([\w./-]*[\w/-])")
_SCHED = (
    ("pending-anti-affinity", re.compile(r"didn't match pod (?:anti-)?affinity rules|didn't satisfy existing pods anti-affinity", re.I)),
    ("pending-volume-node-affinity", re.compile(r"volume node affinity conflict", re.I)),
    ("pending-insufficient-resources", _INSUFFICIENT),
    ("pending-unbound-pvc", re.compile(r"unbound immediate PersistentVolumeClaims|persistentvolumeclaim \"[^\"]+\" not found", re.I)),
    # before node selectors: a DaemonSet's pod "didn't match" every node but its own by design
    ("pending-host-port", re.compile(r"didn't have free ports for the requested pod ports", re.I)),
    ("pending-node-selector", re.compile(r"didn't match (?:Pod's )?node (?:affinity|selector)|node\(s\) didn't match Pod's node", re.I)),
    ("pending-taint", re.compile(r"untolerated taint|had taint|taint\(s\) that the pod didn't tolerate", re.I)),
)


def detect_pending(obs: Observation) -> Finding | None:
    """Unschedulable pods: the scheduler's FailedScheduling message, cross-checked with nodes, PVCs, StorageClasses."""
    pending = [p for p in pods_of(obs) if p.get("status", {}).get("phase") == "Pending" and not any(
        (cs.get("state") or {}).get("waiting", {}).get("reason") not in (None, "ContainerCreating", "PodInitializing")
        for cs in statuses(p))]
    pending = [p for p in pending if (condition(p, "PodScheduled") or {}).get("status") != "True"]
    if not pending:
        return None
    p = pending[0]
    msgs = [(condition(p, "PodScheduled") or {}).get("message") or ""]
    evs = events_for(obs, pod_name(p), ("FailedScheduling",))
    msgs += [e.get("message") or "" for e in evs]
    text = " ".join(msgs)
    cls = "pending-unschedulable"
    for c, rx in _SCHED:
        m = rx.search(text)
        if m:
            cls = c
            break
    ev = [f"pod {pod_name(p)}: phase Pending, PodScheduled False \"{msgs[0]}\""] if msgs[0] else [f"pod {pod_name(p)}: phase Pending"]
    ev += [quote_event(e) for e in evs[-1:]]
    summary, advice, conf = f"{len(pending)} pod(s) cannot be scheduled", "", 0.8
    if cls == "pending-insufficient-resources":
        kinds = sorted(set(_INSUFFICIENT.findall(text)))
        summary = f"{len(pending)} pod(s) Pending: no node has enough {', '.join(kinds)}"
        req = requests_of(p)
        ev.append("pod requests " + ", ".join(f"{k}={v}" for k, v in sorted(req.items())) if req else "pod has no requests")
        if obs.nodes is not None:
            for n in obs.nodes[:4]:
                alloc = n.get("status", {}).get("allocatable", {})
                ev.append(f"node {n['metadata']['name']} allocatable " + ", ".join(f"{k}={alloc.get(k, '0')}" for k in kinds))
            conf = 0.9
        advice = "add capacity (node pool) or lower the pod's requests"
    elif cls == "pending-unbound-pvc":
        summary, more, conf = unbound_claims_evidence(obs, p, len(pending))
        ev += more
        advice = "create the StorageClass / a matching PersistentVolume, or fix storageClassName"
    elif cls == "pending-volume-node-affinity":
        ev += volume_affinity_evidence(obs, p)
        summary = (f"{len(pending)} pod(s) Pending: volume node affinity conflict -- the claim is bound to a volume "
                   "that no schedulable node can reach (zone)")
        advice = "add a node in the volume's zone, or move the data to a volume in a zone with nodes"
        conf = 0.85
    elif cls == "pending-anti-affinity":
        aa = (p.get("spec", {}).get("affinity") or {}).get("podAntiAffinity") or {}
        for term in (aa.get("requiredDuringSchedulingIgnoredDuringExecution") or [])[:2]:
            ev.append(f"pod anti-affinity (required): no two pods matching {term.get('labelSelector', {}).get('matchLabels')} "
                      f"on the same {term.get('topologyKey')}")
        running = sum(1 for x in pods_of(obs) if x.get("spec", {}).get("nodeName"))
        if obs.nodes is not None:
            ev.append(f"{len(obs.nodes)} node(s) in the cluster, {running} pod(s) already placed, {len(pending)} waiting")
            conf = 0.9
        summary = f"{len(pending)} pod(s) Pending: required pod anti-affinity allows one pod per node and there are not enough nodes"
        advice = "make the anti-affinity preferred instead of required, lower the replicas, or add nodes"
    elif cls == "pending-node-selector":
        sel = p.get("spec", {}).get("nodeSelector")
        ev.append(f"pod nodeSelector {sel}" if sel else "pod has required node affinity")
        if obs.nodes is not None and sel:
            matching = [n["metadata"]["name"] for n in obs.nodes if all(n["metadata"].get("labels", {}).get(k) == v for k, v in sel.items())]
            ev.append(f"nodes matching the selector: {', '.join(matching) or 'none'}")
            conf = 0.9
        summary = f"{len(pending)} pod(s) Pending: no node matches the pod's node selector/affinity"
        advice = "fix the nodeSelector/affinity or label a node accordingly"
    elif cls == "pending-host-port":
        ports = sorted({f"{pt.get('hostPort')}/{pt.get('protocol') or 'TCP'}" for c in p.get("spec", {}).get("containers") or []
                        for pt in c.get("ports") or [] if pt.get("hostPort")})
        host_net = p.get("spec", {}).get("hostNetwork")
        ev.append(f"pod asks for host port(s) {', '.join(ports) or 'of its container ports'}"
                  + (" (hostNetwork: every container port is a host port)" if host_net else ""))
        summary = (f"{len(pending)} pod(s) Pending: the host port(s) they ask for ({', '.join(ports) or 'hostNetwork'}) "
                   "are already taken on the node(s) they may run on")
        advice = "free the port on the node (another pod or process holds it) or change the pod's hostPort/hostNetwork"
        conf = 0.85
    elif cls == "pending-taint":
        if obs.nodes is not None:
            for n in obs.nodes[:4]:
                for t in n.get("spec", {}).get("taints", []) or []:
                    ev.append(f"node {n['metadata']['name']} taint {t.get('key')}={t.get('value', '')}:{t.get('effect')}")
            conf = 0.9
        summary = f"{len(pending)} pod(s) Pending: every node has a taint the pod does not tolerate"
        advice = "add the toleration or remove the taint"
    quoted = sorted({f"node/{m}" for m in re.findall(r"node (\S+) ", " ".join(ev))}
                    | {f"persistentvolumeclaim/{m}" for m in re.findall(r"persistentvolumeclaim (\S+):", " ".join(ev))})
    # The scheduler evicts lower-priority pods to place a higher-priority one ("Preempted by <ns>/<pod> on node
    # <n>", on the victim): the capacity the workload lost went to those pods, and its replacements wait for room.
    siblings = {pod_name(x).rsplit("-", 1)[0] + "-" for x in pending}
    preempted = [e for e in obs.events if e.get("reason") == "Preempted"
                 and any((e.get("involvedObject", {}).get("name") or "").startswith(s) for s in siblings)]
    if preempted:
        ev.append(quote_event(preempted[-1]))
        summary += (f"; {len(preempted)} of its pods were preempted by higher-priority pods (their PriorityClass): "
                    "the capacity went to those pods")
        advice = "check the PriorityClasses of the preempting pods (and of this workload), or add capacity; " + advice
    f = Finding(cls=cls, summary=summary, evidence=ev, action="none", confidence=conf,
                affected=[pod_name(x) for x in pending] + quoted, min_severity="medium", advice=advice)
    return note_revision(obs, pending, f)


def detect_daemonset_left_out(obs: Observation) -> Finding | None:
    """Ready nodes without a pod of the DaemonSet because its template may not run there (an untolerated taint, a
    nodeSelector): the DaemonSet's desired count leaves them out, so it reports every pod ready."""
    left = daemonset_left_out(obs)
    if not left:
        return None
    reasons = sorted({w for _, why in left for w in why})
    st = (obs.daemonset or {}).get("status", {})
    ev = [f"node {n}: {'; '.join(why)}" for n, why in left[:4]]
    ev.append(f"{obs.workload_ref}: desiredNumberScheduled {st.get('desiredNumberScheduled')}, numberReady "
              f"{st.get('numberReady')}, {len(obs.nodes or [])} node(s) in the cluster")
    return Finding(cls="daemonset-left-out",
                   summary=f"{obs.workload_ref} has no pod on {len(left)} Ready node(s): {'; '.join(reasons[:2])} "
                           "(the DaemonSet's desired count leaves those nodes out, so its pods all report ready)",
                   evidence=ev, action="none", confidence=0.75, affected=[f"node/{n}" for n, _ in left],
                   min_severity="low",
                   advice="if it must run there, add the matching toleration (or nodeSelector) to the DaemonSet's pod template")
