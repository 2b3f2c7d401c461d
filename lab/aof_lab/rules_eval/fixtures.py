"""Builders of Kubernetes objects shaped as the API server returns them (for the `rules-*` scenarios and tests).

WHY in the package: the shipped scenario files (`lab/aof_lab/sandbox/scenarios/rules-*.yaml`) are generated
from these builders (`python -m aof_lab.rules_eval.scenario_gen`), and the unit tests build their dicts
with the same code, so both describe the same realistic objects (containerStatuses with state/lastState,
conditions, owner references, events with reasons). The detectors never import this module.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

T0 = "2026-11-27T09:00:00Z"
T1 = "2026-11-27T10:00:00Z"
T2 = "2026-11-27T10:05:00Z"


def uid(*parts: str) -> str:
    h = hashlib.sha1("/".join(parts).encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def meta(kind: str, name: str, ns: str | None, labels: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    m: dict[str, Any] = {"name": name, "uid": uid(kind, ns or "", name), "resourceVersion": "1000", "creationTimestamp": T0}
    if ns:
        m["namespace"] = ns
    if labels:
        m["labels"] = dict(labels)
    m.update({k: v for k, v in extra.items() if v is not None})
    return m


def container(name: str, image: str, *, mem_limit: str | None = "512Mi", cpu: str = "250m", mem_req: str = "256Mi",
              readiness: bool = True, liveness: bool = False, env_from: list[dict[str, Any]] | None = None,
              env: list[dict[str, Any]] | None = None, gpu: str | None = None, port: int = 8080) -> dict[str, Any]:
    c: dict[str, Any] = {
        "name": name, "image": image, "imagePullPolicy": "IfNotPresent",
        "ports": [{"containerPort": port, "name": "http", "protocol": "TCP"}],
        "resources": {"requests": {"cpu": cpu, "memory": mem_req}},
        "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
    }
    if mem_limit:
        c["resources"]["limits"] = {"memory": mem_limit}
    if gpu:
        c["resources"].setdefault("limits", {})["nvidia.com/gpu"] = gpu
        c["resources"]["requests"]["nvidia.com/gpu"] = gpu
    probe = {"httpGet": {"path": "/healthz", "port": port, "scheme": "HTTP"}, "periodSeconds": 10, "timeoutSeconds": 1,
             "failureThreshold": 3, "successThreshold": 1}
    if readiness:
        c["readinessProbe"] = dict(probe, httpGet={"path": "/ready", "port": port, "scheme": "HTTP"})
    if liveness:
        c["livenessProbe"] = dict(probe, initialDelaySeconds=10)
    if env_from:
        c["envFrom"] = env_from
    if env:
        c["env"] = env
    return c


def pod_template(labels: dict[str, str], containers: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    s = {"containers": containers, "restartPolicy": "Always", "terminationGracePeriodSeconds": 30,
         "dnsPolicy": "ClusterFirst", "schedulerName": "default-scheduler", "serviceAccountName": "default"}
    s.update(spec)
    return {"metadata": {"labels": dict(labels)}, "spec": s}


def deployment(name: str, ns: str, template: dict[str, Any], *, replicas: int = 3, revision: int = 1,
               ready: int | None = None, updated: int | None = None, progressing: tuple[str, str, str] | None = None,
               replica_failure: str | None = None, last_applied_replicas: int | None = None) -> dict[str, Any]:
    ready = replicas if ready is None else ready
    updated = replicas if updated is None else updated
    labels = dict(template["metadata"]["labels"])
    ann = {"deployment.kubernetes.io/revision": str(revision)}
    if last_applied_replicas is not None:
        ann["kubectl.kubernetes.io/last-applied-configuration"] = json.dumps(
            {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ns},
             "spec": {"replicas": last_applied_replicas}}, separators=(",", ":"))
    prog = progressing or (("True", "NewReplicaSetAvailable", f'ReplicaSet "{name}-{_hash(name, revision)}" has successfully progressed.')
                           if ready >= replicas else ("True", "ReplicaSetUpdated", f'ReplicaSet "{name}-{_hash(name, revision)}" is progressing.'))
    conds = [
        {"type": "Available", "status": "True" if ready >= max(1, replicas - max(1, replicas // 4)) or replicas == 0 else "False",
         "reason": "MinimumReplicasAvailable" if ready >= max(1, replicas - max(1, replicas // 4)) or replicas == 0 else "MinimumReplicasUnavailable",
         "message": "Deployment has minimum availability." if ready >= max(1, replicas - max(1, replicas // 4)) or replicas == 0 else "Deployment does not have minimum availability.",
         "lastUpdateTime": T1, "lastTransitionTime": T1},
        {"type": "Progressing", "status": prog[0], "reason": prog[1], "message": prog[2], "lastUpdateTime": T2, "lastTransitionTime": T1},
    ]
    if replica_failure:
        conds.append({"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate", "message": replica_failure,
                      "lastUpdateTime": T2, "lastTransitionTime": T2})
    status: dict[str, Any] = {"observedGeneration": revision, "replicas": max(replicas, ready), "updatedReplicas": updated,
                              "readyReplicas": ready, "availableReplicas": ready, "conditions": conds}
    if replicas - ready > 0:
        status["unavailableReplicas"] = replicas - ready
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": meta("Deployment", name, ns, labels, annotations=ann, generation=revision),
        "spec": {"replicas": replicas, "selector": {"matchLabels": labels}, "template": template,
                 "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
                 "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600},
        "status": status,
    }


def _hash(name: str, revision: int) -> str:
    return hashlib.sha1(f"{name}:{revision}".encode()).hexdigest()[:10].translate(str.maketrans("0123456789", "bcdfghjklm"))


def replicaset(dep: dict[str, Any], revision: int, template: dict[str, Any], *, replicas: int, ready: int) -> dict[str, Any]:
    name = dep["metadata"]["name"]
    h = _hash(name, revision)
    labels = dict(template["metadata"]["labels"], **{"pod-template-hash": h})
    tmpl = {"metadata": {"labels": labels}, "spec": template["spec"]}
    return {
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": meta("ReplicaSet", f"{name}-{h}", dep["metadata"]["namespace"], labels,
                         annotations={"deployment.kubernetes.io/revision": str(revision),
                                      "deployment.kubernetes.io/desired-replicas": str(dep["spec"]["replicas"])},
                         ownerReferences=[owner(dep)]),
        "spec": {"replicas": replicas, "selector": {"matchLabels": labels}, "template": tmpl},
        "status": {"replicas": replicas, "readyReplicas": ready, "availableReplicas": ready, "fullyLabeledReplicas": replicas,
                   "observedGeneration": 1},
    }


def owner(obj: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "name": obj["metadata"]["name"],
            "uid": obj["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}


def running(name: str, image: str, *, ready: bool = True, restarts: int = 0, last: dict[str, Any] | None = None) -> dict[str, Any]:
    cs = {"name": name, "image": image, "imageID": f"docker.io/{image}@sha256:{hashlib.sha256(image.encode()).hexdigest()}",
          "ready": ready, "started": True, "restartCount": restarts, "state": {"running": {"startedAt": T2}}, "lastState": {}}
    if last:
        cs["lastState"] = {"terminated": last}
    cs["containerID"] = f"containerd://{hashlib.sha256((name + image).encode()).hexdigest()}"
    return cs


def waiting(name: str, image: str, reason: str, message: str = "", *, restarts: int = 0, last: dict[str, Any] | None = None) -> dict[str, Any]:
    cs: dict[str, Any] = {"name": name, "image": image, "imageID": "", "ready": False, "started": False,
                          "restartCount": restarts, "state": {"waiting": {"reason": reason, **({"message": message} if message else {})}},
                          "lastState": {}}
    if last:
        cs["lastState"] = {"terminated": last}
    return cs


def terminated(exit_code: int, reason: str, started: str = T1, finished: str = T2) -> dict[str, Any]:
    return {"exitCode": exit_code, "reason": reason, "startedAt": started, "finishedAt": finished,
            "containerID": f"containerd://{hashlib.sha256(f'{exit_code}{reason}'.encode()).hexdigest()}"}


def pod(name: str, ns: str, template: dict[str, Any], *, owner_obj: dict[str, Any] | None = None, phase: str = "Running",
        statuses: list[dict[str, Any]] | None = None, node: str | None = "node-1", ready: bool | None = None,
        unschedulable: str | None = None, reason: str | None = None, message: str | None = None,
        extra_labels: dict[str, str] | None = None) -> dict[str, Any]:
    labels = dict(template["metadata"]["labels"], **(extra_labels or {}))
    if owner_obj is not None and owner_obj["kind"] == "ReplicaSet":
        labels["pod-template-hash"] = owner_obj["metadata"]["labels"]["pod-template-hash"]
    spec = json.loads(json.dumps(template["spec"]))
    if node and not unschedulable:
        spec["nodeName"] = node
    statuses = statuses or []
    if ready is None:
        ready = bool(statuses) and all(s.get("ready") for s in statuses) and phase == "Running"
    conds: list[dict[str, Any]]
    if unschedulable:
        conds = [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": unschedulable,
                  "lastProbeTime": None, "lastTransitionTime": T2}]
    else:
        conds = [
            {"type": "PodReadyToStartContainers", "status": "True", "lastProbeTime": None, "lastTransitionTime": T1},
            {"type": "Initialized", "status": "True", "lastProbeTime": None, "lastTransitionTime": T1},
            {"type": "Ready", "status": "True" if ready else "False", "lastProbeTime": None, "lastTransitionTime": T2,
             **({} if ready else {"reason": "ContainersNotReady", "message": "containers with unready status: [" + " ".join(s["name"] for s in statuses if not s.get("ready")) + "]"})},
            {"type": "ContainersReady", "status": "True" if ready else "False", "lastProbeTime": None, "lastTransitionTime": T2},
            {"type": "PodScheduled", "status": "True", "lastProbeTime": None, "lastTransitionTime": T1},
        ]
    status: dict[str, Any] = {"phase": phase, "conditions": conds, "qosClass": "Burstable", "startTime": T1}
    if not unschedulable:
        status.update({"hostIP": "10.0.1.11", "podIP": f"10.244.1.{int(hashlib.md5(name.encode()).hexdigest()[:2], 16) % 250 + 2}",
                       "containerStatuses": statuses})
    if reason:
        status["reason"] = reason
    if message:
        status["message"] = message
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": meta("Pod", name, ns, labels, ownerReferences=[owner(owner_obj)] if owner_obj else None),
            "spec": spec, "status": status}


def event(ns: str, obj: dict[str, Any], reason: str, message: str, *, type: str = "Warning", count: int = 1,
          component: str = "kubelet", last: str = T2) -> dict[str, Any]:
    name = obj["metadata"]["name"]
    return {
        "apiVersion": "v1", "kind": "Event",
        "metadata": meta("Event", f"{name}.{hashlib.md5((reason + message).encode()).hexdigest()[:16]}", ns),
        "involvedObject": {"apiVersion": obj.get("apiVersion", "v1"), "kind": obj["kind"], "name": name, "namespace": ns,
                           "uid": obj["metadata"]["uid"]},
        "reason": reason, "message": message, "type": type, "count": count, "source": {"component": component},
        "firstTimestamp": T1, "lastTimestamp": last, "reportingComponent": component, "reportingInstance": "",
    }


def node(name: str, *, cpu: str = "4", memory: str = "16Gi", labels: dict[str, str] | None = None,
         taints: list[dict[str, str]] | None = None, gpu: str | None = None) -> dict[str, Any]:
    alloc = {"cpu": cpu, "memory": memory, "pods": "110", "ephemeral-storage": "95Gi"}
    if gpu:
        alloc["nvidia.com/gpu"] = gpu
    lab = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", **(labels or {})}
    n: dict[str, Any] = {"apiVersion": "v1", "kind": "Node", "metadata": meta("Node", name, None, lab), "spec": {},
                         "status": {"capacity": dict(alloc), "allocatable": dict(alloc),
                                    "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                                    "message": "kubelet is posting ready status"}]}}
    if taints:
        n["spec"]["taints"] = taints
    return n


def service(name: str, ns: str, selector: dict[str, str], port: int = 80, target: int = 8080) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta("Service", name, ns, {"app": name}),
            "spec": {"type": "ClusterIP", "clusterIP": "10.96.12.34", "selector": dict(selector),
                     "ports": [{"name": "http", "port": port, "protocol": "TCP", "targetPort": target}]},
            "status": {"loadBalancer": {}}}


def endpoints(svc: dict[str, Any], ready_pods: list[dict[str, Any]], unready_pods: list[dict[str, Any]] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    ns, name = svc["metadata"]["namespace"], svc["metadata"]["name"]

    def addr(p: dict[str, Any]) -> dict[str, Any]:
        return {"ip": p["status"].get("podIP", "10.244.0.9"), "nodeName": p["spec"].get("nodeName", "node-1"),
                "targetRef": {"kind": "Pod", "name": p["metadata"]["name"], "namespace": ns, "uid": p["metadata"]["uid"]}}

    subsets = []
    if ready_pods or unready_pods:
        s: dict[str, Any] = {"ports": [{"name": "http", "port": svc["spec"]["ports"][0]["targetPort"], "protocol": "TCP"}]}
        if ready_pods:
            s["addresses"] = [addr(p) for p in ready_pods]
        if unready_pods:
            s["notReadyAddresses"] = [addr(p) for p in unready_pods]
        subsets.append(s)
    ep: dict[str, Any] = {"apiVersion": "v1", "kind": "Endpoints", "metadata": meta("Endpoints", name, ns, {"app": name})}
    if subsets:
        ep["subsets"] = subsets
    return ep


def statefulset(name: str, ns: str, template: dict[str, Any], *, replicas: int = 3, ready: int | None = None,
                claim_templates: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    ready = replicas if ready is None else ready
    labels = dict(template["metadata"]["labels"])
    spec: dict[str, Any] = {"replicas": replicas, "serviceName": name, "selector": {"matchLabels": labels}, "template": template,
                            "podManagementPolicy": "OrderedReady", "updateStrategy": {"type": "RollingUpdate"}}
    if claim_templates:
        spec["volumeClaimTemplates"] = claim_templates
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": meta("StatefulSet", name, ns, labels, generation=1),
            "spec": spec,
            "status": {"replicas": replicas, "readyReplicas": ready, "currentReplicas": replicas, "updatedReplicas": replicas,
                       "availableReplicas": ready, "observedGeneration": 1, "currentRevision": f"{name}-6d4f8b7c9d",
                       "updateRevision": f"{name}-6d4f8b7c9d", "collisionCount": 0}}


def pvc(name: str, ns: str, storage_class: str | None, *, phase: str = "Bound", size: str = "10Gi") -> dict[str, Any]:
    spec: dict[str, Any] = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}, "volumeMode": "Filesystem"}
    if storage_class:
        spec["storageClassName"] = storage_class
    st: dict[str, Any] = {"phase": phase}
    if phase == "Bound":
        spec["volumeName"] = f"pvc-{uid('pv', name)}"
        st.update({"accessModes": ["ReadWriteOnce"], "capacity": {"storage": size}})
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": meta("PersistentVolumeClaim", name, ns), "spec": spec, "status": st}


def storageclass(name: str, default: bool = False) -> dict[str, Any]:
    ann = {"storageclass.kubernetes.io/is-default-class": "true"} if default else None
    return {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": meta("StorageClass", name, None, annotations=ann),
            "provisioner": "rancher.io/local-path", "reclaimPolicy": "Delete", "volumeBindingMode": "Immediate"}


def configmap(name: str, ns: str, data: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("ConfigMap", name, ns), "data": dict(data)}


def secret(name: str, ns: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": meta("Secret", name, ns), "type": "Opaque",
            "data": {"password": "c2FuZGJveA=="}}


def pod_ready_dict(p: dict[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in p.get("status", {}).get("conditions", []))
