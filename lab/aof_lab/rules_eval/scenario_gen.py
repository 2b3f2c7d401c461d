"""Writes the `rules-*` sandbox scenarios: one realistic cluster state per failure class the detectors know.

    python -m aof_lab.rules_eval.scenario_gen            # (re)writes lab/aof_lab/sandbox/scenarios/rules-*.yaml

WHY generated: twenty-odd scenarios of full Kubernetes objects are long; building them with the same
`fixtures` builders keeps every object consistent (owner references, pod-template-hash labels, endpoints
matching pod IPs). The expectations (`expect`) are written by hand below, per scenario, from what an SRE
would conclude; the detectors never read them.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

from . import fixtures as k

OUT = Path(__file__).resolve().parents[1] / "sandbox" / "scenarios"


def scenario(name: str, description: str, *, id: str, title: str, service: str, ns: str, resource: str,
             cls: str, severity: str, actions: list[str], objects: list[dict[str, Any]], logs: dict[str, str] | None = None,
             on_action: dict[str, str] | None = None, metrics: dict[str, Any] | None = None, urgency: str = "high") -> dict[str, Any]:
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}, "status": {"phase": "Active"}}
    d: dict[str, Any] = {
        "name": f"rules-{name}", "description": description,
        "incident": {"id": id, "title": title, "service": service, "urgency": urgency, "namespace": ns, "resource": resource},
        "expect": {"root_cause_class": cls, "severity": severity, "actions": actions},
        "captured_at": "2026-11-27T10:06:00Z",
        "on_action": on_action or {a: "heal" for a in actions if a != "none"},
        "objects": [namespace, k.node("rules-node-1", labels={"topology.kubernetes.io/zone": "zone-a"}),
                    k.node("rules-node-2", labels={"topology.kubernetes.io/zone": "zone-b"}),
                    k.storageclass("standard", default=True)] + objects,
        "logs": logs or {},
    }
    if metrics:
        d["metrics"] = metrics
    return d


class App:
    """A Deployment with its ReplicaSets (one per revision) and a Service in front of it."""

    def __init__(self, ns: str, name: str, image: str, *, replicas: int = 3, revision: int = 1, prev_image: str | None = None,
                 prev_ready: int = 0, ready: int | None = None, updated: int | None = None, progressing: tuple[str, str, str] | None = None,
                 replica_failure: str | None = None, container_kw: dict[str, Any] | None = None,
                 prev_container_kw: dict[str, Any] | None = None, spec_kw: dict[str, Any] | None = None,
                 new_rs_replicas: int | None = None, last_applied: int | None = None) -> None:
        self.ns, self.name = ns, name
        labels = {"app": name}
        self.template = k.pod_template(labels, [k.container(name, image, **(container_kw or {}))], **(spec_kw or {}))
        self.dep = k.deployment(name, ns, self.template, replicas=replicas, revision=revision, ready=ready, updated=updated,
                                progressing=progressing, replica_failure=replica_failure, last_applied_replicas=last_applied)
        self.rs = k.replicaset(self.dep, revision, self.template, replicas=replicas if new_rs_replicas is None else new_rs_replicas,
                               ready=(replicas if ready is None else ready) - prev_ready)
        self.prev_rs = None
        if prev_image:
            self.prev_template = k.pod_template(labels, [k.container(name, prev_image, **(prev_container_kw or container_kw or {}))], **(spec_kw or {}))
            self.prev_rs = k.replicaset(self.dep, revision - 1, self.prev_template, replicas=prev_ready, ready=prev_ready)
        self.svc = k.service(name, ns, labels)
        self.pods: list[dict[str, Any]] = []

    def pod(self, suffix: str, statuses: list[dict[str, Any]], *, old: bool = False, **kw: Any) -> dict[str, Any]:
        rs = self.prev_rs if old else self.rs
        assert rs is not None
        tmpl = self.prev_template if old else self.template
        p = k.pod(f"{rs['metadata']['name']}-{suffix}", self.ns, tmpl, owner_obj=rs, statuses=statuses, **kw)
        self.pods.append(p)
        return p

    def objects(self, *, with_service: bool = True) -> list[dict[str, Any]]:
        out = [self.dep, self.rs] + ([self.prev_rs] if self.prev_rs else []) + self.pods
        if with_service:
            live = [p for p in self.pods if p["status"].get("podIP")]
            ready = [p for p in live if k.pod_ready_dict(p)]
            out += [self.svc, k.endpoints(self.svc, ready, [p for p in live if p not in ready])]
        return out


def _ev(ns: str, obj: dict[str, Any], reason: str, msg: str, **kw: Any) -> dict[str, Any]:
    return k.event(ns, obj, reason, msg, **kw)


def _never_started(a: App, suffixes: tuple[str, ...], reason: str, message: str, event: str, *, count: int) -> list[dict[str, Any]]:
    """Pods of `a` whose container waits on `reason` and never starts, with the kubelet's `Failed` event for each."""
    image = a.template["spec"]["containers"][0]["image"]
    evs = []
    for sfx in suffixes:
        p = a.pod(sfx, [k.waiting(a.name, image, reason, message)])
        evs.append(_ev(a.ns, p, "Failed", event, count=count))
    return evs


def _unschedulable(a: App, suffixes: tuple[str, ...], message: str, *, count: int) -> list[dict[str, Any]]:
    """Pending pods of `a` that the scheduler refuses with `message`, with its `FailedScheduling` event for each."""
    evs = []
    for sfx in suffixes:
        p = a.pod(sfx, [], phase="Pending", unschedulable=message, node=None)
        evs.append(_ev(a.ns, p, "FailedScheduling", message, component="default-scheduler", count=count))
    return evs


def build() -> list[dict[str, Any]]:
    S: list[dict[str, Any]] = []
    PREV = k.terminated

    # 1 crash loop from a configuration error: restart would crash the same way
    ns = "shop"
    a = App(ns, "checkout", "registry.example.com/shop/checkout:4.2.0", ready=0)
    logs = {}
    for sfx in ("h2x9q", "k8d7w", "p3m4n"):
        p = a.pod(sfx, [k.waiting("checkout", a.template["spec"]["containers"][0]["image"], "CrashLoopBackOff",
                                  f"back-off 5m0s restarting failed container=checkout pod={a.rs['metadata']['name']}-{sfx}_{ns}",
                                  restarts=12, last=PREV(1, "Error"))])
        logs[f"{ns}/{p['metadata']['name']}/checkout/previous"] = (
            "2026-11-27T10:04:01Z INFO starting checkout 4.2.0\n2026-11-27T10:04:01Z INFO loading configuration\n"
            "2026-11-27T10:04:01Z FATAL config: required environment variable PAYMENT_GATEWAY_URL is not set\n")
    ev = [_ev(ns, p, "BackOff", f"Back-off restarting failed container checkout in pod {p['metadata']['name']}_{ns}", count=40) for p in a.pods]
    S.append(scenario("crashloop-missing-env",
                      "checkout crash-loops on startup (FATAL: PAYMENT_GATEWAY_URL not set); no new revision to undo, a restart crashes again.",
                      id="RUL001", title="checkout 5xx: all pods down", service="checkout", ns=ns, resource="deployment/checkout",
                      cls="crash-loop", severity="high", actions=["none"], objects=a.objects() + ev, logs=logs,
                      on_action={"rollout-restart": "still-failing"}))

    # 2 crash loop introduced by a new revision, old pods still serving -> undo
    a = App(ns, "cart", "registry.example.com/shop/cart:2.4.0", revision=7, prev_image="registry.example.com/shop/cart:2.3.9",
            prev_ready=3, ready=3, updated=1, new_rs_replicas=1)
    for sfx in ("b7k2d", "c9x4z", "d2m8p"):
        a.pod(sfx, [k.running("cart", "registry.example.com/shop/cart:2.3.9")], old=True)
    p = a.pod("f5t6y", [k.waiting("cart", "registry.example.com/shop/cart:2.4.0", "CrashLoopBackOff",
                                  "back-off 2m40s restarting failed container=cart", restarts=6, last=PREV(2, "Error"))])
    logs = {f"{ns}/{p['metadata']['name']}/cart/previous":
            "panic: runtime error: invalid memory address or nil pointer dereference\n[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x8c1f2a]\n\ngoroutine 1 [running]:\nmain.(*PriceCache).Get(...)\n\t/src/cart/cache.go:88\n"}
    S.append(scenario("crashloop-bad-release",
                      "cart 2.4.0 (revision 7) panics on startup; the rollout is stuck with the 2.3.9 pods still serving: undo.",
                      id="RUL002", title="cart rollout failing", service="cart", ns=ns, resource="deployment/cart",
                      cls="crash-loop", severity="medium", actions=["rollout-undo"], objects=a.objects() + [
                          _ev(ns, p, "BackOff", f"Back-off restarting failed container cart in pod {p['metadata']['name']}_{ns}", count=14)], logs=logs))

    # 3 crash loop on a dependency that is back: restart
    ns = "jobs"
    a = App(ns, "worker", "registry.example.com/jobs/worker:1.12.3", replicas=2, ready=0)
    logs = {}
    for sfx in ("q1w2e", "r4t5y"):
        p = a.pod(sfx, [k.waiting("worker", "registry.example.com/jobs/worker:1.12.3", "CrashLoopBackOff", "back-off 5m0s restarting failed container=worker",
                                  restarts=9, last=PREV(1, "Error"))])
        logs[f"{ns}/{p['metadata']['name']}/worker/previous"] = (
            "info: connecting to amqp://rabbitmq.jobs.svc:5672\nerror: Error: connect ECONNREFUSED 10.96.44.10:5672\n"
            "    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1555:16)\nfatal: giving up after 5 attempts\n")
    S.append(scenario("crashloop-dependency",
                      "worker exits when RabbitMQ refuses connections; RabbitMQ is back, a restart brings the workers up.",
                      id="RUL003", title="job queue not draining", service="worker", ns=ns, resource="deployment/worker",
                      cls="crash-loop", severity="high", actions=["rollout-restart"], objects=a.objects(with_service=False), logs=logs))

    # 4 OOMKilled on every replica
    ns = "search"
    a = App(ns, "search-api", "registry.example.com/search/api:5.0.1", replicas=2, ready=1, container_kw={"mem_limit": "1Gi", "mem_req": "768Mi"})
    a.pod("a1b2c", [k.running("search-api", "registry.example.com/search/api:5.0.1", restarts=5, last=PREV(137, "OOMKilled"))])
    p2 = a.pod("d3e4f", [k.waiting("search-api", "registry.example.com/search/api:5.0.1", "CrashLoopBackOff", "back-off 1m20s restarting failed container=search-api",
                                   restarts=8, last=PREV(137, "OOMKilled"))])
    logs = {f"{ns}/{p2['metadata']['name']}/search-api/previous": "INFO index warmup: loaded 1843201 documents\nWARN heap usage 94%\n"}
    S.append(scenario("oomkilled",
                      "search-api is OOMKilled (exit 137) on both replicas under a 1Gi limit, minutes after each start while it "
                      "warms its index: the working set exceeds the limit, a restart is killed the same way; raise the limit.",
                      id="RUL004", title="search latency and errors", service="search", ns=ns, resource="deployment/search-api",
                      cls="oom-killed", severity="high", actions=["none"], on_action={"rollout-restart": "still-failing"}, objects=a.objects() + [
                          _ev(ns, p2, "BackOff", "Back-off restarting failed container search-api", count=20)], logs=logs))

    # 5 memory near limit (metrics)
    ns = "cache"
    a = App(ns, "session-cache", "registry.example.com/cache/session:3.3.0", replicas=2, container_kw={"mem_limit": "512Mi"})
    pa = a.pod("m1n2b", [k.running("session-cache", "registry.example.com/cache/session:3.3.0")])
    pb = a.pod("v3c4x", [k.running("session-cache", "registry.example.com/cache/session:3.3.0")])
    metrics = {f"{ns}/{pa['metadata']['name']}": {"session-cache": {"cpu": "120m", "memory": "498Mi"}},
               f"{ns}/{pb['metadata']['name']}": {"session-cache": {"cpu": "110m", "memory": "481Mi"}}}
    S.append(scenario("memory-near-limit",
                      "session-cache pods run at 94-97% of their 512Mi limit (kubectl top), no restart yet: restart before they are OOMKilled.",
                      id="RUL005", title="High memory usage on session-cache", service="session-cache", ns=ns,
                      resource="deployment/session-cache", cls="memory-near-limit", severity="medium", actions=["rollout-restart"],
                      objects=a.objects(), metrics=metrics))

    # 6 image tag missing in a new revision -> undo
    ns = "payments"
    a = App(ns, "payments", "registry.example.com/pay/payments:3.1.0", revision=4, prev_image="registry.example.com/pay/payments:3.0.7",
            prev_ready=3, ready=3, updated=1, new_rs_replicas=1)
    for sfx in ("g6h7j", "k8l9z", "x1c2v"):
        a.pod(sfx, [k.running("payments", "registry.example.com/pay/payments:3.0.7")], old=True)
    msg = ('rpc error: code = NotFound desc = failed to pull and unpack image "registry.example.com/pay/payments:3.1.0": '
           'failed to resolve reference "registry.example.com/pay/payments:3.1.0": registry.example.com/pay/payments:3.1.0: not found')
    p = a.pod("b5n6m", [k.waiting("payments", "registry.example.com/pay/payments:3.1.0", "ImagePullBackOff",
                                  'Back-off pulling image "registry.example.com/pay/payments:3.1.0"')])
    evs = [_ev(ns, p, "Failed", f'Failed to pull image "registry.example.com/pay/payments:3.1.0": {msg}', count=4),
           _ev(ns, p, "Failed", "Error: ErrImagePull", count=4), _ev(ns, p, "BackOff", 'Back-off pulling image "registry.example.com/pay/payments:3.1.0"', count=18)]
    S.append(scenario("imagepull-tag-missing",
                      "payments revision 4 points at tag 3.1.0 that was never pushed; 3.0.7 pods still serve: undo.",
                      id="RUL006", title="payments deploy not progressing", service="payments", ns=ns, resource="deployment/payments",
                      cls="image-pull", severity="medium", actions=["rollout-undo"], objects=a.objects() + evs))

    # 7 image pull auth failure, no previous revision
    ns = "reports"
    a = App(ns, "reports", "ghcr.io/acme-internal/reports:2026.11.2", replicas=2, ready=0)
    evs = _never_started(a, ("t7y8u", "i9o0p"), "ErrImagePull",
                         'failed to pull and unpack image "ghcr.io/acme-internal/reports:2026.11.2": failed to authorize: failed to fetch anonymous token: unexpected status: 401 Unauthorized',
                         'Failed to pull image "ghcr.io/acme-internal/reports:2026.11.2": pull access denied, repository does not exist or may require authorization: authorization failed: no basic auth credentials', count=6)
    S.append(scenario("imagepull-auth",
                      "reports cannot pull from a private registry: imagePullSecrets missing (401 Unauthorized).",
                      id="RUL007", title="reports down", service="reports", ns=ns, resource="deployment/reports",
                      cls="image-pull", severity="high", actions=["none"], objects=a.objects() + evs, on_action={}))

    # 8 pending: insufficient cpu (partial)
    ns = "analytics"
    a = App(ns, "analytics", "registry.example.com/data/analytics:8.1.0", replicas=4, ready=2, container_kw={"cpu": "3"})
    a.pod("r1s2t", [k.running("analytics", "registry.example.com/data/analytics:8.1.0")])
    a.pod("u3v4w", [k.running("analytics", "registry.example.com/data/analytics:8.1.0")], node="rules-node-2")
    msg = "0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod."
    evs = _unschedulable(a, ("x5y6z", "a7b8c"), msg, count=31)
    S.append(scenario("pending-insufficient-cpu",
                      "analytics was scaled to 4 replicas of 3 CPU each; the two 4-CPU nodes fit only two.",
                      id="RUL008", title="analytics capacity degraded", service="analytics", ns=ns, resource="deployment/analytics",
                      cls="pending-insufficient-resources", severity="medium", actions=["none"], objects=a.objects() + evs, on_action={}))

    # 9 pending: GPU
    ns = "ml"
    a = App(ns, "inference", "registry.example.com/ml/inference:0.9.4", replicas=1, ready=0, container_kw={"gpu": "1", "mem_limit": "16Gi", "mem_req": "8Gi"})
    msg = "0/2 nodes are available: 2 Insufficient nvidia.com/gpu. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod."
    evs = _unschedulable(a, ("g1p2u",), msg, count=12)
    S.append(scenario("pending-gpu",
                      "inference needs one nvidia.com/gpu; no node in the cluster has a GPU.",
                      id="RUL009", title="inference endpoint down", service="inference", ns=ns, resource="deployment/inference",
                      cls="pending-insufficient-resources", severity="high", actions=["none"], objects=a.objects() + evs, on_action={}))

    # 10 pending: node selector
    ns = "batch"
    a = App(ns, "batch-runner", "registry.example.com/batch/runner:2.0.0", replicas=2, ready=0, spec_kw={"nodeSelector": {"disktype": "nvme"}})
    msg = "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling."
    evs = _unschedulable(a, ("n1s2l", "n3s4l"), msg, count=8)
    S.append(scenario("pending-node-selector",
                      "batch-runner requires nodeSelector disktype=nvme; no node carries that label.",
                      id="RUL010", title="batch jobs not running", service="batch", ns=ns, resource="deployment/batch-runner",
                      cls="pending-node-selector", severity="high", actions=["none"], objects=a.objects(with_service=False) + evs, on_action={}))

    # 11 pending: taint
    ns = "ingest"
    a = App(ns, "ingest", "registry.example.com/data/ingest:4.4.4", replicas=1, ready=0)
    msg = "0/2 nodes are available: 2 node(s) had untolerated taint {dedicated: gpu}. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling."
    evs = _unschedulable(a, ("t1n2t",), msg, count=5)
    objs = a.objects() + evs
    sc = scenario("pending-taint", "every node is tainted dedicated=gpu:NoSchedule; ingest has no toleration.",
                  id="RUL011", title="ingest pipeline stalled", service="ingest", ns=ns, resource="deployment/ingest",
                  cls="pending-taint", severity="high", actions=["none"], objects=objs, on_action={})
    for o in sc["objects"]:
        if o["kind"] == "Node":
            o["spec"]["taints"] = [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]
    for o in sc["objects"]:
        if o["kind"] == "Node":
            o["metadata"]["name"] = o["metadata"]["name"].replace("rules-node", "rules-tainted-node")
    S.append(sc)

    # 12 pending: PVC with a StorageClass that does not exist
    ns = "uploads"
    a = App(ns, "uploads", "registry.example.com/web/uploads:1.0.3", replicas=1, ready=0,
            spec_kw={"volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "uploads-data"}}]})
    msg = "0/2 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling."
    claim = k.pvc("uploads-data", ns, "fast-ssd", phase="Pending")
    evs = _unschedulable(a, ("v1p2c",), msg, count=9) + [
        _ev(ns, claim, "ProvisioningFailed", 'storageclass.storage.k8s.io "fast-ssd" not found', component="persistentvolume-controller", count=22)]
    S.append(scenario("pending-pvc-storageclass",
                      "uploads' PVC asks for StorageClass fast-ssd, which does not exist in this cluster; the PVC stays Pending.",
                      id="RUL012", title="uploads unavailable", service="uploads", ns=ns, resource="deployment/uploads",
                      cls="pending-unbound-pvc", severity="high", actions=["none"], objects=a.objects() + [claim] + evs, on_action={}))

    # 13 missing ConfigMap
    ns = "notify"
    a = App(ns, "notifications", "registry.example.com/notify/notifications:6.0.2", replicas=2, ready=0,
            container_kw={"env_from": [{"configMapRef": {"name": "notifications-config"}}]})
    evs = _never_started(a, ("c1m2a", "c3m4b"), "CreateContainerConfigError", 'configmap "notifications-config" not found',
                         'Error: configmap "notifications-config" not found', count=15)
    S.append(scenario("config-missing-configmap",
                      "notifications reads envFrom configmap notifications-config, which was deleted.",
                      id="RUL013", title="notifications not sent", service="notifications", ns=ns, resource="deployment/notifications",
                      cls="config-missing", severity="high", actions=["none"], objects=a.objects() + evs, on_action={}))

    # 14 missing Secret in a new revision -> undo
    ns = "billing"
    env = [{"name": "STRIPE_KEY", "valueFrom": {"secretKeyRef": {"name": "billing-stripe", "key": "api-key"}}}]
    a = App(ns, "billing", "registry.example.com/billing/billing:9.3.0", revision=12, prev_image="registry.example.com/billing/billing:9.2.4",
            prev_ready=2, replicas=2, ready=2, updated=1, new_rs_replicas=1, container_kw={"env": env}, prev_container_kw={})
    for sfx in ("o1l2d", "o3l4d"):
        a.pod(sfx, [k.running("billing", "registry.example.com/billing/billing:9.2.4")], old=True)
    evs = _never_started(a, ("n1e2w",), "CreateContainerConfigError", 'secret "billing-stripe" not found',
                         'Error: secret "billing-stripe" not found', count=7)
    S.append(scenario("config-missing-secret",
                      "billing 9.3.0 (revision 12) references secret billing-stripe that was never created; 9.2.4 still serves: undo.",
                      id="RUL014", title="billing deploy stuck", service="billing", ns=ns, resource="deployment/billing",
                      cls="config-missing", severity="medium", actions=["rollout-undo"], objects=a.objects() + evs))

    # 15 readiness failing on all pods
    ns = "web"
    a = App(ns, "frontend", "registry.example.com/web/frontend:12.0.1", replicas=3, ready=0)
    evs = []
    for sfx in ("f1r2n", "f3r4n", "f5r6n"):
        p = a.pod(sfx, [k.running("frontend", "registry.example.com/web/frontend:12.0.1", ready=False)])
        evs.append(_ev(ns, p, "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503", count=120))
    logs = {f"{ns}/{a.pods[0]['metadata']['name']}/frontend": "GET /ready 503 upstream session store unavailable\nGET /ready 503 upstream session store unavailable\n"}
    S.append(scenario("readiness-failing",
                      "every frontend pod fails its readiness probe (503: session store connection stuck); new pods reconnect.",
                      id="RUL015", title="frontend returns 503", service="frontend", ns=ns, resource="deployment/frontend",
                      cls="probe-failing", severity="high", actions=["rollout-restart"], objects=a.objects() + evs, logs=logs))

    # 16 liveness failing -> restarts on some pods
    ns = "edge"
    a = App(ns, "gateway", "registry.example.com/edge/gateway:7.7.0", replicas=3, ready=2, container_kw={"liveness": True})
    a.pod("g1w2y", [k.running("gateway", "registry.example.com/edge/gateway:7.7.0")])
    p2 = a.pod("g3w4y", [k.running("gateway", "registry.example.com/edge/gateway:7.7.0", restarts=6, last=PREV(137, "Error"))])
    p3 = a.pod("g5w6y", [k.running("gateway", "registry.example.com/edge/gateway:7.7.0", ready=False, restarts=9, last=PREV(137, "Error"))])
    evs = []
    for p in (p2, p3):
        evs.append(_ev(ns, p, "Unhealthy", "Liveness probe failed: Get \"http://10.244.1.7:8080/healthz\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)", count=27))
        evs.append(_ev(ns, p, "Killing", "Container gateway failed liveness probe, will be restarted", type="Normal", count=9))
    S.append(scenario("liveness-restarts",
                      "two gateway pods are killed by their liveness probe (timeouts under a thread-pool deadlock); restart clears it.",
                      id="RUL016", title="gateway intermittent errors", service="gateway", ns=ns, resource="deployment/gateway",
                      cls="probe-failing", severity="medium", actions=["rollout-restart", "delete-pod"], objects=a.objects() + evs))

    # 17 one stuck pod among healthy ones -> delete it
    ns = "profile"
    a = App(ns, "profile", "registry.example.com/user/profile:2.2.2", replicas=3, ready=2)
    a.pod("s1t2k", [k.running("profile", "registry.example.com/user/profile:2.2.2")])
    a.pod("s3t4k", [k.running("profile", "registry.example.com/user/profile:2.2.2")])
    p = a.pod("s5t6k", [k.running("profile", "registry.example.com/user/profile:2.2.2", ready=False)], node="rules-node-2")
    S.append(scenario("stuck-pod",
                      "one profile pod lost its database connection pool and stays unready; its two siblings are fine.",
                      id="RUL017", title="profile elevated error rate", service="profile", ns=ns, resource="deployment/profile",
                      cls="probe-failing", severity="medium", actions=["delete-pod", "rollout-restart"],
                      objects=a.objects() + [_ev(ns, p, "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 500", count=300)],
                      logs={f"{ns}/{p['metadata']['name']}/profile": "ERROR pool exhausted: timeout acquiring connection after 30000ms\n"}))

    # 17b the same story paged for the pod itself (resource pod/...): judged with its siblings
    ns = "accounts"
    a = App(ns, "avatar", "registry.example.com/user/avatar:1.9.0", replicas=3, ready=2)
    a.pod("a1v2t", [k.running("avatar", "registry.example.com/user/avatar:1.9.0")])
    a.pod("a3v4t", [k.running("avatar", "registry.example.com/user/avatar:1.9.0")], node="rules-node-2")
    p = a.pod("a5v6t", [k.running("avatar", "registry.example.com/user/avatar:1.9.0", ready=False)])
    S.append(scenario("stuck-pod-by-name",
                      "the alert names one avatar pod, unready for an hour (readiness 500: wedged image cache); its siblings serve.",
                      id="RUL025", title=f"pod {p['metadata']['name']} not ready", service="avatar", ns=ns, resource=f"pod/{p['metadata']['name']}",
                      cls="probe-failing", severity="medium", actions=["delete-pod"],
                      objects=a.objects() + [_ev(ns, p, "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 500", count=360)]))

    # 18 rollout stuck on quota -> undo
    ns = "orders"
    fail = ('pods "orders-7f8g9h-" is forbidden: exceeded quota: compute-quota, requested: requests.cpu=2, used: requests.cpu=7, limited: requests.cpu=8')
    a = App(ns, "orders", "registry.example.com/shop/orders:5.5.0", revision=3, prev_image="registry.example.com/shop/orders:5.4.1",
            prev_ready=3, ready=3, updated=0, new_rs_replicas=1, container_kw={"cpu": "2"}, prev_container_kw={"cpu": "500m"},
            progressing=("False", "ProgressDeadlineExceeded", 'ReplicaSet "orders-xyz" has timed out progressing.'), replica_failure=fail)
    a.rs["status"] = {"replicas": 0, "observedGeneration": 1, "conditions": [{"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate", "message": fail}]}
    for sfx in ("o7r8d", "o9r0d", "o1r2e"):
        a.pod(sfx, [k.running("orders", "registry.example.com/shop/orders:5.4.1")], old=True)
    S.append(scenario("rollout-stuck-quota",
                      "orders 5.5.0 raised cpu requests to 2; the namespace quota refuses the new pods; the rollout timed out.",
                      id="RUL018", title="orders deployment timed out", service="orders", ns=ns, resource="deployment/orders",
                      cls="rollout-stuck", severity="medium", actions=["rollout-undo"],
                      objects=a.objects() + [_ev(ns, a.rs, "FailedCreate", f"Error creating: {fail}", component="replicaset-controller", count=17)]))

    # 19 Service selector matches nothing
    ns = "catalog"
    a = App(ns, "catalog", "registry.example.com/shop/catalog:3.0.0", replicas=2)
    a.pod("c1a2t", [k.running("catalog", "registry.example.com/shop/catalog:3.0.0")])
    a.pod("c3a4t", [k.running("catalog", "registry.example.com/shop/catalog:3.0.0")])
    svc = k.service("catalog-api", ns, {"app": "catalog-api"})
    S.append(scenario("service-selector-mismatch",
                      "the catalog-api Service selects app=catalog-api, but the pods are labelled app=catalog (chart rename).",
                      id="RUL019", title="catalog-api 503 from ingress", service="catalog", ns=ns, resource="service/catalog-api",
                      cls="service-selector-mismatch", severity="high", actions=["none"],
                      objects=a.objects(with_service=False) + [svc, k.endpoints(svc, [])], on_action={}))

    # 20 scaled to zero behind a Service
    ns = "ledger"
    a = App(ns, "ledger", "registry.example.com/fin/ledger:1.4.0", replicas=0, ready=0, last_applied=3)
    a.rs["spec"]["replicas"] = 0
    a.rs["status"] = {"replicas": 0, "observedGeneration": 2}
    S.append(scenario("scaled-to-zero",
                      "someone ran kubectl scale --replicas=0 on ledger; its Service has no endpoints; the manifest says 3.",
                      id="RUL020", title="ledger unreachable", service="ledger", ns=ns, resource="service/ledger",
                      cls="scaled-to-zero", severity="high", actions=["scale"], objects=a.objects() + [
                          _ev(ns, a.dep, "ScalingReplicaSet", f"Scaled down replica set {a.rs['metadata']['name']} to 0 from 3", type="Normal",
                              component="deployment-controller")]))

    # 21 evicted pods left behind
    ns = "logging"
    a = App(ns, "log-shipper", "registry.example.com/obs/shipper:2.9.1", replicas=2)
    a.pod("l1s2h", [k.running("log-shipper", "registry.example.com/obs/shipper:2.9.1")])
    a.pod("l3s4h", [k.running("log-shipper", "registry.example.com/obs/shipper:2.9.1")])
    evs = []
    for sfx in ("e1v2c", "e3v4c", "e5v6c"):
        msg = "The node was low on resource: ephemeral-storage. Threshold quantity: 10Gi, available: 8412Ki. Container log-shipper was using 14Gi, request is 0, has larger consumption of ephemeral-storage."
        p = a.pod(sfx, [], phase="Failed", reason="Evicted", message=msg, ready=False)
        p["status"]["containerStatuses"] = [{"name": "log-shipper", "image": "registry.example.com/obs/shipper:2.9.1", "imageID": "", "ready": False,
                                             "restartCount": 0, "started": False, "state": {"terminated": {"exitCode": 137, "reason": "ContainerStatusUnknown",
                                                                                                            "message": "The container could not be located when the pod was terminated"}}, "lastState": {}}]
        evs.append(_ev(ns, p, "Evicted", msg, count=1))
    S.append(scenario("evicted-pods",
                      "log-shipper buffered to local disk and was evicted three times (ephemeral-storage); replacements run, Failed pods remain.",
                      id="RUL021", title="log-shipper evictions", service="log-shipper", ns=ns, resource="deployment/log-shipper",
                      cls="evicted", severity="low", actions=["delete-pod"], objects=a.objects() + evs, urgency="low"))

    # 22 StatefulSet: every replica crash-looping (data corruption) -> critical
    ns = "db"
    tmpl = k.pod_template({"app": "postgres"}, [k.container("postgres", "postgres:16.4", port=5432, mem_limit="4Gi", mem_req="2Gi")],
                          volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "data-postgres-0"}}])
    sts = k.statefulset("postgres", ns, tmpl, replicas=3, ready=0)
    pods, logs, evs = [], {}, []
    for i in range(3):
        p = k.pod(f"postgres-{i}", ns, tmpl, owner_obj=sts, extra_labels={"statefulset.kubernetes.io/pod-name": f"postgres-{i}"},
                  statuses=[k.waiting("postgres", "postgres:16.4", "CrashLoopBackOff", "back-off 5m0s restarting failed container=postgres",
                                      restarts=15, last=PREV(1, "Error"))])
        p["spec"]["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": f"data-postgres-{i}"}}]
        pods.append(p)
        logs[f"{ns}/postgres-{i}/postgres/previous"] = (
            "LOG:  database system was interrupted; last known up at 2026-11-27 09:58:12 UTC\n"
            "LOG:  invalid primary checkpoint record\nPANIC:  could not locate a valid checkpoint record\n")
        evs.append(_ev(ns, p, "BackOff", "Back-off restarting failed container postgres in pod " + f"postgres-{i}_{ns}", count=60))
    claims = [k.pvc(f"data-postgres-{i}", ns, "standard") for i in range(3)]
    svc = k.service("postgres", ns, {"app": "postgres"}, port=5432, target=5432)
    S.append(scenario("statefulset-down",
                      "all three postgres replicas crash with 'could not locate a valid checkpoint record': data store down, needs a DBA.",
                      id="RUL022", title="postgres unavailable", service="postgres", ns=ns, resource="statefulset/postgres",
                      cls="crash-loop", severity="critical", actions=["none"],
                      objects=[sts] + pods + claims + [svc, k.endpoints(svc, [], pods)] + evs, logs=logs, on_action={}))

    # 23 StatefulSet pending on an unbound PVC -> critical
    ns = "kv"
    tmpl = k.pod_template({"app": "redis"}, [k.container("redis", "redis:7.4", port=6379)])
    claim_t = [{"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
                "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "premium-rwo", "resources": {"requests": {"storage": "20Gi"}}}}]
    sts = k.statefulset("redis", ns, tmpl, replicas=1, ready=0, claim_templates=claim_t)
    msg = "0/2 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling."
    p = k.pod("redis-0", ns, tmpl, owner_obj=sts, phase="Pending", unschedulable=msg, node=None)
    p["spec"]["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": "data-redis-0"}}]
    claim = k.pvc("data-redis-0", ns, "premium-rwo", phase="Pending")
    S.append(scenario("statefulset-pvc-pending",
                      "redis-0 waits for PVC data-redis-0 of StorageClass premium-rwo, which this cluster does not have.",
                      id="RUL023", title="redis down", service="redis", ns=ns, resource="statefulset/redis",
                      cls="pending-unbound-pvc", severity="critical", actions=["none"],
                      objects=[sts, p, claim, _ev(ns, p, "FailedScheduling", msg, component="default-scheduler", count=4),
                               _ev(ns, claim, "ProvisioningFailed", 'storageclass.storage.k8s.io "premium-rwo" not found', component="persistentvolume-controller", count=11)],
                      on_action={}))

    # 24 nothing wrong
    ns = "status"
    a = App(ns, "status-page", "registry.example.com/web/status:1.1.1", replicas=2)
    a.pod("h1e2a", [k.running("status-page", "registry.example.com/web/status:1.1.1")])
    a.pod("h3e4a", [k.running("status-page", "registry.example.com/web/status:1.1.1")], node="rules-node-2")
    S.append(scenario("healthy",
                      "status-page is fine: the alert came from an external synthetic check that flapped.",
                      id="RUL024", title="status-page synthetic check failed", service="status-page", ns=ns, resource="deployment/status-page",
                      cls="no-fault-found", severity="low", actions=["none"], objects=a.objects(),
                      logs={f"{ns}/{a.pods[0]['metadata']['name']}/status-page": "GET / 200 3ms\nGET /ready 200 1ms\n"}, urgency="low", on_action={}))
    return S


def write(out: Path = OUT) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for s in build():
        path = out / f"{s['name']}.yaml"
        header = (f"# Generated by `python -m aof_lab.rules_eval.scenario_gen` (lab/aof_lab/rules_eval/scenario_gen.py).\n"
                  f"# Detector scenario for builtin:k8s-rules: expect.root_cause_class = {s['expect']['root_cause_class']}.\n")
        path.write_text(header + yaml.safe_dump(s, sort_keys=False, width=140, allow_unicode=True))
        paths.append(path)
    return paths


if __name__ == "__main__":
    for p in write(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT):
        print(p)
