"""Observation straight from a scenario's objects, without kubectl: lets the unit tests exercise the detectors
on the same realistic objects the sandbox serves (the kubectl path is tested separately, against the sandbox)."""

from __future__ import annotations

import copy
import functools
from typing import Any

import yaml

from aof_airflow.agent.rules.objects import (
    Observation,
    config_refs,
    cpu_millis,
    mem_bytes,
    parse_resource,
    selector_matches,
)
from aof_lab.sandbox.scenario import SCENARIO_DIR, Scenario

CONTROLLERS = {"deployment": "Deployment", "statefulset": "StatefulSet", "daemonset": "DaemonSet", "job": "Job",
               "service": "Service"}


def observation(objects: list[dict[str, Any]], ns: str, resource: str | None, *, logs: dict[str, str] | None = None,
                metrics: dict[str, Any] | None = None, nodes: bool = True) -> Observation:
    kind, name = parse_resource(resource)
    inns = [o for o in objects if o.get("metadata", {}).get("namespace", ns) == ns]

    def find(k: str, n: str | None) -> dict[str, Any] | None:
        return next((o for o in inns if o["kind"] == k and o["metadata"]["name"] == n), None)

    obs = Observation(namespace=ns, kind=kind, name=name)
    sel = None
    if kind in CONTROLLERS:  # the object named, kept where the gatherer keeps it; its pods by its selector
        obs.target = find(CONTROLLERS[kind], name)
        setattr(obs, kind, obs.target)
        sel = (obs.target or {}).get("spec", {}).get("selector")
        if kind == "service":
            obs.endpoints = find("Endpoints", name)
    elif kind == "ingress":
        obs.target = find("Ingress", name)
        classes = [o for o in objects if o["kind"] == "IngressClass"]
        if classes:
            obs.ingressclasses = classes
        else:  # the sandbox serves no IngressClass kind: the gatherer reports it not examined
            obs.not_read["IngressClasses"] = "not read: the server does not serve this kind"
            obs.unread_dependencies.append("IngressClasses (not read: the server does not serve this kind)")
    elif kind == "pod":
        obs.target = find("Pod", name)
        obs.pods = [obs.target] if obs.target else []
    obs.networkpolicies = [o for o in inns if o["kind"] == "NetworkPolicy"]
    obs.services = [o for o in inns if o["kind"] == "Service"]
    obs.endpoints_of = {o["metadata"]["name"]: o for o in inns if o["kind"] == "Endpoints"}
    obs.hpas = [o for o in inns if o["kind"] == "HorizontalPodAutoscaler"]
    obs.pdbs = [o for o in inns if o["kind"] == "PodDisruptionBudget"]
    obs.quotas = [o for o in inns if o["kind"] == "ResourceQuota"]
    pods = [o for o in inns if o["kind"] == "Pod"]
    if sel is not None:
        obs.pods = [p for p in pods if selector_matches(sel, p["metadata"].get("labels"))]
    if obs.service and sel and not obs.pods:
        for d in (o for o in inns if o["kind"] == "Deployment"):
            if selector_matches(sel, d["spec"]["template"]["metadata"].get("labels")):
                obs.deployment = d
        if not obs.deployment:
            obs.namespace_labels = [f"{p['metadata']['name']}: " + ",".join(f"{k}={v}" for k, v in sorted(p["metadata"].get("labels", {}).items())) for p in pods]
    for p in obs.pods:
        for o in p["metadata"].get("ownerReferences", []) or []:
            if o["kind"] == "ReplicaSet" and not obs.deployment:
                rs = find("ReplicaSet", o["name"])
                for ro in (rs or {}).get("metadata", {}).get("ownerReferences", []) or []:
                    obs.deployment = find("Deployment", ro["name"])
            if o["kind"] == "StatefulSet" and not obs.statefulset:
                obs.statefulset = find("StatefulSet", o["name"])
    if kind == "pod" and obs.target and (obs.deployment or obs.statefulset):
        wsel = (obs.deployment or obs.statefulset)["spec"]["selector"]
        obs.pods = [p for p in pods if selector_matches(wsel, p["metadata"].get("labels"))]
    if obs.deployment:
        dn = obs.deployment["metadata"]["name"]
        obs.replicasets = [r for r in inns if r["kind"] == "ReplicaSet" and any(o.get("name") == dn for o in r["metadata"].get("ownerReferences", []))]
    elif obs.statefulset or obs.daemonset:  # as the gatherer: a DaemonSet's or StatefulSet's own ControllerRevisions
        w = obs.statefulset or obs.daemonset
        wk = "StatefulSet" if obs.statefulset else "DaemonSet"
        obs.controllerrevisions = [r for r in inns if r["kind"] == "ControllerRevision" and any(
            o.get("kind") == wk and o.get("name") == w["metadata"]["name"] for o in r["metadata"].get("ownerReferences", []))]
    names = {p["metadata"]["name"] for p in obs.pods} | {r["metadata"]["name"] for r in obs.replicasets}
    for o in (obs.target, obs.deployment, obs.statefulset, obs.daemonset, obs.service):
        if o:
            names.add(o["metadata"]["name"])
    obs.pvcs = [o for o in inns if o["kind"] == "PersistentVolumeClaim"]
    names |= {c["metadata"]["name"] for c in obs.pvcs}
    obs.events = [e for e in inns if e["kind"] == "Event" and e["involvedObject"]["name"] in names]
    if nodes:
        obs.nodes = [o for o in objects if o["kind"] == "Node"]
        obs.storageclasses = [o for o in objects if o["kind"] == "StorageClass"]
    for p in obs.pods:
        cms, secs = config_refs(p)
        for n in cms:
            obs.configmaps[n] = find("ConfigMap", n) is not None
        for n in secs:
            obs.secrets[n] = find("Secret", n) is not None
    for key, text in (logs or {}).items():
        parts = key.split("/")
        if parts[0] == ns:
            obs.logs["/".join(parts[1:])] = text
    for key, cs in (metrics or {}).items():
        kns, pod = key.split("/")
        if kns == ns:
            obs.memory_usage[pod] = sum(mem_bytes(v.get("memory")) or 0 for v in cs.values())
            obs.cpu_usage[pod] = sum(cpu_millis(v.get("cpu")) or 0 for v in cs.values())
    return obs


def from_scenario(sc: Any) -> Observation:
    return observation(sc.objects, sc.incident.namespace, sc.incident.resource, logs=sc.logs, metrics=sc.metrics)


@functools.cache
def _load(name: str) -> Scenario:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return Scenario.model_validate(yaml.load((SCENARIO_DIR / f"{name}.yaml").read_text(), Loader=loader))


def load_scenario(name: str) -> Scenario:
    """The sandbox's scenario model, parsed once per test session (tests get their own copy to mutate).
    A scenario of the sandbox's own set that is not there (yet) skips the test; ours must exist."""
    if not (SCENARIO_DIR / f"{name}.yaml").exists() and not name.startswith("rules-"):
        import pytest

        pytest.skip(f"sandbox scenario {name} not present")
    return copy.deepcopy(_load(name))
