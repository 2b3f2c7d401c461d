"""Sandbox scenarios: one incident, the cluster state behind it, and what each remediation does.

A scenario is a DATA file `lab/aof_lab/sandbox/scenarios/<name>.yaml` (this model is its schema):

    name: high-memory-api                  # = the file name
    description: ...                       # one paragraph: the story, for humans
    incident: {id, title, service, urgency, namespace, resource, details?}
                                           # resource is "<kind>/<name>" as in the PagerDuty payload
    sources: ["owner/repo@commit:path", ...]  # optional: the public fixtures an independent scenario is modelled on
    expect: {root_cause_class?, cause?: [[phrase, ...], ...], severity, actions: [rollout-restart|...|none],
             evidence?: [phrase], refute?: [phrase], honest_unknown?: bool}
                                           # what a correct diagnosis concludes (tests of diagnosticians):
                                           # evidence phrases it must quote, refute phrases that would be false;
                                           # `cause`: the facts of the root cause, scored right / partly / wrong
    captured_at: 2026-01-15T10:00:00Z      # optional: every timestamp in `objects` is shifted so that
                                           # this instant is "now" when the sandbox loads -- ages stay real
    objects: [...]                         # full Kubernetes objects as the API returns them; the sandbox
                                           # fills metadata.uid/resourceVersion/creationTimestamp/namespace
                                           # when missing and resolves ownerReferences by kind+name
    logs: {"<ns>/<pod>/<container>": text, "<ns>/<pod>/<container>/previous": text}
    healthy_logs: {"<container>": text}    # logs of pods a healing action creates
    metrics: {"<ns>/<pod>": {"<container>": {cpu: 250m, memory: 480Mi}}}   # for `kubectl top`
    healthy_metrics: {"<container>": {cpu: ..., memory: ...}}
    x-templates: {...}                     # optional: a place for YAML anchors (&pod_spec) the objects
                                           # reuse with aliases / merge keys; ignored otherwise
    history: {step, series: [{metric, labels, values}]}   # optional: the metric history Prometheus holds
                                           # (see scenario_history.py; lab/aof_lab/monitoring writes it)
    on_action: {rollout-restart: heal|still-failing|no-change, ...}
                                           # what the simulated cluster does after each action on the
                                           # incident's workload; an action not listed: still-failing

Several scenarios can be loaded into one simulated cluster (the demo runs three at once), so each
should use its own workload names; shared objects (nodes, storage classes) are merged by name.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from aof_lab.sandbox.scenario_history import MetricHistory

SCENARIO_DIR = Path(__file__).with_name("scenarios")

Action = Literal["rollout-restart", "rollout-undo", "scale", "delete-pod", "none"]
Outcome = Literal["heal", "still-failing", "no-change"]
Severity = Literal["low", "medium", "high", "critical"]

# Kinds a scenario may contain (the simulated API server serves each of them).
KINDS = {
    "Namespace", "Node", "Pod", "Service", "Endpoints", "Event", "ConfigMap", "Secret", "ServiceAccount",
    "PersistentVolumeClaim", "PersistentVolume", "StorageClass", "ResourceQuota", "LimitRange",
    "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "ControllerRevision", "Job", "CronJob",
    "HorizontalPodAutoscaler", "PodDisruptionBudget", "Ingress", "NetworkPolicy",
    "IngressClass", "PriorityClass", "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ScenarioIncident(_Strict):
    id: str
    title: str
    service: str
    urgency: Literal["high", "low"] = "high"
    namespace: str
    resource: str = Field(description='"<kind>/<name>", e.g. "deployment/api"')
    details: dict[str, Any] = Field(default_factory=dict, description="extra custom details of the alert")

    @field_validator("resource")
    @classmethod
    def _kind_slash_name(cls, v: str) -> str:
        if not re.fullmatch(r"[a-z]+/[a-z0-9][a-z0-9.-]*", v):
            raise ValueError('resource must look like "deployment/api"')
        return v

    @property
    def kind(self) -> str:
        return self.resource.split("/", 1)[0]

    @property
    def name(self) -> str:
        return self.resource.split("/", 1)[1]


class ScenarioExpect(_Strict):
    root_cause_class: str | None = Field(None, description="the rules engine's own class name (its own scenarios only)")
    cause: list[list[str]] = Field(default_factory=list, description=(
        "the facts a right root cause states, in any diagnostician's words: each inner list holds alternative "
        "phrases for one fact (case-insensitive). All facts named: right; some: partly; none: wrong"))
    severity: Severity
    actions: list[Action] = Field(min_length=1, description="acceptable remediation actions, best first")
    evidence: list[str] = Field(default_factory=list, description="phrases the diagnosis' root cause and evidence must quote (case-insensitive)")
    refute: list[str] = Field(default_factory=list, description="phrases that would be false claims here: must not appear")
    honest_unknown: bool = Field(False, description="the cause lies where the engine does not look: it must say 'not examined', low confidence")
    no_fault: bool = Field(False, description="nothing is wrong in the objects (a false alarm, a fault already gone): "
                                              "'nothing wrong' is the right answer, not a false assertion")


class Scenario(_Strict):
    name: str
    description: str
    sources: list[str] = Field(default_factory=list, description="public fixtures the scenario is modelled on: owner/repo@commit:path")
    incident: ScenarioIncident
    expect: ScenarioExpect
    captured_at: datetime | None = None
    objects: list[dict[str, Any]]
    logs: dict[str, str] = Field(default_factory=dict)
    healthy_logs: dict[str, str] = Field(default_factory=dict)
    metrics: dict[str, dict[str, dict[str, str]]] = Field(default_factory=dict)
    healthy_metrics: dict[str, dict[str, str]] = Field(default_factory=dict)
    on_action: dict[Action, Outcome] = Field(default_factory=dict)
    history: MetricHistory | None = Field(None, description="metric history written into Prometheus' TSDB")
    x_templates: dict[str, Any] = Field(default_factory=dict, alias="x-templates",
                                        description="free space for YAML anchors shared by objects; ignored")

    @field_validator("objects")
    @classmethod
    def _objects_are_kubernetes(cls, objs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for i, o in enumerate(objs):
            kind, meta = o.get("kind"), o.get("metadata") or {}
            if kind not in KINDS:
                raise ValueError(f"objects[{i}]: kind {kind!r} is not one the sandbox serves ({', '.join(sorted(KINDS))})")
            if not o.get("apiVersion"):
                raise ValueError(f"objects[{i}] ({kind}): apiVersion is required")
            if not meta.get("name"):
                raise ValueError(f"objects[{i}] ({kind}): metadata.name is required")
        return objs

    @field_validator("logs")
    @classmethod
    def _log_keys(cls, logs: dict[str, str]) -> dict[str, str]:
        for key in logs:
            if not re.fullmatch(r"[^/]+/[^/]+/[^/]+(/previous)?", key):
                raise ValueError(f"logs key {key!r} must be <ns>/<pod>/<container>[/previous]")
        return logs

    @model_validator(mode="after")
    def _incident_resource_exists(self) -> Scenario:
        kind = _KIND_ALIASES.get(self.incident.kind, self.incident.kind)
        for o in self.objects:
            meta = o.get("metadata") or {}
            if o["kind"].lower() == kind and meta.get("name") == self.incident.name and \
                    meta.get("namespace", self.incident.namespace) == self.incident.namespace:
                return self
        raise ValueError(f"incident resource {self.incident.resource} in {self.incident.namespace} is not among objects")

    def outcome(self, action: str) -> str:
        """What the simulated cluster does after `action` on this scenario's workload."""
        return self.on_action.get(action, "still-failing")  # type: ignore[call-overload]

    def payload(self) -> dict[str, Any]:
        """The webhook payload in the tutorial's shape (seed/payloads), for this incident."""
        inc = self.incident
        return {"event": {"incident": {
            "id": inc.id, "title": inc.title, "service": {"name": inc.service}, "urgency": inc.urgency,
            "html_url": f"https://sandbox.pagerduty.invalid/incidents/{inc.id}",
            "custom_details": {"namespace": inc.namespace, "resource": inc.resource, **inc.details},
        }}}


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when built in: the same data, parsed ~10x faster
_KIND_ALIASES = {"deploy": "deployment", "sts": "statefulset", "po": "pod", "ds": "daemonset", "rs": "replicaset", "svc": "service"}


def scenario_names() -> list[str]:
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml"))


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Load by name (a file in SCENARIO_DIR) or by path; the file name must equal `name`."""
    path = Path(name_or_path)
    if not path.suffix and len(path.parts) == 1:  # a bare name; anything with a folder or suffix is a path
        path = SCENARIO_DIR / f"{name_or_path}.yaml"
    if not path.exists():
        raise FileNotFoundError(f"no scenario {name_or_path!r}; known: {', '.join(scenario_names())}")
    data = yaml.load(path.read_text(), Loader=_LOADER)
    scenario = Scenario.model_validate(data)
    if scenario.name != path.stem:
        raise ValueError(f"{path}: name {scenario.name!r} must equal the file name {path.stem!r}")
    return scenario
