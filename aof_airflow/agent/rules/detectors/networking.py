"""Networking detectors: Services without ready endpoints or selecting nothing, NetworkPolicies blocking the
traffic the logs show failing, a StatefulSet whose governing Service does not exist."""

from __future__ import annotations

import re
from typing import Any

from ..objects import Observation, ingress_backends, ingress_class, pod_name, pod_ready, pods_of, selector_matches
from .common import Finding


def detect_service_no_endpoints(obs: Observation) -> Finding | None:
    """A Service with no ready endpoint: selector matching nothing, or every backing pod unready."""
    svc = obs.service
    if not svc or not svc.get("spec", {}).get("selector"):
        return None
    subsets = (obs.endpoints or {}).get("subsets") or []
    ready = sum(len(s.get("addresses") or []) for s in subsets)
    not_ready = sum(len(s.get("notReadyAddresses") or []) for s in subsets)
    if ready > 0:
        return None
    name, sel = svc["metadata"]["name"], svc["spec"]["selector"]
    ev = [f"service/{name} selector {','.join(f'{k}={v}' for k, v in sel.items())}: endpoints have 0 ready addresses, {not_ready} not ready"]
    pods = pods_of(obs)
    if not pods and not obs.workload:
        near = obs.namespace_labels
        if near:
            ev.append("pods in the namespace carry labels: " + "; ".join(near[:3]))
        return Finding(
            cls="service-selector-mismatch", summary=f"service/{name} selects no pods: its selector matches nothing in {obs.namespace}",
            evidence=ev, action="none", confidence=0.85, affected=[f"service/{name}"], min_severity="high",
            advice="fix the Service selector (or the pod template labels) so that they match",
        )
    ev.append(f"{len(pods)} pod(s) match, {sum(pod_ready(p) for p in pods)} ready")
    return Finding(
        cls="service-no-endpoints", summary=f"service/{name} has no ready endpoints: none of its {len(pods)} pod(s) is ready",
        evidence=ev, action="none", confidence=0.6, affected=[f"service/{name}"], min_severity="high", cause=False,
    )


_DNS_ERRORS = re.compile(r"no such host|EAI_AGAIN|ENOTFOUND|temporary failure in name resolution|:53: i/o timeout", re.I)
_TIMEOUTS = re.compile(r"i/o timeout|timed out|timeout|ETIMEDOUT", re.I)


def _policies_for(obs: Observation, labels: dict[str, str] | None, kind: str) -> list[dict[str, Any]]:
    """NetworkPolicies of the namespace that select pods with `labels` and restrict `kind` (Ingress/Egress)."""
    out = []
    for np in obs.networkpolicies or []:
        spec = np.get("spec", {})
        sel = spec.get("podSelector") or {}
        selects = not (sel.get("matchLabels") or sel.get("matchExpressions")) or selector_matches(sel, labels)
        types = spec.get("policyTypes") or (["Ingress"] + (["Egress"] if "egress" in spec else []))
        if selects and kind in types:
            out.append(np)
    return out


def _admits(rules: list[dict[str, Any]], key: str, labels: dict[str, str] | None, port: int | None = None) -> bool:
    """Whether any ingress `from` / egress `to` rule admits a peer with `labels` (and the port, when given)."""
    for r in rules or []:
        peers = r.get(key)
        ports = r.get("ports")
        port_ok = port is None or not ports or any(p.get("port") in (port, str(port)) for p in ports)
        if not port_ok:
            continue
        if not peers:
            return True
        for peer in peers:
            ps = peer.get("podSelector")
            if peer.get("ipBlock") or peer.get("namespaceSelector") and ps is None:
                return True
            if ps is not None and (not (ps.get("matchLabels") or ps.get("matchExpressions")) or selector_matches(ps, labels)):
                return True
    return False


def detect_network_policy(obs: Observation) -> Finding | None:
    """Logs show DNS failures or timeouts, and a NetworkPolicy explains them: an egress policy on these pods that
    does not allow DNS (port 53), or an ingress policy on the Service they call that does not admit them."""
    if not obs.networkpolicies:
        return None
    pods = pods_of(obs)
    if not pods:
        return None
    labels = pods[0]["metadata"].get("labels") or {}
    names = {pod_name(p) for p in pods}
    lines = [ln.strip() for key, text in sorted(obs.logs.items()) if key.split("/")[0] in names for ln in (text or "").splitlines()]
    dns = [ln for ln in lines if _DNS_ERRORS.search(ln)]
    slow = [ln for ln in lines if _TIMEOUTS.search(ln)]
    ev: list[str] = []
    blocking: list[str] = []
    if dns:
        for np in _policies_for(obs, labels, "Egress"):
            if not _admits(np.get("spec", {}).get("egress") or [], "to", {"k8s-app": "kube-dns"}, 53):
                blocking.append(np["metadata"]["name"])
                ev.append(f"networkpolicy/{np['metadata']['name']}: selects these pods (podSelector "
                          f"{np['spec'].get('podSelector') or {}}), policyTypes {np['spec'].get('policyTypes')}, "
                          f"egress {np['spec'].get('egress') or []}: DNS (port 53) is not allowed")
        what = "DNS lookups fail"
        quoted = dns
    else:
        quoted = slow
        what = "connections time out"
        for svc in obs.services or []:
            sname, ssel = svc["metadata"]["name"], svc.get("spec", {}).get("selector")
            if not ssel or not any(sname in ln for ln in slow):
                continue
            for np in _policies_for(obs, ssel, "Ingress"):
                if not _admits(np.get("spec", {}).get("ingress") or [], "from", labels):
                    allowed = [peer.get("podSelector", {}).get("matchLabels") for r in np["spec"].get("ingress") or [] for peer in r.get("from") or []]
                    allow = "; ".join(",".join(f"{k}={v}" for k, v in (a or {}).items()) for a in allowed) or "nothing"
                    blocking.append(np["metadata"]["name"])
                    ev.append(f"networkpolicy/{np['metadata']['name']}: selects the pods of service/{sname} ({ssel}) and admits "
                              f"ingress only from pods with {allow}; these pods carry "
                              + ",".join(f"{k}={v}" for k, v in sorted(labels.items())))
    if not blocking or not quoted:
        return None
    ev = [f"log: \"{ln[:200]}\"" for ln in quoted[-2:]] + ev
    return Finding(
        cls="network-policy-blocking",
        summary=f"{what}: NetworkPolicy {', '.join(dict.fromkeys(blocking))} blocks the traffic these pods need",
        evidence=ev, action="none", confidence=0.85, affected=sorted(names), min_severity="medium",
        advice=f"allow the traffic in NetworkPolicy {', '.join(dict.fromkeys(blocking))} (e.g. egress to kube-dns on port 53, "
               "or ingress from these pods' labels); restarting pods does not change a policy",
    )




def service_port_gaps(svc: dict[str, Any], pods: list[dict[str, Any]]) -> list[str]:
    """Service ports whose targetPort no selected pod's container exposes (by number or by name)."""
    if not pods:
        return []
    numbers = {p.get("containerPort") for pod in pods for c in pod.get("spec", {}).get("containers", []) or [] for p in c.get("ports") or []}
    names = {p.get("name") for pod in pods for c in pod.get("spec", {}).get("containers", []) or [] for p in c.get("ports") or []}
    if not numbers:
        return []  # containers that declare no ports may still listen: nothing to compare
    gaps = []
    for sp in svc.get("spec", {}).get("ports") or []:
        tp = sp.get("targetPort", sp.get("port"))
        if (isinstance(tp, int) or str(tp).isdigit()) and int(tp) not in numbers or (isinstance(tp, str) and not tp.isdigit() and tp not in names):
            gaps.append(f"port {sp.get('port')} targets {tp}; the pods' containers expose "
                        + ", ".join(str(n) for n in sorted(numbers)))
    return gaps


def detect_service_port_mismatch(obs: Observation) -> Finding | None:
    """A Service in front of these pods whose targetPort is none of their container ports: traffic reaches
    nothing even though the pods are Ready."""
    services = ([obs.service] if obs.service else []) + [s for s in obs.services or [] if s is not obs.service]
    pods = pods_of(obs)
    for svc in services:
        sel = svc.get("spec", {}).get("selector")
        mine = [p for p in pods if sel and selector_matches(sel, p["metadata"].get("labels"))]
        gaps = service_port_gaps(svc, mine)
        if gaps:
            name = svc["metadata"]["name"]
            return Finding(
                cls="service-port-mismatch", summary=f"service/{name} sends traffic to a port its pods do not expose",
                evidence=[f"service/{name} {g}" for g in gaps], confidence=0.85, affected=[f"service/{name}"],
                advice=f"set service/{name}'s targetPort to the container port (or name) the pods listen on; restarting pods changes nothing",
            )
    return None


def detect_ingress(obs: Observation) -> Finding | None:
    """An Ingress no controller serves (its class does not exist) or whose backend Services are missing or have
    no ready endpoint."""
    ing = obs.target if obs.kind == "ingress" else None
    if not ing:
        return None
    name = ing["metadata"]["name"]
    cls = ingress_class(ing)
    if cls and obs.ingressclasses is not None and cls not in {c["metadata"]["name"] for c in obs.ingressclasses}:
        have = ", ".join(sorted(c["metadata"]["name"] for c in obs.ingressclasses)) or "none"
        return Finding(cls="ingress-class-missing", summary=f"ingress/{name} names IngressClass {cls}, which does not exist",
                       evidence=[f"ingress/{name}: ingressClassName {cls}", f"IngressClasses in the cluster: {have}"],
                       confidence=0.9, affected=[f"ingress/{name}"],
                       advice=f"set ingressClassName to an existing class ({have}) or install the controller for {cls}")
    services = {s["metadata"]["name"]: s for s in obs.services or []}
    if obs.services is None:
        return None
    for b in ingress_backends(ing):
        if b not in services:
            return Finding(cls="ingress-backend-missing", summary=f"ingress/{name} routes to service/{b}, which does not exist",
                           evidence=[f"ingress/{name}: backend service {b}; services in {obs.namespace}: {', '.join(sorted(services)) or 'none'}"],
                           confidence=0.85, affected=[f"ingress/{name}"], advice=f"create service/{b} or fix the Ingress backend")
        port = next((((p.get("backend") or {}).get("service") or {}).get("port") or {} for r in ing.get("spec", {}).get("rules") or []
                     for p in (r.get("http") or {}).get("paths") or []
                     if ((p.get("backend") or {}).get("service") or {}).get("name") == b), {})
        sports = services[b].get("spec", {}).get("ports") or []
        if port and sports and not any(port.get("number") in (sp.get("port"),) or (port.get("name") and port.get("name") == sp.get("name"))
                                       for sp in sports):
            want = port.get("number") or port.get("name")
            return Finding(cls="ingress-backend-port", summary=f"ingress/{name} sends to port {want} of service/{b}, which has no such port",
                           evidence=[f"ingress/{name}: backend service {b} port {want}; service/{b} ports "
                                     + ", ".join(f"{sp.get('name') or '-'}:{sp.get('port')}" for sp in sports)],
                           confidence=0.85, affected=[f"ingress/{name}", f"service/{b}"],
                           advice=f"set the Ingress backend port to one service/{b} exposes")
        eps = obs.endpoints_of.get(b)
        if eps is not None and not sum(len(s.get("addresses") or []) for s in eps.get("subsets") or []):
            return Finding(cls="ingress-backend-unavailable", summary=f"ingress/{name} routes to service/{b}, which has no ready endpoint",
                           evidence=[f"service/{b}: endpoints have 0 ready addresses"], confidence=0.8,
                           affected=[f"ingress/{name}", f"service/{b}"], advice=f"find why service/{b} has no ready pods")
    return None


def detect_statefulset_service_missing(obs: Observation) -> Finding | None:
    """A StatefulSet's spec.serviceName names the governing Service that gives each pod its stable DNS name
    (<pod>.<serviceName>.<namespace>.svc); when no Service of that name exists (the namespace's Services were read),
    those names do not resolve and peers cannot find each other. serviceName cannot be changed in place: recreate
    the Service under that name. A restart or an undo of the pods changes nothing."""
    sts = obs.statefulset
    if sts is None or obs.services is None:
        return None
    want = (sts.get("spec") or {}).get("serviceName")
    have = {s["metadata"]["name"]: s for s in obs.services}
    # only running pods resolve their peers: pods that never started fail for another reason first
    unready = [p for p in pods_of(obs) if p.get("status", {}).get("phase") == "Running" and not pod_ready(p)]
    if not want or want in have or not unready:
        return None
    sel = (sts.get("spec") or {}).get("selector")
    headless = [n for n, s in have.items() if (s.get("spec") or {}).get("clusterIP") == "None"
                and selector_matches((s.get("spec") or {}).get("selector"), (sel or {}).get("matchLabels"))]
    name = sts["metadata"]["name"]
    lines = [ln.strip() for k, t in sorted(obs.logs.items()) for ln in (t or "").splitlines() if f".{want}." in ln][-1:]
    ev = [f"statefulset/{name}: spec.serviceName {want}; Services in {obs.namespace}: {', '.join(sorted(have)) or 'none'}"]
    ev += [f"headless service/{n} selects these pods under another name" for n in headless[:2]]
    ev += [f"log: \"{ln[:200]}\"" for ln in lines]
    return Finding(
        cls="statefulset-service-missing",
        summary=f"statefulset/{name} names governing Service {want}, which does not exist: its pods' DNS names "
                f"(<pod>.{want}.{obs.namespace}.svc) do not resolve, so peers cannot reach each other",
        evidence=ev, confidence=0.8, affected=[f"statefulset/{name}", f"service/{want}"], min_severity="high",
        advice=f"create a headless Service named {want} (clusterIP: None) selecting the StatefulSet's pods"
               + (f" (like service/{headless[0]})" if headless else "") + "; spec.serviceName cannot be changed in place",
    )
