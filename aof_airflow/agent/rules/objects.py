"""The objects a diagnosis reads, and the small facts every part of the engine asks of them.

WHY a leaf module: the gatherer fills an `Observation`; detectors, the inventory of anomalies and the action
preconditions read it. All of them import from here and from nothing of each other, so there is no cycle and
each piece is testable on hand-built dicts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the verdict type only; the metrics reader lives in another layer
    from aof_airflow.services.metrics_history import WorkloadHistory

REVISION = "deployment.kubernetes.io/revision"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
# What builtin:k8s-rules can be paged for: a workload and its pods, or the named object of another kind.
KINDS = ("deployment", "statefulset", "daemonset", "pod", "service", "job", "cronjob", "node", "namespace",
         "ingress", "horizontalpodautoscaler", "poddisruptionbudget", "persistentvolumeclaim")


@dataclass
class Observation:
    """Everything gathered about one incident's resource. Lists hold Kubernetes objects as the API returns them."""

    namespace: str
    kind: str  # one of KINDS, or a kind the engine does not read (then `examined` is False)
    name: str | None
    target: dict[str, Any] | None = None  # the object named by the incident (None when not found)
    deployment: dict[str, Any] | None = None
    statefulset: dict[str, Any] | None = None
    daemonset: dict[str, Any] | None = None
    job: dict[str, Any] | None = None  # the Job named (or a CronJob's newest Job)
    service: dict[str, Any] | None = None
    endpoints: dict[str, Any] | None = None
    pods: list[dict[str, Any]] = field(default_factory=list)
    replicasets: list[dict[str, Any]] = field(default_factory=list)
    controllerrevisions: list[dict[str, Any]] | None = None  # a DaemonSet's/StatefulSet's history (None = not read)
    events: list[dict[str, Any]] = field(default_factory=list)
    nodes: list[dict[str, Any]] | None = None  # None = not gathered / not allowed (cluster scope)
    pvcs: list[dict[str, Any]] = field(default_factory=list)
    storageclasses: list[dict[str, Any]] | None = None
    configmaps: dict[str, bool] = field(default_factory=dict)  # name -> exists
    secrets: dict[str, bool] = field(default_factory=dict)  # name -> exists (never the data)
    users_read: bool = False  # the namespace's pods were listed for the named object's users (none may use it)
    config_written: dict[str, str] = field(default_factory=dict)  # "configmap/x", "secret/y" the env reads -> last write
    logs: dict[str, str] = field(default_factory=dict)  # "<pod>/<container>" and "<pod>/<container>/previous"
    memory_usage: dict[str, int] = field(default_factory=dict)  # pod -> bytes, from `kubectl top` when served
    namespace_labels: list[str] = field(default_factory=list)  # "pod: k=v,..." when a Service selects nothing
    networkpolicies: list[dict[str, Any]] | None = None  # None = not read (read when logs show network errors)
    services: list[dict[str, Any]] | None = None  # the namespace's Services (None = not read)
    endpoints_of: dict[str, dict[str, Any]] = field(default_factory=dict)  # Service name -> its Endpoints
    cpu_usage: dict[str, int] = field(default_factory=dict)  # pod -> millicores, from `kubectl top`
    hpas: list[dict[str, Any]] | None = None  # the namespace's HorizontalPodAutoscalers (None = not read)
    pdbs: list[dict[str, Any]] | None = None  # PodDisruptionBudgets (None = not read)
    quotas: list[dict[str, Any]] | None = None  # ResourceQuotas (None = not read)
    webhooks: list[dict[str, Any]] | None = None  # admission webhook configurations (None = not read)
    ingressclasses: list[dict[str, Any]] | None = None  # IngressClasses, read for an Ingress (None = not read)
    unread_dependencies: list[str] = field(default_factory=list)  # what the named object needs that could not be read
    jobs: list[dict[str, Any]] = field(default_factory=list)  # a CronJob's Jobs, newest last
    history: WorkloadHistory | None = None  # metric verdicts, when a history source was given
    not_read: dict[str, str] = field(default_factory=dict)  # what could not be read -> why (refused, not served)
    seconds: float = 0.0  # time spent reading
    capped: dict[str, tuple[int, int]] = field(default_factory=dict)  # list -> (items read, items listed)
    errors: list[str] = field(default_factory=list)  # commands that failed or were refused, verbatim
    commands: list[str] = field(default_factory=list)

    @property
    def workload(self) -> dict[str, Any] | None:
        """The controller the pods belong to (Deployment, StatefulSet or DaemonSet), if any."""
        return self.deployment or self.statefulset or self.daemonset

    @property
    def workload_ref(self) -> str | None:
        if self.deployment:
            return f"deployment/{self.deployment['metadata']['name']}"
        if self.statefulset:
            return f"statefulset/{self.statefulset['metadata']['name']}"
        if self.daemonset:
            return f"daemonset/{self.daemonset['metadata']['name']}"
        return None

    @property
    def examined(self) -> bool:
        """Whether this engine reads the incident's kind at all (False: say "not examined", never "not found")."""
        return self.kind in KINDS

    def not_examined(self) -> list[str]:
        """What this diagnosis did not read, each with why: never to be reported as fine."""
        out = [f"{what} ({why})" for what, why in self.not_read.items()]
        if self.history is None:
            out.append("metrics history (no history source configured)")
        elif not self.history.examined:
            out.append(f"metrics history ({self.history.not_examined_because or 'not read'})")
        if self.nodes is None and self.pods and "Nodes" not in self.not_read:
            out.append("Nodes (not read)")
        if self.networkpolicies is None and "networkpolicies" not in self.not_read:
            out.append("NetworkPolicies (not read)")
        if self.webhooks is None:
            out.append("admission webhook configurations (read only when pods are refused)")
        if self.kind != "ingress":
            out.append("Ingresses")
        out.append("RBAC (Roles, RoleBindings)")
        return out + ["logs beyond the last lines read", "dependencies outside the cluster"]

    @property
    def pods_complete(self) -> bool:
        """False when the pod list was longer than what was read (counts then come from the controller's status)."""
        return not any(k.startswith("pods") for k in self.capped)



class Refuted(str):
    """A precondition the data show to be false (not merely unproven): the change cannot help, it is not proposed."""


def parse_resource(resource: str | None, service: str | None = None) -> tuple[str, str | None]:
    """'deployment/api', 'deploy/api', 'sts/pg', 'pod/x', 'svc/y' or a bare name -> (kind, name)."""
    aliases = {
        "deployment": "deployment", "deployments": "deployment", "deploy": "deployment",
        "deployment.apps": "deployment",
        "statefulset": "statefulset", "statefulsets": "statefulset", "sts": "statefulset",
        "statefulset.apps": "statefulset",
        "pod": "pod", "pods": "pod", "po": "pod",
        "service": "service", "services": "service", "svc": "service",
        "daemonset": "daemonset", "daemonsets": "daemonset", "ds": "daemonset", "daemonset.apps": "daemonset",
        "job": "job", "jobs": "job", "job.batch": "job",
        "cronjob": "cronjob", "cronjobs": "cronjob", "cj": "cronjob", "cronjob.batch": "cronjob",
        "node": "node", "nodes": "node", "no": "node",
        "namespace": "namespace", "namespaces": "namespace", "ns": "namespace",
        "ingress": "ingress", "ingresses": "ingress", "ing": "ingress", "ingress.networking.k8s.io": "ingress",
        "horizontalpodautoscaler": "horizontalpodautoscaler", "horizontalpodautoscalers": "horizontalpodautoscaler",
        "hpa": "horizontalpodautoscaler", "horizontalpodautoscaler.autoscaling": "horizontalpodautoscaler",
        "poddisruptionbudget": "poddisruptionbudget", "poddisruptionbudgets": "poddisruptionbudget",
        "pdb": "poddisruptionbudget", "poddisruptionbudget.policy": "poddisruptionbudget",
        "persistentvolumeclaim": "persistentvolumeclaim", "persistentvolumeclaims": "persistentvolumeclaim",
        "pvc": "persistentvolumeclaim",
    }
    if resource:
        resource = resource.strip()
        if "/" in resource:
            kind, name = resource.split("/", 1)
            return aliases.get(kind.lower(), kind.lower()), name
        return "deployment", resource
    if service:
        return "deployment", service
    return "namespace", None


def selector_matches(selector: dict[str, Any] | None, labels: dict[str, str] | None) -> bool:
    """Label selector semantics (matchLabels + matchExpressions, or a Service's plain map)."""
    if not selector:
        return False
    labels = labels or {}
    match_labels = selector.get("matchLabels") if ("matchLabels" in selector or "matchExpressions" in selector) else selector
    for k, v in (match_labels or {}).items():
        if labels.get(k) != v:
            return False
    exprs = (selector.get("matchExpressions") or []) if "matchExpressions" in selector else []
    for expr in exprs:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def label_arg(selector: dict[str, Any] | None) -> str | None:
    """A `-l` argument for simple equality selectors; None when client-side filtering must do."""
    if not selector:
        return None
    ml = selector.get("matchLabels") if "matchLabels" in selector or "matchExpressions" in selector else selector
    if not ml or selector.get("matchExpressions"):
        return None
    return ",".join(f"{k}={v}" for k, v in sorted(ml.items()))


def has_limits(pod_spec: dict[str, Any]) -> bool:
    """Whether a pod (or template) spec gives a container a memory or CPU limit (usage then tells something)."""
    return any((c.get("resources", {}).get("limits") or {}).get(r) for c in pod_spec.get("containers", []) or []
               for r in ("memory", "cpu"))


def pod_ready(pod: dict[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in pod.get("status", {}).get("conditions", []) or [])


def lost(pod: dict[str, Any]) -> bool:
    """A pod that its node may have lost: being deleted, or unready while every container says ready."""
    st = pod.get("status", {})
    cs = st.get("containerStatuses") or []
    return bool(pod.get("metadata", {}).get("deletionTimestamp")) or (
        st.get("phase") == "Running" and not pod_ready(pod) and bool(cs) and all(c.get("ready") for c in cs))


def owned_by(obj: dict[str, Any], kind: str, name: str, uid: str | None) -> bool:
    for o in obj.get("metadata", {}).get("ownerReferences", []) or []:
        if o.get("kind") == kind and o.get("name") == name and (not uid or not o.get("uid") or o.get("uid") == uid):
            return True
    return False


def config_refs(pod: dict[str, Any]) -> tuple[set[str], set[str]]:
    """Names of ConfigMaps and Secrets a pod needs (env, envFrom, volumes), optional ones excluded."""
    cms: set[str] = set()
    secs: set[str] = set()
    spec = pod.get("spec", {})
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        for ef in c.get("envFrom", []) or []:
            if ef.get("configMapRef") and not ef["configMapRef"].get("optional"):
                cms.add(ef["configMapRef"]["name"])
            if ef.get("secretRef") and not ef["secretRef"].get("optional"):
                secs.add(ef["secretRef"]["name"])
        for e in c.get("env", []) or []:
            vf = e.get("valueFrom") or {}
            if vf.get("configMapKeyRef") and not vf["configMapKeyRef"].get("optional"):
                cms.add(vf["configMapKeyRef"]["name"])
            if vf.get("secretKeyRef") and not vf["secretKeyRef"].get("optional"):
                secs.add(vf["secretKeyRef"]["name"])
    for v in spec.get("volumes", []) or []:
        if v.get("configMap") and not v["configMap"].get("optional"):
            cms.add(v["configMap"]["name"])
        if v.get("secret") and not v["secret"].get("optional"):
            secs.add(v["secret"]["secretName"])
    return cms, secs


def config_key_refs(pod: dict[str, Any]) -> set[tuple[str, str, str]]:
    """(kind, name, key) of every single key a pod reads from a ConfigMap or Secret (env valueFrom, volume items),
    optional ones excluded: a key that disappears fails every pod that reads it, whichever revision it belongs to."""
    out: set[tuple[str, str, str]] = set()
    spec = pod.get("spec", {})
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        for e in c.get("env", []) or []:
            vf = e.get("valueFrom") or {}
            for kind, ref in (("configmap", vf.get("configMapKeyRef")), ("secret", vf.get("secretKeyRef"))):
                if ref and not ref.get("optional") and ref.get("key"):
                    out.add((kind, ref.get("name", ""), ref["key"]))
    for v in spec.get("volumes", []) or []:
        for kind, src, name in (("configmap", v.get("configMap"), "name"), ("secret", v.get("secret"), "secretName")):
            if src and not src.get("optional"):
                out |= {(kind, src.get(name, ""), i["key"]) for i in src.get("items") or [] if i.get("key")}
    return out


def pods_of(obs: Observation) -> list[dict[str, Any]]:
    return [p for p in obs.pods if p.get("status", {}).get("reason") != "Evicted"]


def pod_name(pod: dict[str, Any]) -> str:
    return pod["metadata"]["name"]


def condition(obj: dict[str, Any] | None, ctype: str) -> dict[str, Any] | None:
    for c in (obj or {}).get("status", {}).get("conditions", []) or []:
        if c.get("type") == ctype:
            return c
    return None


def statuses(pod: dict[str, Any]) -> list[dict[str, Any]]:
    st = pod.get("status", {})
    return (st.get("initContainerStatuses") or []) + (st.get("containerStatuses") or [])


def events_for(obs: Observation, name: str | None = None, reasons: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    out = []
    for e in obs.events:
        if name and e.get("involvedObject", {}).get("name") != name:
            continue
        if reasons and e.get("reason") not in reasons:
            continue
        out.append(e)
    return out


def quote_event(e: dict[str, Any]) -> str:
    count = e.get("count")
    times = f" (x{count})" if count and count > 1 else ""
    return f"event {e.get('reason')} on {e.get('involvedObject', {}).get('kind', '').lower()}/{e.get('involvedObject', {}).get('name')}{times}: \"{(e.get('message') or '').strip()}\""


def tail(text: str | None, n: int = 3, width: int = 200) -> list[str]:
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
    return [ln[:width] for ln in lines[-n:]]


def cpu_millis(q: str | None) -> int | None:
    """CPU quantity ('250m', '1', '0.5', '1500000n') -> millicores."""
    m = re.fullmatch(r"([0-9.]+)(m|n|u|)", str(q or "").strip())
    if not m:
        return None
    return int(float(m.group(1)) * {"": 1000, "m": 1, "u": 1e-3, "n": 1e-6}[m.group(2)])


def container_limits(pod: dict[str, Any], resource: str) -> list[str | None]:
    """Each container's limit for `resource` (None where it has none)."""
    return [(c.get("resources", {}).get("limits") or {}).get(resource) for c in pod.get("spec", {}).get("containers", []) or []]


def mem_bytes(q: str | None) -> int | None:
    """Kubernetes quantity ('512Mi', '1G', '1.5Gi', '1048576') -> bytes."""
    if not q:
        return None
    m = re.fullmatch(r"([0-9.]+)([KMGTPE]i?|[kmMGTPE]|)", str(q).strip())
    if not m:
        return None
    num, unit = float(m.group(1)), m.group(2)
    mult = {"": 1, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
            "Ki": 1024, "Mi": 1024**2, "Gi": 1024**3, "Ti": 1024**4, "Pi": 1024**5, "Ei": 1024**6, "m": 1e-3}
    return int(num * mult[unit])


def parse_time(v: Any) -> datetime | None:
    if not isinstance(v, str) or not v:
        return None
    try:
        return datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        return None


# A log line that reports a failure or a refusal, whatever its level (a refusal is often logged at WARN),
# and a server error answered or received (HTTP 5xx: a request line with a 5xx status, or its reason phrase)
# 429 is a refusal too: the server (or a proxy's rate limit) turned the request away.
ERROR_LINE = re.compile(r"\b(?:ERROR|FATAL|CRITICAL|panic|Exception|Traceback|forbidden|refused|rejected|denied|unauthorized"
                        r"|timed out|timeout|deadlock|Service Unavailable|Bad Gateway|Gateway Time-?out|Internal Server Error"
                        r"|Too Many Requests)\b"
                        r"|\b(?:GET|POST|PUT|PATCH|DELETE|HEAD)\s+\S+\s+(?:5\d\d|429)\b"
                        r"|(?:->|\bstatus[=:]\s?|\bcode[=:]\s?|HTTP/\d(?:\.\d)?\"?\s)(?:5\d\d|429)\b",
                        re.I)
# A line the application itself marks as a warning: its level field or prefix (log4j/logback/Spring, logfmt, JSON,
# fluent-bit's "[ warn]", klog's "W1207"). Not an error, but not nothing: listed when a log has no error line.
WARN_LINE = re.compile(r"\b(?:WARN|WARNING)\b|(?i:\"?level\"?\s*[=:]\s*\"?warn(?:ing)?\b|\[\s*warn\s*\])|^\s*W\d{4} \d\d:\d\d")
# A log line's leading RFC 3339 timestamp (kubectl logs --timestamps, or the application's own)
LOG_STAMP = re.compile(r"^\s*\[?(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?)")


def observed_at(obs: Observation) -> datetime | None:
    """'Now' as the data tell it, a lower bound that is stable for recorded data: the latest event, container
    state or condition time, node heartbeat (the kubelet refreshes it every few minutes while it runs) or
    timestamped log line (logs are read at the moment of the diagnosis). Without heartbeats and logs, a workload
    with no recent transition would look as young as its last change."""
    stamps: list[Any] = [e.get("lastTimestamp") or e.get("eventTime") for e in obs.events]
    for p in obs.pods:
        stamps += [c.get("lastTransitionTime") for c in p.get("status", {}).get("conditions", []) or []]
        for cs in statuses(p):
            for st in ((cs.get("state") or {}).values(), ((cs.get("lastState") or {}).values())):
                for v in st:
                    if isinstance(v, dict):
                        stamps += [v.get("startedAt"), v.get("finishedAt")]
    for n in obs.nodes or []:
        stamps += [c.get("lastHeartbeatTime") for c in (n.get("status") or {}).get("conditions") or []]
    for text in obs.logs.values():
        stamps += [m.group(1) for ln in (text or "").splitlines()[-3:] for m in [LOG_STAMP.match(ln)] if m]
    times = [t for t in map(parse_time, stamps) if t and t.tzinfo is not None]
    return max(times) if times else None


def container_spec(pod: dict[str, Any], name: str) -> dict[str, Any]:
    spec = pod.get("spec", {})
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        if c.get("name") == name:
            return c
    return {}


def requests_of(pod: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for c in pod.get("spec", {}).get("containers", []) or []:
        for k, v in (c.get("resources", {}).get("requests") or {}).items():
            out[k] = v if k not in out else f"{out[k]}+{v}"
        for k, v in (c.get("resources", {}).get("limits") or {}).items():
            if "gpu" in k and k not in out:
                out[k] = v
    return out


def ingress_class(ing: dict[str, Any]) -> str | None:
    return ing.get("spec", {}).get("ingressClassName") or \
        (ing.get("metadata", {}).get("annotations") or {}).get("kubernetes.io/ingress.class")


def ingress_backends(ing: dict[str, Any]) -> list[str]:
    names = [((p.get("backend") or {}).get("service") or {}).get("name") for r in ing.get("spec", {}).get("rules") or []
             for p in (r.get("http") or {}).get("paths") or []]
    names.append(((ing.get("spec", {}).get("defaultBackend") or {}).get("service") or {}).get("name"))
    return sorted({n for n in names if n})
