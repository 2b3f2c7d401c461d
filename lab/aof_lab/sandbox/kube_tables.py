"""Server-side `Table` rendering (what kubectl asks for with `Accept: ...;as=Table`), with the columns
a real API server prints, so `kubectl get pods` output reads as it would on a cluster."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable

from aof_lab.sandbox.kube_store import parse_ts

Obj = dict[str, Any]


def human_duration(seconds: float) -> str:
    """k8s.io/apimachinery duration.HumanDuration."""
    s = int(seconds)
    if s < 0:
        s = 0
    if s < 120:
        return f"{s}s"
    m = s // 60
    if m < 10:
        return f"{m}m{s % 60}s" if s % 60 else f"{m}m"
    if m < 180:
        return f"{m}m"
    h = s // 3600
    if h < 8:
        return f"{h}h{m % 60}m" if m % 60 else f"{h}h"
    if h < 48:
        return f"{h}h"
    if h < 24 * 8:
        return f"{h // 24}d{h % 24}h" if h % 24 else f"{h // 24}d"
    if h < 24 * 365 * 2:
        return f"{h // 24}d"
    return f"{h // 24 // 365}y{(h // 24) % 365}d"


def age(ts: str | None) -> str:
    if not ts:
        return "<unknown>"
    return human_duration((datetime.now(timezone.utc) - parse_ts(ts)).total_seconds())


def _meta(o: Obj) -> Obj:
    return o.get("metadata") or {}


def _containers(o: Obj) -> list[Obj]:
    return (((o.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []


def pod_status(p: Obj) -> str:
    if _meta(p).get("deletionTimestamp"):
        return "Terminating"
    st = p.get("status") or {}
    reason = st.get("reason") or st.get("phase") or "Unknown"
    for cs in st.get("containerStatuses") or []:
        state = cs.get("state") or {}
        if "waiting" in state and state["waiting"].get("reason"):
            reason = state["waiting"]["reason"]
        elif "terminated" in state:
            reason = state["terminated"].get("reason") or f"ExitCode:{state['terminated'].get('exitCode')}"
    return reason


def pod_restarts(p: Obj) -> str:
    statuses = (p.get("status") or {}).get("containerStatuses") or []
    total = sum(int(cs.get("restartCount") or 0) for cs in statuses)
    last = max((cs.get("lastState", {}).get("terminated", {}).get("finishedAt") or "" for cs in statuses), default="")
    return f"{total} ({age(last)} ago)" if total and last else str(total)


def _pod(p: Obj) -> list[Any]:
    st = p.get("status") or {}
    ready = sum(1 for cs in st.get("containerStatuses") or [] if cs.get("ready"))
    total = len((p.get("spec") or {}).get("containers") or [])
    return [_meta(p)["name"], f"{ready}/{total}", pod_status(p), pod_restarts(p), age(_meta(p).get("creationTimestamp")),
            st.get("podIP") or "<none>", (p.get("spec") or {}).get("nodeName") or "<none>", "<none>", "<none>"]


def _deploy(d: Obj) -> list[Any]:
    st, spec = d.get("status") or {}, d.get("spec") or {}
    return [_meta(d)["name"], f"{st.get('readyReplicas', 0)}/{spec.get('replicas', 1)}", st.get("updatedReplicas", 0),
            st.get("availableReplicas", 0), age(_meta(d).get("creationTimestamp")),
            ",".join(c["name"] for c in _containers(d)), ",".join(c.get("image", "") for c in _containers(d)),
            ",".join(f"{k}={v}" for k, v in ((spec.get("selector") or {}).get("matchLabels") or {}).items())]


def _rs(r: Obj) -> list[Any]:
    st, spec = r.get("status") or {}, r.get("spec") or {}
    return [_meta(r)["name"], spec.get("replicas", 0), st.get("replicas", 0), st.get("readyReplicas", 0),
            age(_meta(r).get("creationTimestamp")), ",".join(c["name"] for c in _containers(r)),
            ",".join(c.get("image", "") for c in _containers(r)),
            ",".join(f"{k}={v}" for k, v in ((spec.get("selector") or {}).get("matchLabels") or {}).items())]


def _sts(s: Obj) -> list[Any]:
    st, spec = s.get("status") or {}, s.get("spec") or {}
    return [_meta(s)["name"], f"{st.get('readyReplicas', 0)}/{spec.get('replicas', 1)}", age(_meta(s).get("creationTimestamp")),
            ",".join(c["name"] for c in _containers(s)), ",".join(c.get("image", "") for c in _containers(s))]


def _ds(s: Obj) -> list[Any]:
    st = s.get("status") or {}
    sel = ((((s.get("spec") or {}).get("template") or {}).get("spec") or {}).get("nodeSelector")) or {}
    return [_meta(s)["name"], st.get("desiredNumberScheduled", 0), st.get("currentNumberScheduled", 0), st.get("numberReady", 0),
            st.get("updatedNumberScheduled", 0), st.get("numberAvailable", 0),
            ",".join(f"{k}={v}" for k, v in sel.items()) or "<none>", age(_meta(s).get("creationTimestamp"))]


def _svc(s: Obj) -> list[Any]:
    spec = s.get("spec") or {}
    ports = ",".join(f"{p.get('port')}{':' + str(p['nodePort']) if p.get('nodePort') else ''}/{p.get('protocol', 'TCP')}" for p in spec.get("ports") or [])
    ext = ",".join(i.get("ip") or i.get("hostname", "") for i in ((s.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []) \
        or ("<pending>" if spec.get("type") == "LoadBalancer" else "<none>")
    return [_meta(s)["name"], spec.get("type", "ClusterIP"), spec.get("clusterIP", "<none>"), ext, ports or "<none>",
            age(_meta(s).get("creationTimestamp")),
            ",".join(f"{k}={v}" for k, v in (spec.get("selector") or {}).items()) or "<none>"]


def _ep(e: Obj) -> list[Any]:
    addrs = [f"{a['ip']}:{p['port']}" for s in e.get("subsets") or [] for a in s.get("addresses") or [] for p in s.get("ports") or [{"port": ""}]]
    shown = ",".join(addrs[:3]) + (f" + {len(addrs) - 3} more..." if len(addrs) > 3 else "")
    return [_meta(e)["name"], shown or "<none>", age(_meta(e).get("creationTimestamp"))]


def _event(e: Obj) -> list[Any]:
    inv = e.get("involvedObject") or {}
    last = e.get("lastTimestamp") or e.get("eventTime") or _meta(e).get("creationTimestamp")
    return [age(last), e.get("type", ""), e.get("reason", ""), f"{str(inv.get('kind', '')).lower()}/{inv.get('name', '')}", e.get("message", "")]


def _node(n: Obj) -> list[Any]:
    st = n.get("status") or {}
    ready = next((c for c in st.get("conditions") or [] if c.get("type") == "Ready"), {})
    status = "Ready" if ready.get("status") == "True" else "NotReady"
    if (n.get("spec") or {}).get("unschedulable"):
        status += ",SchedulingDisabled"
    roles = ",".join(k.split("/", 1)[1] for k in (_meta(n).get("labels") or {}) if k.startswith("node-role.kubernetes.io/")) or "<none>"
    addr = {a.get("type"): a.get("address") for a in st.get("addresses") or []}
    info = st.get("nodeInfo") or {}
    return [_meta(n)["name"], status, roles, age(_meta(n).get("creationTimestamp")), info.get("kubeletVersion", ""),
            addr.get("InternalIP", "<none>"), addr.get("ExternalIP", "<none>"), info.get("osImage", ""),
            info.get("kernelVersion", ""), info.get("containerRuntimeVersion", "")]


def _pvc(p: Obj) -> list[Any]:
    spec, st = p.get("spec") or {}, p.get("status") or {}
    modes = ",".join({"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX", "ReadWriteOncePod": "RWOP"}.get(m, m) for m in st.get("accessModes") or [])
    return [_meta(p)["name"], st.get("phase", "Pending"), spec.get("volumeName", ""), (st.get("capacity") or {}).get("storage", ""),
            modes, spec.get("storageClassName", ""), "<unset>", age(_meta(p).get("creationTimestamp"))]


def _pv(p: Obj) -> list[Any]:
    spec, st = p.get("spec") or {}, p.get("status") or {}
    claim = spec.get("claimRef") or {}
    return [_meta(p)["name"], (spec.get("capacity") or {}).get("storage", ""), ",".join(spec.get("accessModes") or []),
            spec.get("persistentVolumeReclaimPolicy", ""), st.get("phase", ""),
            f"{claim.get('namespace')}/{claim.get('name')}" if claim else "", spec.get("storageClassName", ""),
            st.get("reason", ""), age(_meta(p).get("creationTimestamp"))]


def _sc(s: Obj) -> list[Any]:
    default = (_meta(s).get("annotations") or {}).get("storageclass.kubernetes.io/is-default-class") == "true"
    return [_meta(s)["name"] + (" (default)" if default else ""), s.get("provisioner", ""), s.get("reclaimPolicy", "Delete"),
            s.get("volumeBindingMode", "Immediate"), str(bool(s.get("allowVolumeExpansion"))).lower(), age(_meta(s).get("creationTimestamp"))]


def _ns(n: Obj) -> list[Any]:
    return [_meta(n)["name"], (n.get("status") or {}).get("phase", "Active"), age(_meta(n).get("creationTimestamp"))]


def _cm(c: Obj) -> list[Any]:
    return [_meta(c)["name"], len(c.get("data") or {}) + len(c.get("binaryData") or {}), age(_meta(c).get("creationTimestamp"))]


def _secret(c: Obj) -> list[Any]:
    return [_meta(c)["name"], c.get("type", "Opaque"), len(c.get("data") or {}), age(_meta(c).get("creationTimestamp"))]


def _hpa(h: Obj) -> list[Any]:
    spec, st = h.get("spec") or {}, h.get("status") or {}
    ref = spec.get("scaleTargetRef") or {}
    return [_meta(h)["name"], f"{ref.get('kind')}/{ref.get('name')}", "<sandbox>", spec.get("minReplicas", 1),
            spec.get("maxReplicas", ""), st.get("currentReplicas", 0), age(_meta(h).get("creationTimestamp"))]


def _webhooks(w: Obj) -> list[Any]:
    return [_meta(w)["name"], len(w.get("webhooks") or []), age(_meta(w).get("creationTimestamp"))]


def _ingress_class(c: Obj) -> list[Any]:
    params = (c.get("spec") or {}).get("parameters") or {}
    return [_meta(c)["name"], (c.get("spec") or {}).get("controller", ""),
            f"{params.get('kind')}/{params.get('name')}" if params else "<none>", age(_meta(c).get("creationTimestamp"))]


def _priority_class(c: Obj) -> list[Any]:
    return [_meta(c)["name"], c.get("value", 0), str(bool(c.get("globalDefault"))).lower(),
            c.get("preemptionPolicy", "PreemptLowerPriority"), age(_meta(c).get("creationTimestamp"))]


def _default(o: Obj) -> list[Any]:
    return [_meta(o)["name"], age(_meta(o).get("creationTimestamp"))]


COLUMNS: dict[str, tuple[list[str], int, Callable[[Obj], list[Any]]]] = {
    # kind: (column names, how many are priority 0 (always shown), cells function)
    "Pod": (["Name", "Ready", "Status", "Restarts", "Age", "IP", "Node", "Nominated Node", "Readiness Gates"], 5, _pod),
    "Deployment": (["Name", "Ready", "Up-to-date", "Available", "Age", "Containers", "Images", "Selector"], 5, _deploy),
    "ReplicaSet": (["Name", "Desired", "Current", "Ready", "Age", "Containers", "Images", "Selector"], 5, _rs),
    "StatefulSet": (["Name", "Ready", "Age", "Containers", "Images"], 3, _sts),
    "DaemonSet": (["Name", "Desired", "Current", "Ready", "Up-to-date", "Available", "Node Selector", "Age"], 8, _ds),
    "Service": (["Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age", "Selector"], 6, _svc),
    "Endpoints": (["Name", "Endpoints", "Age"], 3, _ep),
    "Event": (["Last Seen", "Type", "Reason", "Object", "Message"], 5, _event),
    "Node": (["Name", "Status", "Roles", "Age", "Version", "Internal-IP", "External-IP", "OS-Image", "Kernel-Version", "Container-Runtime"], 5, _node),
    "PersistentVolumeClaim": (["Name", "Status", "Volume", "Capacity", "Access Modes", "StorageClass", "VolumeAttributesClass", "Age"], 8, _pvc),
    "PersistentVolume": (["Name", "Capacity", "Access Modes", "Reclaim Policy", "Status", "Claim", "StorageClass", "Reason", "Age"], 9, _pv),
    "StorageClass": (["Name", "Provisioner", "ReclaimPolicy", "VolumeBindingMode", "AllowVolumeExpansion", "Age"], 6, _sc),
    "Namespace": (["Name", "Status", "Age"], 3, _ns),
    "ConfigMap": (["Name", "Data", "Age"], 3, _cm),
    "Secret": (["Name", "Type", "Data", "Age"], 4, _secret),
    "HorizontalPodAutoscaler": (["Name", "Reference", "Targets", "MinPods", "MaxPods", "Replicas", "Age"], 7, _hpa),
    "ValidatingWebhookConfiguration": (["Name", "Webhooks", "Age"], 3, _webhooks),
    "MutatingWebhookConfiguration": (["Name", "Webhooks", "Age"], 3, _webhooks),
    "IngressClass": (["Name", "Controller", "Parameters", "Age"], 4, _ingress_class),
    "PriorityClass": (["Name", "Value", "Global-Default", "PreemptionPolicy", "Age"], 5, _priority_class),
}


def to_table(kind: str, objects: list[Obj], resource_version: str) -> Obj:
    names, visible, cells = COLUMNS.get(kind, (["Name", "Age"], 2, _default))
    cols = [{"name": n, "type": "integer" if isinstance(n, int) else "string", "format": "name" if n == "Name" else "",
             "description": "", "priority": 0 if i < visible else 1} for i, n in enumerate(names)]
    rows = [{"cells": cells(o), "object": o} for o in objects]
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": resource_version},
            "columnDefinitions": cols, "rows": rows}
