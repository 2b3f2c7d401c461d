"""The simulated controllers: what the cluster does after a remediation, per the scenario's `on_action`.

A rollout replaces a workload's pods with new ones that are healthy ("heal") or fail the way the
scenario's failing pods fail ("still-failing"); scale and pod deletion create pods the same way.
Statuses, endpoints, events, logs and metrics follow, so a verification step that reads the
cluster sees the outcome -- nothing is decided by reading the remediation's own claims.
"""

from __future__ import annotations

import hashlib
import json
import random
from copy import deepcopy
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from aof_lab.sandbox.kube_resources import BY_KIND
from aof_lab.sandbox.kube_store import Store, now_iso, selector_string, shift_text
from aof_lab.sandbox.scenario import Scenario

Obj = dict[str, Any]
HASH_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
REVISION = "deployment.kubernetes.io/revision"
POD, RS, DEPLOY, STS, DS, CR, EP, EVENT, SVC, JOB = (BY_KIND[k] for k in (
    "Pod", "ReplicaSet", "Deployment", "StatefulSet", "DaemonSet", "ControllerRevision", "Endpoints", "Event", "Service",
    "Job"))


@dataclass
class ActionRecord:
    """One remediation the cluster saw (for tests and the demo timeline)."""

    action: str
    namespace: str
    resource: str
    outcome: str
    scenario: str | None
    at: str = field(default_factory=now_iso)


def _rand(n: int) -> str:
    return "".join(random.choice(HASH_ALPHABET) for _ in range(n))


def template_hash(template: Obj) -> str:
    t = deepcopy(template)
    (t.get("metadata") or {}).get("labels", {}).pop("pod-template-hash", None)
    digest = hashlib.sha256(json.dumps(t, sort_keys=True).encode()).digest()
    return "".join(HASH_ALPHABET[b % len(HASH_ALPHABET)] for b in digest[:10])


def _strip_hash(template: Obj) -> Obj:
    """A pod template without controller labels and without empty/null fields, for comparing
    templates the way the controllers do (kubectl round-trips them through typed structs)."""
    t = deepcopy(template or {})
    labels = (t.get("metadata") or {}).get("labels")
    if labels:
        labels.pop("pod-template-hash", None)
        labels.pop("controller-revision-hash", None)
    return _prune(t)


def _without_restart(template: Obj | None) -> Obj:
    t = _strip_hash(template or {})
    ((t.get("metadata") or {}).get("annotations") or {}).pop(RESTARTED_AT, None)
    return _prune(t)


def _prune(v: Any) -> Any:
    if isinstance(v, dict):
        out = {k: _prune(x) for k, x in v.items() if k != "$patch"}
        return {k: x for k, x in out.items() if x not in (None, {}, [], "")}
    if isinstance(v, list):
        return [_prune(x) for x in v]
    return v


def is_ready(pod: Obj) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in (pod.get("status") or {}).get("conditions") or [])


def _controller(obj: Obj) -> Obj | None:
    return next((r for r in obj["metadata"].get("ownerReferences") or [] if r.get("controller")), None)


class ClusterSim:
    """Owns the store's behaviour on writes; `KubeAPI` calls it after each real (non-dry-run) change."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.scenarios: dict[str, Scenario] = {}
        self.logs: dict[tuple[str, str, str, bool], str] = {}
        self.metrics: dict[tuple[str, str], dict[str, dict[str, str]]] = {}
        self.failure: dict[tuple[str, str, str], Obj] = {}  # (kind, ns, workload) -> a failing pod to copy
        self.actions: list[ActionRecord] = []

    # ----- loading ----------------------------------------------------------------------------
    def load(self, sc: Scenario) -> None:
        self.scenarios[sc.name] = sc
        self.store.load(sc)
        shift = (datetime.now(timezone.utc) - sc.captured_at) if sc.captured_at else None
        for key, text in sc.logs.items():
            parts = key.split("/")
            self.logs[(parts[0], parts[1], parts[2], len(parts) == 4)] = shift_text(text, shift) if shift else text
        for key, usage in sc.metrics.items():
            ns, pod = key.split("/", 1)
            self.metrics[(ns, pod)] = deepcopy(usage)
        for pod in self.store.list(POD):
            wl = self.workload_of(pod)
            if not wl:
                continue
            k = (wl["kind"], wl["metadata"]["namespace"], wl["metadata"]["name"])
            restarts = sum(cs.get("restartCount", 0) for cs in (pod.get("status") or {}).get("containerStatuses") or [])
            best = self.failure.get(k)
            score = (0 if is_ready(pod) else 1, restarts)
            if (score[0] or restarts) and (not best or score > best["_score"]):
                self.failure[k] = {**pod, "_score": score}

    def rearm(self, name: str) -> None:
        """The scenario's objects as its file has them again, failure included: a session whose remediation
        healed the workload can answer a second incident on it."""
        sc = self.scenarios[name]
        self.store.delete_scenario(name)
        self.load(sc)

    # ----- ownership --------------------------------------------------------------------------
    def workload_of(self, pod: Obj) -> Obj | None:
        ref = _controller(pod)
        ns = pod["metadata"].get("namespace", "")
        if not ref:
            return None
        if ref["kind"] in ("StatefulSet", "DaemonSet"):
            return self.store.get(STS if ref["kind"] == "StatefulSet" else DS, ns, ref["name"])
        if ref["kind"] == "Job":  # a deleted Job pod is replaced by the Job controller (a hung run restarts)
            return self.store.get(JOB, ns, ref["name"])
        if ref["kind"] == "ReplicaSet":
            rs = self.store.get(RS, ns, ref["name"])
            dref = _controller(rs) if rs else None
            if dref and dref["kind"] == "Deployment":
                return self.store.get(DEPLOY, ns, dref["name"])
            return rs
        return None

    def outcome_for(self, obj: Obj, action: str) -> tuple[str, str | None]:
        name = self.store.scenario_of(obj)
        sc = self.scenarios.get(name or "")
        return (sc.outcome(action) if sc else "heal"), name

    def owned(self, kind_rt: Any, ns: str, owner: Obj) -> list[Obj]:
        uid = owner["metadata"]["uid"]
        return [o for o in self.store.list(kind_rt, ns) if any(r.get("uid") == uid for r in o["metadata"].get("ownerReferences") or [])]

    # ----- entry points ---------------------------------------------------------------------------
    def after_update(self, old: Obj, new: Obj, raw_patch: bytes, json_patch: bool) -> None:
        kind = new["kind"]
        if kind not in ("Deployment", "StatefulSet", "DaemonSet"):
            return
        ot, nt = (old.get("spec") or {}).get("template"), (new.get("spec") or {}).get("template")
        if ot != nt:
            o_ann = ((ot or {}).get("metadata") or {}).get("annotations") or {}
            n_ann = ((nt or {}).get("metadata") or {}).get("annotations") or {}
            if json_patch or b'"$patch":"replace"' in raw_patch.replace(b" ", b""):
                action = "rollout-undo"  # what kubectl rollout undo sends (deployments / statefulsets)
            elif o_ann.get(RESTARTED_AT) != n_ann.get(RESTARTED_AT):
                action = "rollout-restart"
            else:
                action = "patch"
        elif (old.get("spec") or {}).get("replicas") != (new.get("spec") or {}).get("replicas"):
            action = "scale"
        else:
            return
        # Undoing a restart lands on the same pod template again: the cluster behaves as after a restart.
        same_template = _without_restart(ot) == _without_restart(nt)
        outcome, scenario = self.outcome_for(new, "rollout-restart" if action == "rollout-undo" and same_template else action)
        self.actions.append(ActionRecord(action, new["metadata"]["namespace"], f"{kind.lower()}/{new['metadata']['name']}", outcome, scenario))
        if kind == "Deployment":
            self._deployment(new, action, outcome)
        elif kind == "DaemonSet":
            self._daemonset(new, outcome)
        else:
            self._statefulset(new, action, outcome)
        self._endpoints(new["metadata"]["namespace"])

    def after_delete_pod(self, pod: Obj) -> None:
        wl = self.workload_of(pod)
        ref = _controller(pod)
        if not wl or not ref:
            return
        outcome, scenario = self.outcome_for(wl, "delete-pod")
        ns = pod["metadata"]["namespace"]
        self.actions.append(ActionRecord("delete-pod", ns, f"pod/{pod['metadata']['name']}", outcome, scenario))
        if outcome != "no-change":
            if wl["kind"] == "StatefulSet":
                self._new_pod(wl, pod["metadata"]["name"], outcome, {"controller-revision-hash": wl.get("status", {}).get("updateRevision", "")})
            elif wl["kind"] == "DaemonSet":  # the node's pod, recreated at the DaemonSet's current revision
                new = self._new_pod(wl, f"{wl['metadata']['name']}-{_rand(5)}", outcome,
                                    {"controller-revision-hash": self._revision(wl).rsplit("-", 1)[-1]})
                new["spec"]["nodeName"] = (pod.get("spec") or {}).get("nodeName") or new["spec"].get("nodeName")
                self.store.put(new, self.store.scenario_of(wl))
            elif wl["kind"] == "Job":
                self._new_pod(wl, f"{wl['metadata']['name']}-{_rand(5)}", outcome, {})
            else:
                rs = self.store.get(RS, ns, ref["name"])
                if rs:
                    self._new_pod(rs, f"{rs['metadata']['name']}-{_rand(5)}", outcome, {}, workload=wl)
        self._reconcile(wl)
        self._endpoints(ns)

    # ----- controllers ----------------------------------------------------------------------------
    def _deployment(self, dep: Obj, action: str, outcome: str) -> None:
        ns, name = dep["metadata"]["namespace"], dep["metadata"]["name"]
        replicas = int((dep.get("spec") or {}).get("replicas", 1))
        rses = self.owned(RS, ns, dep)
        tmpl = _strip_hash(dep["spec"]["template"])
        current = next((r for r in rses if _strip_hash(r["spec"]["template"]) == tmpl), None)
        if outcome == "no-change":
            self._reconcile(dep)
            return
        if action == "scale" and current:
            self._scale_pods(current, replicas, outcome, dep)
        else:
            rev = 1 + max((int((r["metadata"].get("annotations") or {}).get(REVISION, 0)) for r in rses), default=0)
            if current is None:
                h = template_hash(tmpl)
                t = deepcopy(tmpl)
                t.setdefault("metadata", {}).setdefault("labels", {})["pod-template-hash"] = h
                current = {
                    "apiVersion": "apps/v1", "kind": "ReplicaSet",
                    "metadata": {"name": f"{name}-{h}", "namespace": ns, "labels": {**t["metadata"]["labels"]},
                                 "annotations": {}, "generation": 1,
                                 "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": name,
                                                      "uid": dep["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}]},
                    "spec": {"replicas": 0, "selector": {"matchLabels": {**(dep["spec"].get("selector") or {}).get("matchLabels", {}), "pod-template-hash": h}},
                             "template": t},
                    "status": {"replicas": 0},
                }
            current["metadata"].setdefault("annotations", {})[REVISION] = str(rev)
            current["spec"]["replicas"] = replicas
            current = self.store.put(current, self.store.scenario_of(dep))
            dep["metadata"].setdefault("annotations", {})[REVISION] = str(rev)
            for old in rses:
                if old["metadata"]["name"] == current["metadata"]["name"]:
                    continue
                had = int(old["spec"].get("replicas") or 0)
                for p in self.owned(POD, ns, old):
                    self.store.delete(POD, ns, p["metadata"]["name"])
                old["spec"]["replicas"] = 0
                self._rs_status(self.store.put(old, self.store.scenario_of(old)))
                if had:
                    self._event(dep, "Normal", "ScalingReplicaSet", f"Scaled down replica set {old['metadata']['name']} from {had} to 0")
            for p in self.owned(POD, ns, current):
                self.store.delete(POD, ns, p["metadata"]["name"])
            self._scale_pods(current, replicas, outcome, dep)
            self._event(dep, "Normal", "ScalingReplicaSet", f"Scaled up replica set {current['metadata']['name']} from 0 to {replicas}")
            self.store.put(dep, self.store.scenario_of(dep))
        self._reconcile(self.store.get(DEPLOY, ns, name) or dep, failing=outcome == "still-failing")

    def _scale_pods(self, rs: Obj, replicas: int, outcome: str, workload: Obj) -> None:
        ns = rs["metadata"]["namespace"]
        pods = sorted(self.owned(POD, ns, rs), key=lambda p: p["metadata"]["creationTimestamp"])
        for p in pods[replicas:]:
            self.store.delete(POD, ns, p["metadata"]["name"])
        for _ in range(max(0, replicas - len(pods))):
            self._new_pod(rs, f"{rs['metadata']['name']}-{_rand(5)}", outcome, {}, workload=workload)
        rs = self.store.get(RS, ns, rs["metadata"]["name"]) or rs
        rs["spec"]["replicas"] = replicas
        self._rs_status(self.store.put(rs, self.store.scenario_of(rs)))

    def _revision(self, wl: Obj) -> str:
        """The ControllerRevision holding the workload's current template (created when none does)."""
        ns, name = wl["metadata"]["namespace"], wl["metadata"]["name"]
        revs = self.owned(CR, ns, wl)
        tmpl = _strip_hash(wl["spec"]["template"])
        cr = next((r for r in revs if _strip_hash(((r.get("data") or {}).get("spec") or {}).get("template")) == tmpl), None)
        if cr is None:
            cr = self.store.put({
                "apiVersion": "apps/v1", "kind": "ControllerRevision",
                "metadata": {"name": f"{name}-{template_hash(tmpl)}", "namespace": ns,
                             "labels": dict((wl["spec"].get("selector") or {}).get("matchLabels") or {}),
                             "ownerReferences": [{"apiVersion": "apps/v1", "kind": wl["kind"], "name": name,
                                                  "uid": wl["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}]},
                "data": {"spec": {"template": {**tmpl, "$patch": "replace"}}},
                "revision": 1 + max((int(r.get("revision") or 0) for r in revs), default=0),
            }, self.store.scenario_of(wl))
        return cr["metadata"]["name"]

    def _daemonset(self, ds: Obj, outcome: str) -> None:
        """A DaemonSet's rollout: each node's pod replaced by one of the current template (its revision's hash label)."""
        ns, name = ds["metadata"]["namespace"], ds["metadata"]["name"]
        if outcome != "no-change":
            rev_hash = self._revision(ds).rsplit("-", 1)[-1]
            for old in self.owned(POD, ns, ds):
                self.store.delete(POD, ns, old["metadata"]["name"])
                pod = self._new_pod(ds, f"{name}-{_rand(5)}", outcome, {"controller-revision-hash": rev_hash})
                pod["spec"]["nodeName"] = (old.get("spec") or {}).get("nodeName") or pod["spec"].get("nodeName")
                self.store.put(pod, self.store.scenario_of(ds))
        self._reconcile(self.store.get(DS, ns, name) or ds)

    def _statefulset(self, sts: Obj, action: str, outcome: str) -> None:
        ns, name = sts["metadata"]["namespace"], sts["metadata"]["name"]
        replicas = int((sts.get("spec") or {}).get("replicas", 1))
        if outcome != "no-change":
            rev_name = self._revision(sts)
            existing = {p["metadata"]["name"]: p for p in self.owned(POD, ns, sts)}
            for i in range(max(replicas, len(existing))):
                pod_name = f"{name}-{i}"
                replace = action != "scale" or pod_name not in existing
                if pod_name in existing and (replace or i >= replicas):
                    self.store.delete(POD, ns, pod_name)
                if i < replicas and replace:
                    self._new_pod(sts, pod_name, outcome, {"controller-revision-hash": rev_name})
            sts.setdefault("status", {}).update(currentRevision=rev_name, updateRevision=rev_name)
            self.store.put(sts, self.store.scenario_of(sts))
        self._reconcile(self.store.get(STS, ns, name) or sts)

    # ----- pods -------------------------------------------------------------------------------------
    def _new_pod(self, owner: Obj, name: str, outcome: str, extra_labels: dict[str, str], workload: Obj | None = None) -> Obj:
        ns = owner["metadata"]["namespace"]
        wl = workload or owner
        template = deepcopy(owner["spec"]["template"])
        fail = self.failure.get((wl["kind"], ns, wl["metadata"]["name"]))
        node = (fail or {}).get("spec", {}).get("nodeName") or next((n["metadata"]["name"] for n in self.store.list(BY_KIND["Node"])), "sandbox-node-1")
        spec = template.get("spec") or {}
        spec.setdefault("nodeName", node)
        spec.setdefault("restartPolicy", "Always")
        now = now_iso()
        pod: Obj = {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "labels": {**((template.get("metadata") or {}).get("labels") or {}), **extra_labels},
                         "annotations": dict((template.get("metadata") or {}).get("annotations") or {}),
                         "ownerReferences": [{"apiVersion": owner.get("apiVersion", "apps/v1"), "kind": owner["kind"], "name": owner["metadata"]["name"],
                                              "uid": owner["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}]},
            "spec": spec,
        }
        ip = f"10.244.{random.randint(1, 9)}.{random.randint(2, 250)}"
        containers = spec.get("containers") or []
        if outcome == "still-failing":
            pod["status"] = self._failing_status(fail, containers, now, ip)
            self._copy_logs_metrics(fail, ns, name, containers)
        else:
            pod["status"] = {
                "phase": "Running", "qosClass": "Burstable", "hostIP": "10.0.0.11", "podIP": ip, "podIPs": [{"ip": ip}], "startTime": now,
                "conditions": [{"type": t, "status": "True", "lastTransitionTime": now} for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")],
                "containerStatuses": [{"name": c["name"], "ready": True, "started": True, "restartCount": 0, "image": c.get("image", ""),
                                       "imageID": f"{c.get('image', '')}@sha256:sandbox", "containerID": f"containerd://{_rand(16)}",
                                       "state": {"running": {"startedAt": now}}, "lastState": {}} for c in containers],
            }
            sc = self.scenarios.get(self.store.scenario_of(owner) or "")
            for c in containers:
                self.logs[(ns, name, c["name"], False)] = (sc.healthy_logs.get(c["name"]) if sc else None) or f"(sandbox) container {c['name']} started and is serving\n"
                usage = (sc.healthy_metrics.get(c["name"]) if sc else None) or {"cpu": "5m", "memory": "32Mi"}
                self.metrics.setdefault((ns, name), {})[c["name"]] = dict(usage)
        stored = self.store.put(pod, self.store.scenario_of(owner))
        first = containers[0]["name"] if containers else ""
        self._event(stored, "Normal", "Scheduled", f"Successfully assigned {ns}/{name} to {spec['nodeName']}")
        if outcome == "still-failing":
            for cs in stored["status"].get("containerStatuses") or []:
                term = (cs.get("lastState") or {}).get("terminated") or {}
                if term.get("reason") == "OOMKilled":
                    self._event(stored, "Warning", "Killing", f"Container {cs['name']} exceeded its memory limit and was OOMKilled; it will be restarted")
            self._event(stored, "Warning", "BackOff", f"Back-off restarting failed container {first} in pod {name}_{ns}(sandbox)")
        else:
            self._event(stored, "Normal", "Started", f"Started container {first}")
        return stored

    def _failing_status(self, fail: Obj | None, containers: list[Obj], now: str, ip: str) -> Obj:
        if fail:
            st = deepcopy(fail["status"])
            st.update(startTime=now, podIP=ip, podIPs=[{"ip": ip}])
            for cs in st.get("containerStatuses") or []:
                cs["restartCount"] = 1
                img = next((c.get("image") for c in containers if c["name"] == cs["name"]), cs.get("image"))
                cs["image"] = img
                term = (cs.get("lastState") or {}).get("terminated") or (cs.get("state") or {}).get("terminated")
                if term:
                    term.update(startedAt=now, finishedAt=now)
                    cs["lastState"] = {"terminated": term}
                    cs["state"] = {"waiting": {"reason": "CrashLoopBackOff", "message": f"back-off 10s restarting failed container={cs['name']}"}}
                    cs["ready"], cs["started"] = False, False
            for c in st.get("conditions") or []:
                c["lastTransitionTime"] = now
            return st
        return {
            "phase": "Running", "podIP": ip, "startTime": now,
            "conditions": [{"type": "Ready", "status": "False", "reason": "ContainersNotReady", "lastTransitionTime": now}],
            "containerStatuses": [{"name": c["name"], "ready": False, "started": False, "restartCount": 1, "image": c.get("image", ""),
                                   "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                                   "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "startedAt": now, "finishedAt": now}}} for c in containers],
        }

    def _copy_logs_metrics(self, fail: Obj | None, ns: str, name: str, containers: list[Obj]) -> None:
        src = fail["metadata"]["name"] if fail else None
        for c in containers:
            for prev in (False, True):
                text = self.logs.get((ns, src or "", c["name"], prev))
                if text is None:
                    text = self.logs.get((ns, src or "", c["name"], not prev), f"(sandbox) container {c['name']} exited with an error\n")
                self.logs[(ns, name, c["name"], prev)] = text
        if src and (ns, src) in self.metrics:
            self.metrics[(ns, name)] = deepcopy(self.metrics[(ns, src)])

    # ----- status ------------------------------------------------------------------------------------
    def _rs_status(self, rs: Obj) -> None:
        pods = self.owned(POD, rs["metadata"]["namespace"], rs)
        ready = sum(is_ready(p) for p in pods)
        rs["status"] = {"replicas": len(pods), "fullyLabeledReplicas": len(pods), "readyReplicas": ready,
                        "availableReplicas": ready, "observedGeneration": rs["metadata"].get("generation", 1)}
        self.store.put(rs, self.store.scenario_of(rs))

    def _reconcile(self, wl: Obj, failing: bool = False) -> None:
        ns, now = wl["metadata"]["namespace"], now_iso()
        want = int((wl.get("spec") or {}).get("replicas", 1))
        if wl["kind"] == "Deployment":
            rses = self.owned(RS, ns, wl)
            tmpl = _strip_hash(wl["spec"]["template"])
            cur = next((r for r in rses if _strip_hash(r["spec"]["template"]) == tmpl), None)
            for r in rses:
                self._rs_status(r)
            pods = [p for r in rses for p in self.owned(POD, ns, r)]
            updated = self.owned(POD, ns, cur) if cur else []
            ready = sum(is_ready(p) for p in pods)
            st: Obj = {"observedGeneration": wl["metadata"].get("generation", 1), "replicas": len(pods),
                       "updatedReplicas": len(updated), "readyReplicas": ready, "availableReplicas": ready}
            if want - ready > 0:
                st["unavailableReplicas"] = want - ready
            done = len(updated) == want and sum(is_ready(p) for p in updated) == want and len(pods) == want
            cur_name = cur["metadata"]["name"] if cur else ""
            progressing = ({"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
                            "message": f'ReplicaSet "{cur_name}" has successfully progressed.'} if done else
                           {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                            "message": f'ReplicaSet "{cur_name}" has timed out progressing.'} if failing or not any(is_ready(p) for p in updated) else
                           {"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated",
                            "message": f'ReplicaSet "{cur_name}" is progressing.'})
            max_unavail = int(want * 0.25)
            available = ({"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable", "message": "Deployment has minimum availability."}
                         if ready >= want - max_unavail and (ready > 0 or want == 0) else
                         {"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable", "message": "Deployment does not have minimum availability."})
            st["conditions"] = [{**c, "lastUpdateTime": now, "lastTransitionTime": now} for c in (available, progressing)]
            wl["status"] = st
        elif wl["kind"] == "DaemonSet":
            pods = self.owned(POD, ns, wl)
            ready = sum(is_ready(p) for p in pods)
            wl["status"] = {**(wl.get("status") or {}), "observedGeneration": wl["metadata"].get("generation", 1),
                            "currentNumberScheduled": len(pods), "desiredNumberScheduled": len(pods),
                            "updatedNumberScheduled": len(pods), "numberReady": ready, "numberAvailable": ready,
                            "numberUnavailable": len(pods) - ready}
        elif wl["kind"] == "Job":
            pods = [p for p in self.owned(POD, ns, wl) if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
            wl["status"] = {**(wl.get("status") or {}), "active": len(pods), "ready": sum(is_ready(p) for p in pods)}
        else:
            pods = self.owned(POD, ns, wl)
            ready = sum(is_ready(p) for p in pods)
            st = dict(wl.get("status") or {})
            upd = st.get("updateRevision")
            n_upd = sum(1 for p in pods if not upd or p["metadata"].get("labels", {}).get("controller-revision-hash") == upd)
            st.update(observedGeneration=wl["metadata"].get("generation", 1), replicas=len(pods), readyReplicas=ready,
                      availableReplicas=ready, currentReplicas=n_upd, updatedReplicas=n_upd)
            wl["status"] = st
        self.store.put(wl, self.store.scenario_of(wl))

    def _endpoints(self, ns: str) -> None:
        """Keep Endpoints of services in `ns` in step with pod readiness (what kube-proxy routes to)."""
        for svc in self.store.list(SVC, ns):
            sel = (svc.get("spec") or {}).get("selector")
            ep = self.store.get(EP, ns, svc["metadata"]["name"])
            if not sel or not ep:
                continue
            pods = [p for p in self.store.list(POD, ns, selector_string(sel)) if (p.get("status") or {}).get("podIP")]
            ports = [s.get("ports") for s in ep.get("subsets") or [] if s.get("ports")]
            addr = lambda p: {"ip": p["status"]["podIP"], "nodeName": p["spec"].get("nodeName", ""),
                              "targetRef": {"kind": "Pod", "name": p["metadata"]["name"], "namespace": ns, "uid": p["metadata"]["uid"]}}
            subset: Obj = {"ports": ports[0] if ports else [{"port": 80, "protocol": "TCP"}]}
            if any(is_ready(p) for p in pods):
                subset["addresses"] = [addr(p) for p in pods if is_ready(p)]
            if any(not is_ready(p) for p in pods):
                subset["notReadyAddresses"] = [addr(p) for p in pods if not is_ready(p)]
            ep["subsets"] = [subset] if pods else []
            self.store.put(ep, self.store.scenario_of(ep))

    def _event(self, obj: Obj, type_: str, reason: str, message: str) -> None:
        ns, now = obj["metadata"].get("namespace", "default"), now_iso()
        self.store.put({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{obj['metadata']['name']}.{_rand(16)}", "namespace": ns},
            "involvedObject": {"kind": obj["kind"], "namespace": ns, "name": obj["metadata"]["name"],
                               "uid": obj["metadata"].get("uid", ""), "apiVersion": obj.get("apiVersion", "v1")},
            "reason": reason, "message": message, "type": type_, "count": 1, "firstTimestamp": now, "lastTimestamp": now,
            "source": {"component": "sandbox-controller"}, "reportingComponent": "sandbox-controller",
        })

    # ----- reads for the API -----------------------------------------------------------------------
    def pod_metrics(self, pod: Obj) -> Obj | None:
        ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        usage = self.metrics.get((ns, name))
        if not usage:
            return None
        return {"kind": "PodMetrics", "apiVersion": "metrics.k8s.io/v1beta1",
                "metadata": {"name": name, "namespace": ns, "labels": pod["metadata"].get("labels", {}), "creationTimestamp": now_iso()},
                "timestamp": now_iso(), "window": "30s",
                "containers": [{"name": c, "usage": dict(u)} for c, u in usage.items()]}

    def node_metrics(self, node: Obj) -> Obj:
        mem = cpu = 0
        for pod in self.store.list(POD, field_selector=f"spec.nodeName={node['metadata']['name']}"):
            for u in self.metrics.get((pod["metadata"]["namespace"], pod["metadata"]["name"]), {}).values():
                cpu += _millicores(u.get("cpu", "0"))
                mem += _mebibytes(u.get("memory", "0"))
        return {"kind": "NodeMetrics", "apiVersion": "metrics.k8s.io/v1beta1",
                "metadata": {"name": node["metadata"]["name"], "labels": node["metadata"].get("labels", {}), "creationTimestamp": now_iso()},
                "timestamp": now_iso(), "window": "30s", "usage": {"cpu": f"{cpu + 250}m", "memory": f"{mem + 1200}Mi"}}


def _millicores(v: str) -> int:
    return int(v[:-1]) if v.endswith("m") else int(float(v) * 1000)


def _mebibytes(v: str) -> int:
    for suffix, mult in (("Ki", 1 / 1024), ("Mi", 1), ("Gi", 1024)):
        if v.endswith(suffix):
            return int(float(v[:-2]) * mult)
    return int(float(v or 0) / (1024 * 1024))



