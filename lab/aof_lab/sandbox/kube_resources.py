"""The resource types the simulated Kubernetes API serves, and the discovery documents kubectl reads
to map `deploy/api` onto `/apis/apps/v1/namespaces/<ns>/deployments/api`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]


@dataclass(frozen=True)
class ResourceType:
    kind: str
    plural: str
    group: str  # "" for the core group
    version: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    verbs: tuple[str, ...] = tuple(VERBS)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self) -> tuple[str, str]:
        return (self.group, self.plural)


R = ResourceType
RESOURCES: tuple[ResourceType, ...] = (
    R("Namespace", "namespaces", "", "v1", False, ("ns",), ("status",)),
    R("Node", "nodes", "", "v1", False, ("no",), ("status",)),
    R("Pod", "pods", "", "v1", True, ("po",), ("log", "status")),
    R("Service", "services", "", "v1", True, ("svc",), ("status",)),
    R("Endpoints", "endpoints", "", "v1", True, ("ep",)),
    R("Event", "events", "", "v1", True, ("ev",)),
    R("ConfigMap", "configmaps", "", "v1", True, ("cm",)),
    R("Secret", "secrets", "", "v1", True),
    R("ServiceAccount", "serviceaccounts", "", "v1", True, ("sa",)),
    R("PersistentVolumeClaim", "persistentvolumeclaims", "", "v1", True, ("pvc",), ("status",)),
    R("PersistentVolume", "persistentvolumes", "", "v1", False, ("pv",), ("status",)),
    R("ResourceQuota", "resourcequotas", "", "v1", True, ("quota",), ("status",)),
    R("LimitRange", "limitranges", "", "v1", True, ("limits",)),
    R("Deployment", "deployments", "apps", "v1", True, ("deploy",), ("scale", "status")),
    R("ReplicaSet", "replicasets", "apps", "v1", True, ("rs",), ("scale", "status")),
    R("StatefulSet", "statefulsets", "apps", "v1", True, ("sts",), ("scale", "status")),
    R("DaemonSet", "daemonsets", "apps", "v1", True, ("ds",), ("status",)),
    R("ControllerRevision", "controllerrevisions", "apps", "v1", True),
    R("Job", "jobs", "batch", "v1", True, (), ("status",)),
    R("CronJob", "cronjobs", "batch", "v1", True, ("cj",), ("status",)),
    R("HorizontalPodAutoscaler", "horizontalpodautoscalers", "autoscaling", "v2", True, ("hpa",), ("status",)),
    R("PodDisruptionBudget", "poddisruptionbudgets", "policy", "v1", True, ("pdb",), ("status",)),
    R("Ingress", "ingresses", "networking.k8s.io", "v1", True, ("ing",), ("status",)),
    R("NetworkPolicy", "networkpolicies", "networking.k8s.io", "v1", True, ("netpol",)),
    R("StorageClass", "storageclasses", "storage.k8s.io", "v1", False, ("sc",)),
    R("IngressClass", "ingressclasses", "networking.k8s.io", "v1", False),
    R("PriorityClass", "priorityclasses", "scheduling.k8s.io", "v1", False, ("pc",)),
    R("ValidatingWebhookConfiguration", "validatingwebhookconfigurations", "admissionregistration.k8s.io", "v1", False),
    R("MutatingWebhookConfiguration", "mutatingwebhookconfigurations", "admissionregistration.k8s.io", "v1", False),
)
DERIVED = (  # read-only views computed from other objects (EndpointSlices from Endpoints)
    R("EndpointSlice", "endpointslices", "discovery.k8s.io", "v1", True, (), (), ("get", "list")),
)
# `kubectl get all` expands the "all" category from discovery.
ALL_CATEGORY = {"pods", "services", "deployments", "replicasets", "statefulsets", "daemonsets", "jobs", "cronjobs",
                "horizontalpodautoscalers"}
METRICS = (
    R("PodMetrics", "pods", "metrics.k8s.io", "v1beta1", True, (), (), ("get", "list")),
    R("NodeMetrics", "nodes", "metrics.k8s.io", "v1beta1", False, (), (), ("get", "list")),
)
BY_KIND: dict[str, ResourceType] = {r.kind: r for r in RESOURCES}
BY_PATH: dict[tuple[str, str, str], ResourceType] = {(r.group, r.version, r.plural): r for r in RESOURCES + METRICS + DERIVED}
SCALE_SUB = {"group": "autoscaling", "version": "v1", "kind": "Scale"}


def group_versions() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for r in RESOURCES + METRICS + DERIVED:
        if r.group and r.version not in out.setdefault(r.group, []):
            out[r.group].append(r.version)
    out.setdefault("autoscaling", []).append("v1")  # Scale subresources live in autoscaling/v1
    return out


def api_versions(server: str) -> dict[str, Any]:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server}]}


def api_group_list() -> dict[str, Any]:
    groups = []
    for g, versions in group_versions().items():
        vs = [{"groupVersion": f"{g}/{v}", "version": v} for v in versions]
        groups.append({"name": g, "versions": vs, "preferredVersion": vs[0]})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_resource_list(group: str, version: str) -> dict[str, Any] | None:
    if group and version not in group_versions().get(group, []):
        return None
    if not group and version != "v1":
        return None
    res: list[dict[str, Any]] = []
    for r in RESOURCES + METRICS + DERIVED:
        if r.group != group or r.version != version:
            continue
        res.append({"name": r.plural, "singularName": r.kind.lower(), "namespaced": r.namespaced, "kind": r.kind,
                    "verbs": list(r.verbs), **({"shortNames": list(r.short_names)} if r.short_names else {}),
                    **({"categories": ["all"]} if r.plural in ALL_CATEGORY and r.group != "metrics.k8s.io" else {})})
        for sub in r.subresources:
            entry: dict[str, Any] = {"name": f"{r.plural}/{sub}", "singularName": "", "namespaced": r.namespaced,
                                     "kind": r.kind, "verbs": ["get", "patch", "update"]}
            if sub == "scale":
                entry.update(SCALE_SUB)
            if sub == "log":
                entry.update(kind="Pod", verbs=["get"])
            res.append(entry)
    if group == "autoscaling" and version == "v1":
        res.append({"name": "horizontalpodautoscalers", "singularName": "horizontalpodautoscaler", "namespaced": True,
                    "kind": "HorizontalPodAutoscaler", "verbs": ["get", "list"], "shortNames": ["hpa"]})
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": f"{group}/{version}" if group else version,
            "resources": res}


AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


def wants_aggregated(accept: str | None) -> bool:
    """kubectl >= 1.26 asks /api and /apis for the whole discovery in one document (apidiscovery.k8s.io/v2)
    before falling back to one request per group version, as real API servers (GA in 1.30) answer."""
    return any("g=apidiscovery.k8s.io" in part and "v=v2;" in part.replace(" ", "") + ";"
               and "as=APIGroupDiscoveryList" in part for part in (accept or "").split(","))


def aggregated_discovery(core: bool) -> dict[str, Any]:
    """The APIGroupDiscoveryList of /api (core) or /apis (every group), built from the same resource lists."""
    groups = [("", ["v1"])] if core else list(group_versions().items())
    items = []
    for group, versions in groups:
        vs = []
        for version in versions:
            resources: dict[str, dict[str, Any]] = {}
            for e in (api_resource_list(group, version) or {}).get("resources", []):
                plural, _, sub = e["name"].partition("/")
                kind = {"group": e.get("group", group), "version": e.get("version", version), "kind": e["kind"]}
                if sub:
                    resources[plural].setdefault("subresources", []).append(
                        {"subresource": sub, "responseKind": kind, "verbs": e["verbs"]})
                    continue
                resources[plural] = {"resource": plural, "responseKind": kind, "singularResource": e["singularName"],
                                     "scope": "Namespaced" if e["namespaced"] else "Cluster", "verbs": e["verbs"],
                                     **{k: e[k] for k in ("shortNames", "categories") if k in e}}
            vs.append({"version": version, "resources": list(resources.values()), "freshness": "Current"})
        items.append({"metadata": {"name": group} if group else {}, "versions": vs})
    return {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items}
