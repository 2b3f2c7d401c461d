"""Alertmanager's webhook payload (version 4) read strictly, and mapped to the incident the flows know.

The payload (prometheus/alertmanager `notify/webhook`): `version` "4", `groupKey`, `status` firing|resolved,
`receiver`, `groupLabels`, `commonLabels`, `commonAnnotations`, `externalURL`, `truncatedAlerts`, and
`alerts[]` each with `status`, `labels`, `annotations`, `startsAt`, `endsAt`, `generatorURL`, `fingerprint`.

A signal is what one run is about: a target (namespace + workload) and an alert name. Labels name the
target the way kube-prometheus alerts carry it: `deployment` / `statefulset` / `daemonset` (kube-state-metrics
workload alerts), `workload` + `workload_type` (the mixin's pod -> workload recording rule), else `pod`, whose
Deployment is read off the name when it has the ReplicaSet's shape (`<deployment>-<pod-template-hash>-<5>`).
The incident is written in the seed's `event.incident` shape, so a flow written for PagerDuty runs unchanged;
the alerts themselves travel along under `alertmanager`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aof_airflow.services.event_text import clean

VERSION = "4"
MAX_ALERTS_IN_CONF = 20  # a run's conf lives in the metadata DB: the first alerts, and the count
# DNS-1123 names (namespaces, workloads, pods): anything else names no target
NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
# Kubernetes' pod-template-hash alphabet (rand.SafeEncodeString) and a ReplicaSet pod's random suffix
REPLICASET_POD = re.compile(r"^(?P<deployment>[a-z0-9][-a-z0-9.]*?)-[bcdfghjklmnpqrstvwxz2456789]{6,10}-[bcdfghjklmnpqrstvwxz2456789]{5}$")
WORKLOAD_KINDS = ("deployment", "statefulset", "daemonset")
# how a resource's kind is written in `kind/name` (kubectl's short names and plurals)
KIND_ALIASES = {"deploy": "deployment", "deployments": "deployment", "sts": "statefulset", "statefulsets": "statefulset",
                "ds": "daemonset", "daemonsets": "daemonset", "po": "pod", "pods": "pod"}
URGENT = {"critical", "page", "high", "error"}


class NotVersion4(ValueError):
    """The body is JSON but not an Alertmanager version-4 notification: what is wrong, and where."""


@dataclass(frozen=True)
class Alert:
    status: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: str
    ends_at: str
    fingerprint: str
    generator_url: str = ""

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "")


@dataclass(frozen=True)
class Notification:
    group_key: str
    status: str
    receiver: str
    group_labels: dict[str, str]
    common_labels: dict[str, str]
    common_annotations: dict[str, str]
    external_url: str
    alerts: tuple[Alert, ...]
    truncated: int = 0


@dataclass(frozen=True)
class Target:
    namespace: str
    kind: str  # deployment | statefulset | daemonset | pod
    name: str
    inferred: bool = False  # the Deployment read off a pod's name

    @property
    def resource(self) -> str:
        return f"{self.kind}/{self.name}"

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.kind}/{self.name}"

    @classmethod
    def of(cls, namespace: str | None, resource: str | None) -> Target | None:
        """The target an incident's namespace and `kind/name` resource name (`deploy/api` as `deployment/api`),
        or None when they name no workload or pod."""
        if not namespace or not resource or "/" not in resource:
            return None
        kind, _, name = resource.partition("/")
        kind = KIND_ALIASES.get(kind.lower(), kind.lower())
        if kind not in (*WORKLOAD_KINDS, "pod") or not NAME.match(namespace) or not NAME.match(name):
            return None
        return cls(namespace, kind, name)


def _labels(v: Any, where: str) -> dict[str, str]:
    if not isinstance(v, dict) or not all(isinstance(k, str) and isinstance(x, str) for k, x in v.items()):
        raise NotVersion4(f"{where} must be an object of strings")
    return v


def _text(d: dict, key: str, where: str, *, required: bool = True) -> str:
    v = d.get(key)
    if v is None and not required:
        return ""
    if not isinstance(v, str) or (required and not v):
        raise NotVersion4(f"{where}.{key} must be a non-empty string")
    return v


def parse(payload: Any) -> Notification:
    """A version-4 notification, or `NotVersion4` saying which field is missing or wrong."""
    if not isinstance(payload, dict):
        raise NotVersion4("the body must be a JSON object")
    if payload.get("version") != VERSION:
        raise NotVersion4(f"`version` is {payload.get('version')!r}: this receiver reads Alertmanager's webhook "
                          "payload version \"4\" (Alertmanager 0.x `webhook_configs`)")
    status = _text(payload, "status", "body")
    if status not in ("firing", "resolved"):
        raise NotVersion4(f"`status` must be firing or resolved, not {status!r}")
    raw = payload.get("alerts")
    if not isinstance(raw, list) or not raw:
        raise NotVersion4("`alerts` must be a non-empty list")
    alerts = []
    for i, a in enumerate(raw):
        where = f"alerts[{i}]"
        if not isinstance(a, dict):
            raise NotVersion4(f"{where} must be an object")
        st = _text(a, "status", where)
        if st not in ("firing", "resolved"):
            raise NotVersion4(f"{where}.status must be firing or resolved, not {st!r}")
        alerts.append(Alert(status=st, labels=_labels(a.get("labels"), f"{where}.labels"),
                            annotations=_labels(a.get("annotations") or {}, f"{where}.annotations"),
                            starts_at=_time(a, "startsAt", where), ends_at=_time(a, "endsAt", where),
                            fingerprint=_text(a, "fingerprint", where), generator_url=_text(a, "generatorURL", where,
                                                                                              required=False)))
    truncated = payload.get("truncatedAlerts", 0)
    return Notification(
        group_key=_text(payload, "groupKey", "body"), status=status, receiver=_text(payload, "receiver", "body",
                                                                                    required=False),
        group_labels=_labels(payload.get("groupLabels") or {}, "groupLabels"),
        common_labels=_labels(payload.get("commonLabels") or {}, "commonLabels"),
        common_annotations=_labels(payload.get("commonAnnotations") or {}, "commonAnnotations"),
        external_url=_text(payload, "externalURL", "body", required=False), alerts=tuple(alerts),
        truncated=truncated if isinstance(truncated, int) else 0)


def _time(a: dict, key: str, where: str) -> str:
    v = _text(a, key, where)
    try:
        datetime.fromisoformat(v.replace("Z", "+00:00")[:32] if "." not in v else _trim_fraction(v))
    except ValueError:
        raise NotVersion4(f"{where}.{key} is not an RFC 3339 time: {v[:40]!r}") from None
    return v


def _trim_fraction(v: str) -> str:
    """Go writes nanoseconds (`.123456789Z`); Python's parser takes at most microseconds."""
    m = re.match(r"^(.*\.\d{1,6})\d*(.*)$", v.replace("Z", "+00:00"))
    return (m.group(1) + m.group(2)) if m else v


def target_of(labels: dict[str, str]) -> Target | None:
    """The workload an alert's labels name, or None when they name none (nothing to act on)."""
    ns = labels.get("namespace", "")
    if not NAME.match(ns):
        return None
    for kind in WORKLOAD_KINDS:
        if NAME.match(labels.get(kind, "")):
            return Target(ns, kind, labels[kind])
    if labels.get("workload_type") in WORKLOAD_KINDS and NAME.match(labels.get("workload", "")):
        return Target(ns, labels["workload_type"], labels["workload"])
    pod = labels.get("pod", "")
    if NAME.match(pod):
        m = REPLICASET_POD.match(pod)
        return Target(ns, "deployment", m.group("deployment"), inferred=True) if m else Target(ns, "pod", pod)
    return None


def signal_key(target: Target | None, alertname: str, fingerprint: str) -> str:
    """Target and alert name; an alert with no target is a signal of its own (its Alertmanager fingerprint)."""
    return f"{target.key}#{alertname}" if target else f"no-target#{alertname}#{fingerprint}"


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:16]


def incident_conf(n: Notification, alerts: list[Alert], target: Target | None, *, missing_target: str | None = None
                  ) -> tuple[str, str, dict[str, Any]]:
    """(incident id, dag run id, run conf) for these alerts of one notification, all about `target`.

    The run id comes from the group (or the alert) and the first `startsAt`: Alertmanager's repeat deliveries
    of one episode map to one run (Airflow answers 409), a new episode after `resolved` runs again."""
    first = min(alerts, key=lambda a: a.starts_at)
    name = first.name or n.common_labels.get("alertname", "alert")
    digest = _digest(n.group_key, target.key if target else first.fingerprint, name)
    started = re.sub(r"[^0-9]", "", first.starts_at)[:14]
    incident_id = f"am-{digest}"
    labels = first.labels
    severity = labels.get("severity", "")
    summary = first.annotations.get("summary") or n.common_annotations.get("summary") or name
    where = f"{target.namespace}/{target.resource}" if target else (labels.get("namespace") or "no target")
    details: dict[str, Any] = {
        "alertname": name, "severity": severity, "alerts": len(alerts), "group_key": n.group_key,
        "description": first.annotations.get("description", ""),
    }
    if target:
        details.update(namespace=target.namespace, resource=target.resource)
        if target.inferred:
            details["resource_from"] = f"pod name {labels.get('pod')}"
    else:
        details["namespace"] = labels.get("namespace", "")
        details["target_missing"] = missing_target or "no label names a workload"
    for k in ("pod", "container", "deployment", "statefulset", "daemonset", "workload", "workload_type", "job"):
        if labels.get(k):
            details.setdefault(k, labels[k])
    incident = {
        "id": incident_id,
        "title": f"{name}: {summary} ({where})" if summary != name else f"{name} ({where})",
        "service": {"name": labels.get("service") or (target.name if target else labels.get("job", "alertmanager"))},
        "urgency": "high" if severity.lower() in URGENT else "low",
        "html_url": first.generator_url or n.external_url,
        "status": "triggered",
        "created_at": first.starts_at,
        "custom_details": details,
    }
    received: dict[str, str] = {}
    conf = clean({"event": {"incident": incident}, "alertmanager": {
        "groupKey": n.group_key, "status": n.status, "receiver": n.receiver, "externalURL": n.external_url,
        "alerts": [{"status": a.status, "labels": a.labels, "annotations": a.annotations, "startsAt": a.starts_at,
                    "endsAt": a.ends_at, "fingerprint": a.fingerprint} for a in alerts[:MAX_ALERTS_IN_CONF]],
        "alerts_total": len(alerts)}}, received)
    if received:
        conf["aof"] = {"received": received}
    return incident_id, f"am-{digest}-{started}", conf


def signals(alerts: list[Alert], run_per: str) -> list[tuple[Target | None, list[Alert]]]:
    """Alerts (of one status) cut into signals: per target and alert name (`group`), or one per alert (`alert`).
    An alert with no target is always a signal of its own."""
    out: dict[str, tuple[Target | None, list[Alert]]] = {}
    for a in alerts:
        target = target_of(a.labels)
        key = signal_key(target, a.name, a.fingerprint) if run_per == "group" or not target else f"alert#{a.fingerprint}"
        out.setdefault(key, (target, []))[1].append(a)
    return list(out.values())
