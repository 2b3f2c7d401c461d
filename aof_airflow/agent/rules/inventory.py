"""Every anomaly in what was read, whether or not a detector names a cause for it.

WHY: "nothing wrong" may be said only when this list is empty, and an anomaly the diagnosis does not explain
lowers its confidence and asks for approval. Each entry quotes the object it is about, so it can be checked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import facts as F
from .objects import (
    ERROR_LINE,
    WARN_LINE,
    Observation,
    condition,
    container_limits,
    cpu_millis,
    ingress_backends,
    ingress_class,
    mem_bytes,
    parse_time,
    pod_name,
    pods_of,
    selector_matches,
    statuses,
)
from .placement import daemonset_left_out
from .process import workload_of

HEALTHY_TRUE = {"Ready", "ContainersReady", "Initialized", "PodScheduled", "Available", "Progressing", "AbleToScale",
                "ScalingActive", "PodReadyToStartContainers"}
UNHEALTHY_TRUE = {"ReplicaFailure", "Failed", "MemoryPressure", "DiskPressure", "PIDPressure", "NetworkUnavailable",
                  "ScalingLimited", "Suspended", "DisruptionTarget", "FileSystemResizePending"}


# Anomalies that mean users or work are affected now (not only a sign to look at): they raise the severity.
IMPACT = re.compile(r"error line|no controller routes|does not exist|^cpu |^memory |restarted|waiting |phase Pending|no ready endpoints|selector matches no pod"
                    r"|targets |active for|suspended|replicas ready|ScalingActive=False|AbleToScale=False|ScalingLimited=True"
                    r"|silent since|active at once|get no endpoint|disruptions allowed|Progressing=False|ReplicaFailure=True|Available=False")


@dataclass(frozen=True)
class Anomaly:
    subject: str  # "pod/x", "deployment/y", "service/z", "node/n"...
    text: str

    def __str__(self) -> str:
        return f"{self.subject}: {self.text}"

    @property
    def impact(self) -> bool:
        return bool(IMPACT.search(self.text))


def _conditions(subject: str, obj: dict | None) -> list[Anomaly]:
    out = []
    for c in (obj or {}).get("status", {}).get("conditions") or []:
        t, s = c.get("type"), c.get("status")
        if (t in HEALTHY_TRUE and s == "False") or (t in UNHEALTHY_TRUE and s == "True"):
            out.append(Anomaly(subject, f"condition {t}={s}" + (f" ({c.get('reason')})" if c.get("reason") else "")
                               + (f": \"{c.get('message')[:140]}\"" if c.get("message") else "")))
    return out


def inventory(obs: Observation) -> list[Anomaly]:
    out: list[Anomaly] = []
    warned: dict[tuple[str, str], int] = {}
    for e in obs.events:
        if e.get("type") == "Warning" and not _history(obs, e):
            io = e.get("involvedObject", {})
            key = (f"{(io.get('kind') or '').lower()}/{io.get('name')}", e.get("reason") or "?")
            warned[key] = warned.get(key, 0) + int(e.get("count") or 1)
    out += [Anomaly(s, f"Warning event {r} x{n}") for (s, r), n in sorted(warned.items())]
    for ref, obj in ((obs.workload_ref, obs.workload), (f"job/{(obs.job or {}).get('metadata', {}).get('name')}", obs.job)):
        if obj:
            out += _conditions(ref, obj)
    if obs.deployment and obs.deployment.get("spec", {}).get("paused"):
        out.append(Anomaly(obs.workload_ref or "", "rollout paused (spec.paused true): template changes are not rolled out"))
    w = obs.deployment or obs.statefulset
    if w:
        desired, ready = w.get("spec", {}).get("replicas", 1), w.get("status", {}).get("readyReplicas") or 0
        if ready < desired:
            out.append(Anomaly(obs.workload_ref or "", f"{ready} of {desired} replicas ready"))
    for p in obs.pods:
        subject = f"pod/{pod_name(p)}"
        st = p.get("status", {})
        if st.get("phase") in ("Failed", "Pending", "Unknown"):
            out.append(Anomaly(subject, f"phase {st.get('phase')}" + (f" ({st.get('reason')})" if st.get("reason") else "")))
        if st.get("reason") == "Evicted" or st.get("phase") == "Succeeded":
            continue  # a leftover (or a finished pod): its phase says all there is
        if p["metadata"].get("deletionTimestamp"):
            out.append(Anomaly(subject, f"being deleted since {p['metadata']['deletionTimestamp']}"))
        if st.get("phase") != "Succeeded":
            out += [a for a in _conditions(subject, p) if "PodScheduled" not in a.text or st.get("phase") == "Pending"]
        for cs in statuses(p):
            state, last = cs.get("state") or {}, (cs.get("lastState") or {}).get("terminated") or {}
            wt = state.get("waiting") or {}
            if wt.get("reason") not in (None, "ContainerCreating", "PodInitializing"):
                out.append(Anomaly(subject, f"container {cs['name']} waiting {wt.get('reason')}"))
            term = state.get("terminated") or {}
            if term and term.get("exitCode", 0) != 0:
                out.append(Anomaly(subject, f"container {cs['name']} terminated {term.get('reason')} exit {term.get('exitCode')}"))
            if cs.get("restartCount", 0):
                out.append(Anomaly(subject, f"container {cs['name']} restarted {cs['restartCount']} time(s)"
                                   + (f", last {last.get('reason')} exit {last.get('exitCode')}" if last else "")))
        out += _usage(obs, p, subject)
    out += [a for c in obs.pvcs for a in _conditions(f"persistentvolumeclaim/{c['metadata']['name']}", c)]
    out += _services(obs)
    hosts = {p.get("spec", {}).get("nodeName") for p in obs.pods}
    every = obs.kind == "node" or any(p.get("status", {}).get("phase") == "Pending" for p in pods_of(obs))
    for n in obs.nodes or []:
        if not every and n["metadata"]["name"] not in hosts:
            continue  # a node none of these pods is on says nothing about this incident
        subject = f"node/{n['metadata']['name']}"
        out += _conditions(subject, n)
        for t in n.get("spec", {}).get("taints") or []:
            if t.get("effect") in ("NoSchedule", "NoExecute") and not t.get("key", "").startswith("node-role.kubernetes.io/"):
                out.append(Anomaly(subject, f"taint {t.get('key')}={t.get('value', '')}:{t.get('effect')}"))
        if n.get("spec", {}).get("unschedulable"):
            out.append(Anomaly(subject, "cordoned (unschedulable)"))
    mine = F.hpa_for(obs)
    for h in obs.hpas or []:  # this workload's autoscaler (or every one, for a namespace-wide page)
        if h is mine or obs.kind == "namespace":
            out += _conditions(f"horizontalpodautoscaler/{h['metadata']['name']}", h)
    labels = [p["metadata"].get("labels") for p in pods_of(obs)]
    for pdb in obs.pdbs or []:
        if not (obs.kind == "namespace" or any(selector_matches(pdb.get("spec", {}).get("selector"), lb) for lb in labels)):
            continue  # a budget over other pods
        st = pdb.get("status", {})
        if st.get("disruptionsAllowed") == 0 and (st.get("currentHealthy") or 0) < (st.get("desiredHealthy") or 0):
            out.append(Anomaly(f"poddisruptionbudget/{pdb['metadata']['name']}",
                               f"{st.get('currentHealthy', 0)} healthy of {st.get('desiredHealthy')} wanted, 0 disruptions allowed"))
    out += [Anomaly("resourcequota", q) for q in F.quota_full(obs)]
    if obs.job and (obs.job.get("status", {}).get("active") or 0):
        start, t = parse_time(obs.job["status"].get("startTime")), F.now(obs)
        if start and t and (t - start).total_seconds() > 6 * 3600:
            out.append(Anomaly(f"job/{obs.job['metadata']['name']}", f"active for {(t - start).total_seconds() / 3600:.1f} h"))
    if obs.kind == "namespace" and obs.target and obs.target.get("status", {}).get("phase") not in (None, "Active"):
        out.append(Anomaly(f"namespace/{obs.name}", f"phase {obs.target['status']['phase']}"
                           + (" (being deleted: no new pods are admitted)" if obs.target["status"]["phase"] == "Terminating" else "")))
    out += [Anomaly(f"ingress/{obs.name}", g) for g in ingress_gaps(obs)]
    if obs.kind == "cronjob" and obs.target and obs.target.get("spec", {}).get("suspend"):
        out.append(Anomaly(f"cronjob/{obs.name}", "suspended"))
    active = [j["metadata"]["name"] for j in obs.jobs if (j.get("status", {}).get("active") or 0)]
    if obs.kind == "cronjob" and len(active) >= 2:
        policy = (obs.target or {}).get("spec", {}).get("concurrencyPolicy") or "Allow"
        out.append(Anomaly(f"cronjob/{obs.name}", f"{len(active)} runs active at once ({', '.join(active[-3:])}; "
                           f"concurrencyPolicy {policy}): a run lasts longer than the schedule's interval"))
    out += [Anomaly(f"node/{n}", f"no pod of {obs.workload_ref}: {'; '.join(why)}") for n, why in daemonset_left_out(obs)]
    out += _logs(obs)
    return list(dict.fromkeys(out))


def _history(obs: Observation, e: dict) -> bool:
    """An event about a pod that was recreated after it, or that has been Ready since: past, not present."""
    io = e.get("involvedObject", {})
    if io.get("kind") != "Pod":
        return False
    pod = next((p for p in obs.pods if pod_name(p) == io.get("name")), None)
    when = parse_time(e.get("lastTimestamp") or e.get("eventTime"))
    if pod is None or when is None:
        return False
    born = parse_time(pod["metadata"].get("creationTimestamp"))
    ready = condition(pod, "Ready") or {}
    since = parse_time(ready.get("lastTransitionTime")) if ready.get("status") == "True" else None
    restarts = any(cs.get("restartCount", 0) for cs in statuses(pod))
    return bool((born and when < born) or (since and when < since and not restarts))


def _usage(obs: Observation, p: dict, subject: str) -> list[Anomaly]:
    out = []
    mem, cpu = obs.memory_usage.get(pod_name(p)), obs.cpu_usage.get(pod_name(p))
    mlim = [mem_bytes(x) for x in container_limits(p, "memory")]
    clim = [cpu_millis(x) for x in container_limits(p, "cpu")]
    if mem is not None and mlim and all(mlim) and mem >= F.SATURATED * sum(mlim):  # type: ignore[arg-type]
        out.append(Anomaly(subject, f"memory {mem // 2**20}Mi of limit {sum(mlim) // 2**20}Mi"))  # type: ignore[arg-type]
    if cpu is not None and clim and all(clim) and cpu >= F.SATURATED * sum(clim):  # type: ignore[arg-type]
        out.append(Anomaly(subject, f"cpu {cpu}m of limit {sum(clim)}m"))  # type: ignore[arg-type]
    return out


def _services(obs: Observation) -> list[Anomaly]:
    from .detectors.networking import service_port_gaps

    out = []
    services = ([obs.service] if obs.service else []) + [s for s in obs.services or [] if s is not obs.service]
    pods = pods_of(obs)
    labels = (obs.workload or {}).get("spec", {}).get("template", {}).get("metadata", {}).get("labels")
    for svc in services:
        sel = svc.get("spec", {}).get("selector")
        if not sel:
            continue
        name = svc["metadata"]["name"]
        fronts = svc is obs.service or (labels is not None and selector_matches(sel, labels))
        if not fronts:
            continue  # another workload's Service: not this incident's
        mine = [p for p in pods if selector_matches(sel, p["metadata"].get("labels"))]
        eps = obs.endpoints if svc is obs.service else obs.endpoints_of.get(name)
        if eps is not None:
            ready = sum(len(s.get("addresses") or []) for s in eps.get("subsets") or [])
            if not ready:
                out.append(Anomaly(f"service/{name}", "no ready endpoints"))
        if svc is obs.service and not mine and not obs.workload:
            out.append(Anomaly(f"service/{name}", "selector matches no pod"))
        out += [Anomaly(f"service/{name}", g) for g in service_port_gaps(svc, mine)]
        out += [Anomaly(f"service/{name}", g) for g in _mixed_backends(obs, sel, eps)]
        out += [Anomaly(f"service/{name}", g) for g in _local_only(obs, svc, eps)]
    return out


def _local_only(obs: Observation, svc: dict, eps: dict | None) -> list[str]:
    """internalTrafficPolicy Local: kube-proxy sends in-cluster traffic only to endpoints on the client's own node
    and drops it where there is none (no fallback, by design). Ready nodes without an endpoint are listed."""
    if (svc.get("spec") or {}).get("internalTrafficPolicy") != "Local" or eps is None or obs.nodes is None:
        return []
    on = {a.get("nodeName") for s in eps.get("subsets") or [] for a in s.get("addresses") or []}
    ready = [n["metadata"]["name"] for n in obs.nodes if F.node_ready(n)]  # a cordoned node's pods are clients too
    without = [n for n in ready if n not in on]
    if not without:
        return []
    return [f"internalTrafficPolicy Local with ready endpoints on {len(ready) - len(without)} of {len(ready)} Ready node(s): "
            f"clients on {', '.join(without[:4])}{' ...' if len(without) > 4 else ''} get no endpoint (kube-proxy drops "
            "their traffic, there is no fallback to other nodes)"]


def _mixed_backends(obs: Observation, selector: dict, eps: dict | None) -> list[str]:
    """A Service whose selector takes in the pods of more than one workload (during a rollout two ReplicaSets
    of one Deployment are one workload): its requests are shared between releases or applications."""
    owners: dict[str, list[str]] = {}
    for p in obs.pods:
        if selector_matches(selector, p["metadata"].get("labels")) and p.get("status", {}).get("phase") not in ("Succeeded", "Failed"):
            owners.setdefault(workload_of(p, obs.replicasets) or f"pod/{pod_name(p)}", []).append(pod_name(p))
    targets = [(a.get("targetRef") or {}).get("name") for s in (eps or {}).get("subsets") or [] for a in s.get("addresses") or []]
    read = {n for names in owners.values() for n in names}
    if obs.workload_ref and len(owners) <= 1:
        base = obs.workload_ref.split("/", 1)[1] + "-"
        foreign = sorted(t for t in targets if t and t not in read and not t.startswith(base))
        if foreign:
            owners.setdefault("pods outside " + obs.workload_ref, []).extend(foreign)
    if len(owners) < 2:
        return []
    served = set(targets)
    parts = [f"{o} ({len(names)} pod(s){', ' + str(sum(n in served for n in names)) + ' in its endpoints' if eps else ''})"
             for o, names in sorted(owners.items())]
    return [f"selector takes in the pods of {len(owners)} workloads: {'; '.join(parts)}"]


def _logs(obs: Observation) -> list[Anomaly]:
    out = [Anomaly(f"pod/{pod}", line) for pod, line in F.silent_logs(obs)]
    for key, text in sorted(obs.logs.items()):
        lines = [ln for ln in (text or "").splitlines() if ln.strip()]
        errors = [ln for ln in lines if ERROR_LINE.search(ln)]
        warnings = [] if errors else [ln for ln in lines if WARN_LINE.search(ln)]
        for what, hits in (("error", errors), ("warning", warnings)):
            if hits:
                out.append(Anomaly(f"pod/{key.split('/')[0]}", f"{len(hits)} {what} line(s) of {len(lines)} read in "
                                   f"{'the previous' if key.endswith('/previous') else 'the'} log of {key.split('/')[1]}, "
                                   f"last: \"{hits[-1].strip()[:140]}\""))
    return out


def explained(a: Anomaly, affected: set[str], workload_ref: str | None) -> bool:
    """An anomaly the diagnosis accounts for: about an object it names (or the pods/ReplicaSets of its workload
    when it names the workload)."""
    kind, _, name = a.subject.partition("/")
    if a.subject in affected or name in affected:
        return True
    if workload_ref and workload_ref in affected:
        if kind == "service" and a.text == "no ready endpoints":
            return True  # the pods behind it are the ones failing
        if kind in ("pod", "replicaset", workload_ref.split("/")[0]):
            base = workload_ref.split("/")[1]
            return name == base or name.startswith(base + "-")
    return False


def ingress_gaps(obs: Observation) -> list[str]:
    """What keeps the named Ingress from routing: a class no IngressClass provides (no controller serves it), a
    backend Service that does not exist. Only what was read: classes or Services not read are not judged."""
    ing = obs.target if obs.kind == "ingress" else None
    if not ing:
        return []
    out = []
    cls = ingress_class(ing)
    if cls and obs.ingressclasses is not None and cls not in {c["metadata"]["name"] for c in obs.ingressclasses}:
        out.append(f"class {cls} matches no IngressClass: no controller routes its hosts")
    if obs.services is not None:
        have = {s["metadata"]["name"] for s in obs.services}
        out += [f"backend service/{b} does not exist" for b in ingress_backends(ing) if b not in have]
    return out
