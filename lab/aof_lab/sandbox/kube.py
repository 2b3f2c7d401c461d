"""`KubeAPI`: a small Kubernetes API server that the real `kubectl` talks to, serving a scenario's
objects, logs and metrics and applying the mutations remediation uses (rollout restart/undo, scale,
delete pod), each honouring `?dryRun=All`. Writes go through `ClusterSim`, so the cluster changes
the way the scenario says and a verification step reads the result from the API like on a cluster.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from copy import deepcopy
from pathlib import Path
from typing import Any, Iterable, Iterator

import yaml

from aof_lab.sandbox import kube_resources as kr
from aof_lab.sandbox.httpserver import HTTPService, Request, Response
from aof_lab.sandbox.kube_patch import PatchError, json_patch, merge_patch, strategic_merge_patch
from aof_lab.sandbox.kube_sim import POD, ActionRecord, ClusterSim
from aof_lab.sandbox.kube_store import Store, matches, now_iso, selector_string
from aof_lab.sandbox.kube_tables import to_table
from aof_lab.sandbox.kube_validate import causes, invalid_status
from aof_lab.sandbox.scenario import Scenario, load_scenario
from aof_lab.sandbox.tls import make_server_cert

Obj = dict[str, Any]


def status(code: int, reason: str, message: str, details: Obj | None = None) -> Response:
    return Response.json({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                          "message": message, "reason": reason, "details": details or {}, "code": code}, code)


class KubeAPI(HTTPService):
    """Kubernetes API stand-in on loopback: HTTPS with a throwaway CA (client-go sends bearer tokens
    only over TLS) and a token, both written into the kubeconfig."""

    def __init__(self, scenario: Scenario | str | Path | Iterable[Scenario | str | Path] = (), *, token: str | None = None,
                 host: str = "127.0.0.1", port: int = 0) -> None:
        self.cert = make_server_cert((host, "localhost"))
        super().__init__(host, port, tls=self.cert.server_context())
        self.token = token or "sandbox-kube-" + secrets.token_hex(12)
        self.store = Store()
        self.sim = ClusterSim(self.store)
        self.requests: list[tuple[str, str]] = []  # (method, path?query) as kubectl sent them
        items = [scenario] if isinstance(scenario, (Scenario, str, Path)) else list(scenario)
        for sc in items:
            self.sim.load(sc if isinstance(sc, Scenario) else load_scenario(sc))

    @property
    def actions(self) -> list[ActionRecord]:
        """Remediations applied for real (dry runs excluded), with the scenario's outcome."""
        return list(self.sim.actions)

    @property
    def scenarios(self) -> dict[str, Scenario]:
        return dict(self.sim.scenarios)

    def rearm(self, scenario: str) -> None:
        """Put a loaded scenario back as its file has it (see `ClusterSim.rearm`)."""
        self.sim.rearm(scenario)

    def kubeconfig(self, path: str | Path, namespace: str = "default") -> Path:
        """Write a kubeconfig for this server (context `aof-sandbox`) and return its path."""
        path = Path(path)
        cfg = {
            "apiVersion": "v1", "kind": "Config", "preferences": {},
            "clusters": [{"name": "aof-sandbox", "cluster": {
                "server": self.url, "certificate-authority-data": base64.b64encode(self.cert.ca_pem).decode()}}],
            "users": [{"name": "aof-sandbox", "user": {"token": self.token}}],
            "contexts": [{"name": "aof-sandbox", "context": {"cluster": "aof-sandbox", "user": "aof-sandbox", "namespace": namespace}}],
            "current-context": "aof-sandbox",
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("# SANDBOX cluster (aof-airflow `aofctl sandbox`), not a real Kubernetes cluster\n" + yaml.safe_dump(cfg, sort_keys=False))
        path.chmod(0o600)
        return path

    # ----- HTTP ---------------------------------------------------------------------------------------
    def handle(self, req: Request) -> Response:
        qs = "&".join(f"{k}={v}" for k, vs in req.query.items() for v in vs)
        self.requests.append((req.method, req.path + ("?" + qs if qs else "")))
        if req.path in ("/healthz", "/readyz", "/livez"):
            return Response.text("ok")
        if (req.headers.get("Authorization") or "") != f"Bearer {self.token}":
            return status(401, "Unauthorized", "Unauthorized")
        parts = [p for p in req.path.split("/") if p]
        if req.path == "/version":
            return Response.json({"major": "1", "minor": "32", "gitVersion": "v1.32.4-aof-sandbox", "gitCommit": "sandbox",
                                  "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.23",
                                  "compiler": "gc", "platform": "linux/amd64"})
        if parts in (["api"], ["apis"]) and kr.wants_aggregated(req.headers.get("Accept")):
            return Response.json(kr.aggregated_discovery(core=parts == ["api"]), headers={"Content-Type": kr.AGGREGATED})
        if parts == ["api"]:
            return Response.json(kr.api_versions(f"{self._host}:{self.port}"))
        if parts == ["apis"]:
            return Response.json(kr.api_group_list())
        if parts[:1] == ["api"] and len(parts) >= 2:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[:1] == ["apis"] and len(parts) >= 3:
            group, version, rest = parts[1], parts[2], parts[3:]
        elif parts[:1] == ["apis"] and len(parts) == 2:
            versions = kr.group_versions().get(parts[1])
            if not versions:
                return status(404, "NotFound", "the server could not find the requested resource")
            vs = [{"groupVersion": f"{parts[1]}/{v}", "version": v} for v in versions]
            return Response.json({"kind": "APIGroup", "apiVersion": "v1", "name": parts[1], "versions": vs, "preferredVersion": vs[0]})
        else:
            return status(404, "NotFound", "the server could not find the requested resource")
        if not rest:
            doc = kr.api_resource_list(group, version)
            return Response.json(doc) if doc else status(404, "NotFound", "the server could not find the requested resource")
        namespace = ""
        if rest[0] == "namespaces" and len(rest) >= 3:
            namespace, rest = rest[1], rest[2:]
        rt = kr.BY_PATH.get((group, version, rest[0]))
        if not rt:
            return status(404, "NotFound", "the server could not find the requested resource")
        name = rest[1] if len(rest) > 1 else ""
        sub = rest[2] if len(rest) > 2 else ""
        with self.store.lock:
            if rt.group == "metrics.k8s.io":
                return self._metrics(req, rt, namespace, name)
            if rt.plural == "endpointslices":
                return self._endpoint_slices(req, rt, namespace, name)
            return self._resource(req, rt, namespace, name, sub)

    def _resource(self, req: Request, rt: kr.ResourceType, ns: str, name: str, sub: str) -> Response:
        dry = "All" in req.query.get("dryRun", [])
        m = req.method
        if not name:
            if m == "GET":
                if req.q("watch") in ("true", "1"):
                    return self._watch(req, rt, ns)
                return self._list(req, rt, ns)
            if m == "POST":
                return self._create(req, rt, ns, dry)
            return status(405, "MethodNotAllowed", f"{m} is not supported on {rt.plural} collections in the sandbox")
        obj = self.store.get(rt, ns, name)
        if obj is None and m != "POST":
            return status(404, "NotFound", f'{rt.plural}{"." + rt.group if rt.group else ""} "{name}" not found',
                          {"name": name, "group": rt.group, "kind": rt.plural})
        assert obj is not None
        if sub == "log" and rt.kind == "Pod":
            return self._log(req, obj)
        if sub == "scale":
            return self._scale(req, rt, obj, dry)
        if sub not in ("", "status"):
            return status(404, "NotFound", "the server could not find the requested resource")
        if m == "GET":
            return self._out(req, rt, [obj], single=True)
        if m in ("PATCH", "PUT"):
            return self._write(req, rt, obj, dry)
        if m == "DELETE":  # kubectl puts dryRun in the DeleteOptions body, not the query
            opts = req.json() if req.body else {}
            return self._delete(rt, obj, dry or "All" in ((opts or {}).get("dryRun") or []))
        return status(405, "MethodNotAllowed", f"{m} not allowed")

    def _out(self, req: Request, rt: kr.ResourceType, objs: list[Obj], single: bool = False) -> Response:
        rv = str(self.store.rv)
        if "as=Table" in (req.headers.get("Accept") or ""):
            return Response.json(to_table(rt.kind, objs, rv))
        if single:
            return Response.json(objs[0])
        return Response.json({"kind": f"{rt.kind}List", "apiVersion": rt.api_version, "metadata": {"resourceVersion": rv}, "items": objs})

    def _list(self, req: Request, rt: kr.ResourceType, ns: str) -> Response:
        objs = self.store.list(rt, ns or None, req.q("labelSelector", "") or "", req.q("fieldSelector", "") or "")
        return self._out(req, rt, objs)

    def _watch(self, req: Request, rt: kr.ResourceType, ns: str) -> Response:
        label, field = req.q("labelSelector", "") or "", req.q("fieldSelector", "") or ""
        since = int(req.q("resourceVersion") or 0)
        timeout = min(float(req.q("timeoutSeconds") or 1800), 1800)
        bookmarks = req.q("allowWatchBookmarks") in ("true", "1")
        initial = self.store.list(rt, ns or None, label, field) if since == 0 else []
        start_rv = self.store.rv if since == 0 else since

        def stream() -> Iterator[bytes]:
            for o in initial:
                yield json.dumps({"type": "ADDED", "object": o}).encode() + b"\n"
            last, deadline, next_bookmark = start_rv, time.monotonic() + timeout, time.monotonic() + 5
            while not self.stopping.is_set() and time.monotonic() < deadline:
                with self.store.cond:
                    if self.store.rv <= last:
                        self.store.cond.wait(0.5)
                    events = self.store.events_since(last)
                for ev in events:
                    last = ev.rv
                    if ev.key[:2] != rt.key or (ns and rt.namespaced and ev.key[2] != ns) or not matches(ev.obj, label, field):
                        continue
                    yield json.dumps({"type": ev.type, "object": ev.obj}).encode() + b"\n"
                if bookmarks and time.monotonic() > next_bookmark:  # also notices clients that went away
                    next_bookmark = time.monotonic() + 5
                    yield json.dumps({"type": "BOOKMARK", "object": {"kind": rt.kind, "apiVersion": rt.api_version,
                                                                     "metadata": {"resourceVersion": str(last)}}}).encode() + b"\n"

        return Response(200, stream(), {"Content-Type": "application/json"})

    def _log(self, req: Request, pod: Obj) -> Response:
        containers = [c["name"] for c in (pod.get("spec") or {}).get("containers") or []]
        init = [c["name"] for c in (pod.get("spec") or {}).get("initContainers") or []]  # readable by name, never the default
        container = req.q("container") or (containers[0] if len(containers) == 1 else "")
        name, ns = pod["metadata"]["name"], pod["metadata"]["namespace"]
        if not container:
            return status(400, "BadRequest", f"a container name must be specified for pod {name}, choose one of: [{' '.join(containers)}]")
        if container not in containers + init:
            return status(400, "BadRequest", f"container {container} is not valid for pod {name}")
        previous = req.q("previous") in ("true", "1")
        text = self.sim.logs.get((ns, name, container, previous))
        if text is None:
            if previous:
                return status(400, "BadRequest", f'previous terminated container "{container}" in pod "{name}" not found')
            text = ""
        tail = req.q("tailLines")
        if tail is not None:
            lines = text.splitlines(keepends=True)
            text = "".join(lines[-int(tail):]) if int(tail) > 0 else ""
        return Response.text(text)

    def _scale(self, req: Request, rt: kr.ResourceType, obj: Obj, dry: bool) -> Response:
        if rt.kind not in ("Deployment", "ReplicaSet", "StatefulSet"):
            return status(404, "NotFound", "the server could not find the requested resource")

        def as_scale(o: Obj) -> Obj:
            sel = selector_string(((o.get("spec") or {}).get("selector") or {}).get("matchLabels"))
            meta = {k: o["metadata"][k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp") if k in o["metadata"]}
            return {"kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": meta,
                    "spec": {"replicas": (o.get("spec") or {}).get("replicas", 1)},
                    "status": {"replicas": (o.get("status") or {}).get("replicas", 0), "selector": sel}}

        if req.method == "GET":
            return Response.json(as_scale(obj))
        try:
            body = req.json()
            scale = _patched(as_scale(obj), body, req) if req.method == "PATCH" else body
            replicas = int(scale["spec"]["replicas"])
        except (PatchError, KeyError, TypeError, ValueError) as e:
            return status(422, "Invalid", f"invalid scale: {e}")
        new = deepcopy(obj)
        new["spec"]["replicas"] = replicas
        bad = causes(new)
        if bad:  # the API server validates the Scale against the object it scales
            return Response.json(invalid_status(new, bad), 422)
        if dry:
            return Response.json(as_scale(new))
        new["metadata"]["generation"] = int(obj["metadata"].get("generation", 1)) + 1
        stored = self.store.put(new, self.store.scenario_of(obj))
        self.sim.after_update(obj, stored, b"", False)
        return Response.json(as_scale(self.store.get(rt, obj["metadata"].get("namespace", ""), obj["metadata"]["name"]) or stored))

    def _write(self, req: Request, rt: kr.ResourceType, obj: Obj, dry: bool) -> Response:
        try:
            body = req.json()
            if req.method == "PUT":
                new = body
                sent_rv = (new.get("metadata") or {}).get("resourceVersion")
                if sent_rv and sent_rv != obj["metadata"]["resourceVersion"]:
                    return status(409, "Conflict", f'Operation cannot be fulfilled on {rt.plural} "{obj["metadata"]["name"]}": '
                                                   "the object has been modified; please apply your changes to the latest version and try again")
            else:
                new = _patched(obj, body, req)
        except PatchError as e:
            return status(422, "Invalid", str(e))
        except (ValueError, TypeError) as e:
            return status(400, "BadRequest", f"invalid body: {e}")
        except _Unsupported as e:
            return status(415, "UnsupportedMediaType", str(e))
        meta = new.setdefault("metadata", {})
        for k in ("uid", "creationTimestamp", "name", "namespace"):
            if k in obj["metadata"]:
                meta[k] = obj["metadata"][k]
        new["kind"], new["apiVersion"] = obj["kind"], obj["apiVersion"]
        bad = causes(new)
        if bad:
            return Response.json(invalid_status(new, bad), 422)
        if (new.get("spec") != obj.get("spec")) and rt.kind in ("Deployment", "StatefulSet", "ReplicaSet", "DaemonSet"):
            meta["generation"] = int(obj["metadata"].get("generation", 1)) + 1
        if dry:
            return Response.json(new)
        stored = self.store.put(new, self.store.scenario_of(obj))
        self.sim.after_update(obj, stored, req.body, req.content_type == "application/json-patch+json")
        return Response.json(self.store.get(rt, obj["metadata"].get("namespace", ""), obj["metadata"]["name"]) or stored)

    def _delete(self, rt: kr.ResourceType, obj: Obj, dry: bool) -> Response:
        gone = deepcopy(obj)
        gone["metadata"]["deletionTimestamp"] = now_iso()
        gone["metadata"]["deletionGracePeriodSeconds"] = 0
        if dry:
            return Response.json(gone)
        self.store.delete(rt, obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
        if rt.kind == "Pod":
            self.sim.after_delete_pod(obj)
        return Response.json(gone)

    def _create(self, req: Request, rt: kr.ResourceType, ns: str, dry: bool) -> Response:
        try:
            obj = req.json()
        except ValueError as e:
            return status(400, "BadRequest", f"invalid body: {e}")
        meta = obj.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + secrets.token_hex(3)
        if rt.namespaced:
            meta["namespace"] = ns or meta.get("namespace") or "default"
        if self.store.get(rt, meta.get("namespace", ""), meta.get("name", "")):
            return status(409, "AlreadyExists", f'{rt.plural} "{meta.get("name")}" already exists')
        obj["kind"], obj["apiVersion"] = rt.kind, rt.api_version
        bad = causes(obj)
        if bad:
            return Response.json(invalid_status(obj, bad), 422)
        if dry:
            return Response.json(obj, 201)
        return Response.json(self.store.put(obj), 201)

    def _endpoint_slices(self, req: Request, rt: kr.ResourceType, ns: str, name: str) -> Response:
        """EndpointSlices derived from Endpoints (what `kubectl describe service` reads)."""
        if req.method != "GET" or req.q("watch") in ("true", "1"):
            return status(405, "MethodNotAllowed", "endpointslices are read-only in the sandbox")
        slices = []
        for ep in self.store.list(kr.BY_KIND["Endpoints"], ns or None):
            meta = ep["metadata"]
            endpoints = [{"addresses": [a["ip"]], "conditions": {"ready": ready, "serving": ready, "terminating": False},
                          **({"nodeName": a["nodeName"]} if a.get("nodeName") else {}),
                          **({"targetRef": a["targetRef"]} if a.get("targetRef") else {})}
                         for sub in ep.get("subsets") or []
                         for key, ready in (("addresses", True), ("notReadyAddresses", False))
                         for a in sub.get(key) or []]
            ports = [p for sub in ep.get("subsets") or [] for p in sub.get("ports") or []][:1] or []
            slices.append({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
                           "metadata": {"name": f"{meta['name']}-sandbox", "namespace": meta.get("namespace"),
                                        "uid": meta.get("uid"), "resourceVersion": meta.get("resourceVersion"),
                                        "creationTimestamp": meta.get("creationTimestamp"),
                                        "labels": {"kubernetes.io/service-name": meta["name"],
                                                   "endpointslice.kubernetes.io/managed-by": "aof-sandbox"}},
                           "endpoints": endpoints, "ports": ports})
        slices = [s for s in slices if matches(s, req.q("labelSelector", "") or "", req.q("fieldSelector", "") or "")]
        if name:
            found = [s for s in slices if s["metadata"]["name"] == name]
            return Response.json(found[0]) if found else status(404, "NotFound", f'endpointslices.discovery.k8s.io "{name}" not found')
        return self._out(req, rt, slices)

    def _metrics(self, req: Request, rt: kr.ResourceType, ns: str, name: str) -> Response:
        label = req.q("labelSelector", "") or ""
        if rt.plural == "pods":
            pods = self.store.list(POD, ns or None, label)
            items = [m for p in pods if (not name or p["metadata"]["name"] == name) for m in [self.sim.pod_metrics(p)] if m]
        else:
            nodes = self.store.list(kr.BY_KIND["Node"], None, label)
            items = [self.sim.node_metrics(n) for n in nodes if not name or n["metadata"]["name"] == name]
        if name:
            return Response.json(items[0]) if items else status(404, "NotFound", f'{rt.plural}.metrics.k8s.io "{name}" not found')
        return Response.json({"kind": f"{rt.kind}List", "apiVersion": "metrics.k8s.io/v1beta1", "metadata": {}, "items": items})


class _Unsupported(Exception):
    pass


def _patched(obj: Obj, body: Any, req: Request) -> Obj:
    ct = req.content_type
    if ct == "application/merge-patch+json":
        return merge_patch(obj, body)
    if ct == "application/strategic-merge-patch+json":
        return strategic_merge_patch(obj, body)
    if ct == "application/json-patch+json":
        if not isinstance(body, list):
            raise PatchError("a JSON patch must be a list of operations")
        return json_patch(obj, body)
    raise _Unsupported(f"the sandbox does not support patch type {ct!r} (server-side apply is not simulated)")
