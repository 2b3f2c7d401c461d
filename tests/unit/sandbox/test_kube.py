"""The real kubectl against the sandbox Kubernetes API: reads, logs, and remediations that change
the simulated cluster the way the scenario says (and dry runs that change nothing)."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest
import yaml

from aof_lab.sandbox.kube import KubeAPI
from tests.harness import machine

pytestmark = machine.skip_mark("kubectl")


class Kubectl:
    def __init__(self, api: KubeAPI, tmp: Path) -> None:
        self.api = api
        cfg = api.kubeconfig(tmp / "kubeconfig", namespace="production")
        self.env = {**os.environ, "KUBECONFIG": str(cfg), "KUBECACHEDIR": str(tmp / "cache"), "HOME": str(tmp)}

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        r = subprocess.run(["kubectl", *args], env=self.env, capture_output=True, text=True, timeout=60)
        if check and r.returncode:
            raise AssertionError(f"kubectl {' '.join(args)} -> {r.returncode}\n{r.stdout}\n{r.stderr}")
        return r

    def out(self, *args: str) -> str:
        return self.run(*args).stdout

    def json(self, *args: str) -> dict:
        return json.loads(self.out(*args, "-o", "json"))

    def pods(self, selector: str) -> list[dict]:
        return self.json("get", "pods", "-l", selector)["items"]


@pytest.fixture()
def k(tmp_path):
    with KubeAPI(["high-memory-api", "postgres-replicas-failing", "remediation-fails-verification"]) as api:
        yield Kubectl(api, tmp_path)


def ready(pod: dict) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions", []))


def test_reads_tables_json_yaml_describe(k):
    table = k.out("get", "pods")
    assert "CrashLoopBackOff" in table and "api-7d4b9c8f6-q9zlt" in table and "RESTARTS" in table
    dep = k.json("get", "deployment", "api")
    assert dep["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"] == "512Mi"
    sts = yaml.safe_load(k.out("get", "sts", "postgres", "-o", "yaml"))
    assert sts["status"]["readyReplicas"] == 0
    wide = k.out("get", "deploy", "-o", "wide")
    assert "registry.example.com/platform/api:1.8.2" in wide
    described = k.out("describe", "pod", "api-7d4b9c8f6-q9zlt")
    assert "OOMKilled" in described and "exceeded its memory limit" in described  # events joined by uid
    assert "NewReplicaSet:   api-7d4b9c8f6" in k.out("describe", "deployment", "api")
    assert "Endpoints:         10.244.1.21:8080,10.244.1.22:8080" in k.out("describe", "svc", "api")  # via EndpointSlices
    assert "statefulset.apps/postgres" in k.out("get", "all")
    for kind in ("svc", "ep", "events", "nodes", "pvc", "sc", "cm", "secrets", "rs", "ns"):
        k.out("get", kind)
    assert "sandbox-node-1" in k.out("top", "nodes")
    assert "497Mi" in k.out("top", "pods", "-l", "app=api")


def test_a_cold_kubectl_reads_the_aggregated_discovery_and_every_kind_resolves(k):
    """Like a real API server (aggregated discovery is GA since 1.30): kubectl with an empty cache asks /api and
    /apis once each and maps every kind from them, with no request per group version."""
    first = len(k.api.requests)
    assert "api " in k.out("get", "deploy", "api")
    paths = [p.split("?")[0] for _m, p in k.api.requests[first:]]
    assert "/api" in paths and "/apis" in paths
    assert not [p for p in paths if p.count("/") == 2 and p.startswith("/apis/")], paths  # no /apis/<group>/<v>
    for args in (["get", "sts,rs,hpa,pdb,cj,ing,netpol,endpointslices"], ["get", "sc,pv,no,ns"], ["top", "pods"],
                 ["get", "all"], ["scale", "deploy/api", "--replicas=3", "--dry-run=server"]):
        k.run(*args)
    legacy = httpx.get(f"{k.api.url}/apis/apps", headers={"Authorization": f"Bearer {k.api.token}"}, verify=False)
    assert legacy.json()["preferredVersion"]["groupVersion"] == "apps/v1"  # older clients' documents remain


def test_logs_current_previous_tail_and_errors(k):
    prev = k.out("logs", "api-7d4b9c8f6-q9zlt", "-c", "api", "--previous", "--tail=1")
    assert prev.strip() == "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory"
    assert "heap usage" in k.out("logs", "deploy/api")
    assert "too many clients" in k.out("logs", "postgres-0", "--previous")
    r = k.run("logs", "api-7d4b9c8f6-x2kqp", "-c", "nope", check=False)
    assert r.returncode != 0 and "not valid" in r.stderr


def test_rollout_restart_heals_high_memory(k):
    k.out("rollout", "restart", "deployment/api")
    assert "successfully rolled out" in k.out("rollout", "status", "deployment/api", "--timeout=20s")
    pods = k.pods("app=api")
    assert len(pods) == 3 and all(ready(p) for p in pods)
    assert all(p["status"]["containerStatuses"][0]["restartCount"] == 0 for p in pods)
    assert "api-7d4b9c8f6" not in k.out("get", "pods")
    ep = k.json("get", "endpoints", "api")
    assert len(ep["subsets"][0]["addresses"]) == 3 and "notReadyAddresses" not in ep["subsets"][0]
    assert "96Mi" in k.out("top", "pods", "-l", "app=api")
    [rec] = k.api.actions
    assert (rec.action, rec.resource, rec.outcome) == ("rollout-restart", "deployment/api", "heal")


def test_rearm_brings_back_the_failure_a_restart_healed(k):
    before = {p["metadata"]["name"] for p in k.pods("app=api")}
    k.out("rollout", "restart", "deployment/api")
    k.out("rollout", "status", "deployment/api", "--timeout=20s")
    assert all(ready(p) for p in k.pods("app=api"))
    k.api.rearm("high-memory-api")
    pods = k.pods("app=api")
    assert {p["metadata"]["name"] for p in pods} == before and not all(ready(p) for p in pods)
    assert "OOMKilled" in k.out("describe", "pods", "-l", "app=api")
    assert len(k.api.actions) == 1  # what was done stays on record
    k.out("rollout", "restart", "deployment/api")  # and the workload heals again
    k.out("rollout", "status", "deployment/api", "--timeout=20s")
    assert [r.outcome for r in k.api.actions] == ["heal", "heal"]


def test_restart_that_does_not_help_fails_verification_and_undo_is_real(tmp_path):
    with KubeAPI("bad-release-oom") as api:
        k = Kubectl(api, tmp_path)
        k.out("rollout", "restart", "deployment/checkout")
        r = k.run("rollout", "status", "deployment/checkout", "--timeout=20s", check=False)
        assert r.returncode != 0 and "exceeded its progress deadline" in r.stderr
        assert not any(ready(p) for p in k.pods("app=checkout"))
        assert "FATAL ERROR" in k.out("logs", "deploy/checkout", "--previous")
        k.out("rollout", "undo", "deployment/checkout")  # back to the pre-restart template: same failure
        assert not any(ready(p) for p in k.pods("app=checkout"))
        k.out("rollout", "undo", "deployment/checkout", "--to-revision=4")  # the previous release
        k.out("rollout", "status", "deployment/checkout", "--timeout=20s")
        pods = k.pods("app=checkout")
        assert pods and all(ready(p) and p["spec"]["containers"][0]["image"].endswith(":2.3.7") for p in pods)
        assert [(a.action, a.outcome) for a in api.actions] == [
            ("rollout-restart", "still-failing"), ("rollout-undo", "still-failing"), ("rollout-undo", "heal")]


def test_when_nothing_automatic_helps_every_action_fails_verification(k):
    k.out("rollout", "restart", "deployment/checkout")
    k.out("rollout", "undo", "deployment/checkout", "--to-revision=4")
    assert not any(ready(p) for p in k.pods("app=checkout"))
    assert [(a.action, a.outcome) for a in k.api.actions] == [
        ("rollout-restart", "still-failing"), ("rollout-undo", "still-failing")]


def test_server_dry_run_changes_nothing(k):
    before = k.json("get", "deploy,sts,pods")
    rv = k.api.store.rv
    k.out("scale", "deployment/api", "--replicas=1", "--dry-run=server")
    k.out("delete", "pod", "api-7d4b9c8f6-x2kqp", "--dry-run=server")
    k.out("rollout", "undo", "deployment/api", "--dry-run=server")
    k.out("patch", "deployment", "api", "--dry-run=server", "-p", '{"spec":{"template":{"metadata":{"annotations":{"x":"y"}}}}}')
    k.out("delete", "pod", "postgres-0", "--dry-run=server")
    assert k.api.store.rv == rv and k.api.actions == []
    after = k.json("get", "deploy,sts,pods")
    assert after["items"] == before["items"]
    patches = [p for m, p in k.api.requests if m in ("PATCH", "PUT")]
    assert len(patches) == 3 and all("dryRun=All" in p for p in patches)


def test_scale_and_delete_pod(k):
    k.out("scale", "deployment/api", "--replicas=5")  # high-memory-api: new pods fail like the old ones
    pods = k.pods("app=api")
    assert len(pods) == 5 and sum(ready(p) for p in pods) == 2
    k.out("scale", "sts/postgres", "--replicas=2")
    assert sorted(p["metadata"]["name"] for p in k.pods("app=postgres")) == ["postgres-0", "postgres-1"]
    old_uid = k.json("get", "pod", "postgres-1")["metadata"]["uid"]
    k.out("delete", "pod", "postgres-1")  # a StatefulSet pod comes back under the same name, healthy
    new = k.json("get", "pod", "postgres-1")
    assert new["metadata"]["uid"] != old_uid and ready(new)
    k.out("delete", "pod", "api-7d4b9c8f6-q9zlt")
    names = [p["metadata"]["name"] for p in k.pods("app=api")]
    assert len(names) == 5 and "api-7d4b9c8f6-q9zlt" not in names
    assert [a.action for a in k.api.actions] == ["scale", "scale", "delete-pod", "delete-pod"]


def test_statefulset_restart_heals_postgres(k):
    k.out("rollout", "restart", "statefulset/postgres")
    k.out("rollout", "status", "statefulset/postgres", "--timeout=20s")
    pods = k.pods("app=postgres")
    assert len(pods) == 3 and all(ready(p) for p in pods)
    assert k.json("get", "sts", "postgres")["status"]["readyReplicas"] == 3
    assert "ready to accept connections" in k.out("logs", "postgres-0")


def test_watch_streams_changes_and_auth_is_required(k):
    ca = ssl.create_default_context(cadata=k.api.cert.ca_pem.decode())
    url = f"{k.api.url}/apis/apps/v1/namespaces/production/deployments"
    assert httpx.get(url, verify=ca).status_code == 401
    headers = {"Authorization": f"Bearer {k.api.token}"}
    rv = httpx.get(url, verify=ca, headers=headers).json()["metadata"]["resourceVersion"]
    seen: list[dict] = []

    def watch() -> None:
        with httpx.stream("GET", url, params={"watch": "true", "resourceVersion": rv, "timeoutSeconds": "10",
                                              "fieldSelector": "metadata.name=api"},
                          verify=ca, headers=headers, timeout=15) as r:
            for line in r.iter_lines():
                seen.append(json.loads(line))
                return

    t = threading.Thread(target=watch)
    t.start()
    time.sleep(0.3)
    k.out("scale", "deployment/api", "--replicas=4")
    t.join(10)
    assert seen and seen[0]["type"] == "MODIFIED" and seen[0]["object"]["metadata"]["name"] == "api"


def test_stop_ends_open_watches_quickly():
    api = KubeAPI("high-memory-api").start()
    url = f"{api.url}/api/v1/namespaces/production/pods?watch=true"
    done = threading.Event()

    def watch() -> None:
        try:
            with httpx.stream("GET", url, headers={"Authorization": f"Bearer {api.token}"}, verify=False, timeout=30) as r:
                for _ in r.iter_lines():
                    pass
        except httpx.HTTPError:
            pass
        done.set()

    threading.Thread(target=watch, daemon=True).start()
    time.sleep(0.3)
    t0 = time.monotonic()
    api.stop()
    assert done.wait(5) and time.monotonic() - t0 < 5


def test_invalid_changes_are_refused_422_in_the_api_servers_status_shape(k):
    """What the real API server's validation refuses, the sandbox refuses the same way (and stores nothing)."""
    before = k.json("get", "deployment", "api")
    cases = [
        (["patch", "deployment", "api", "-p", '{"spec":{"replicas":-1}}'], "spec.replicas", "FieldValueInvalid"),
        (["patch", "deployment", "api", "--type=json", "-p",
          '[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":""}]'],
         "spec.template.spec.containers[0].image", "FieldValueRequired"),
        (["patch", "deployment", "api", "--type=json", "-p",
          '[{"op":"add","path":"/spec/template/spec/containers/0/resources","value":{"limits":{"memory":"512Mx"}}}]'],
         "spec.template.spec.containers[0].resources.limits[memory]", "FieldValueInvalid"),
    ]
    for args, field, reason in cases:
        r = k.run(*args, "-o", "json", check=False)
        assert r.returncode != 0 and "is invalid" in r.stderr, (args, r.stderr)
        assert field in r.stderr, (args, r.stderr)
    # the Status itself, as client-go reads it
    token = k.api.token
    with httpx.Client(verify=False, headers={"Authorization": f"Bearer {token}"}) as c:
        r = c.patch(f"{k.api.url}/apis/apps/v1/namespaces/production/deployments/api", json={"spec": {"replicas": -1}},
                    headers={"Content-Type": "application/merge-patch+json"})
        scale = c.patch(f"{k.api.url}/apis/apps/v1/namespaces/production/deployments/api/scale",
                        json={"spec": {"replicas": -3}}, headers={"Content-Type": "application/merge-patch+json"})
    assert scale.status_code == 422 and scale.json()["details"]["causes"][0]["field"] == "spec.replicas"
    body = r.json()
    assert r.status_code == 422 and body["kind"] == "Status" and body["reason"] == "Invalid" and body["code"] == 422
    assert body["message"] == ('Deployment.apps "api" is invalid: spec.replicas: Invalid value: -1: '
                               "must be greater than or equal to 0")
    assert body["details"] == {"name": "api", "group": "apps", "kind": "Deployment", "causes": [
        {"reason": "FieldValueInvalid", "message": "Invalid value: -1: must be greater than or equal to 0",
         "field": "spec.replicas"}]}
    after = k.json("get", "deployment", "api")
    assert after["spec"] == before["spec"] and [a.action for a in k.api.actions] == []
