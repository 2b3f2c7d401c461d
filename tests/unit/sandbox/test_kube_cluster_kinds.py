"""Cluster-scoped kinds the evaluation sets use (admission webhook configurations, IngressClass, PriorityClass)
are served with the columns a real API server prints, and init containers' logs are readable by name."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from aof_lab.sandbox.kube import KubeAPI
from aof_lab.sandbox.scenario import Scenario

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")

WEBHOOK = {"name": "pods.policy.example.com", "admissionReviewVersions": ["v1"], "sideEffects": "None", "failurePolicy": "Fail",
           "clientConfig": {"service": {"namespace": "policy", "name": "policy-webhook", "path": "/validate"}},
           "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["pods"]}]}
POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-0", "namespace": "kinds"},
       "spec": {"initContainers": [{"name": "wait", "image": "busybox:1.36"}], "containers": [{"name": "web", "image": "nginx:1.27"}]},
       "status": {"phase": "Pending"}}


def scenario() -> Scenario:
    return Scenario.model_validate({
        "name": "cluster-kinds", "description": "kinds", "sources": ["kubernetes docs"],
        "incident": {"id": "K1", "title": "t", "service": "s", "namespace": "kinds", "resource": "pod/web-0"},
        "expect": {"severity": "low", "actions": ["none"]},
        "objects": [
            {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration", "metadata": {"name": "policy"}, "webhooks": [WEBHOOK]},
            {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration", "metadata": {"name": "injector"}, "webhooks": [WEBHOOK, WEBHOOK]},
            {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": {"name": "nginx"}, "spec": {"controller": "k8s.io/ingress-nginx"}},
            {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "critical-agents"}, "value": 100000, "globalDefault": False},
            POD],
        "logs": {"kinds/web-0/wait": "waiting for db\nwaiting for db\n"},
    })


@pytest.fixture()
def kubectl(tmp_path):
    with KubeAPI(scenario()) as api:
        env = {**os.environ, "KUBECONFIG": str(api.kubeconfig(tmp_path / "kc", namespace="kinds")),
               "KUBECACHEDIR": str(tmp_path / "cache"), "HOME": str(tmp_path)}

        def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
            r = subprocess.run(["kubectl", *args], env=env, capture_output=True, text=True, timeout=60)
            assert (r.returncode == 0) == ok, f"kubectl {' '.join(args)}: {r.stdout}{r.stderr}"
            return r
        yield run


def test_cluster_scoped_kinds_print_real_columns(kubectl):
    vwc = kubectl("get", "validatingwebhookconfigurations").stdout.split("\n")
    assert vwc[0].split() == ["NAME", "WEBHOOKS", "AGE"] and vwc[1].split()[:2] == ["policy", "1"]
    assert kubectl("get", "mutatingwebhookconfiguration", "injector", "--no-headers").stdout.split()[:2] == ["injector", "2"]
    assert kubectl("get", "ingressclass", "--no-headers").stdout.split()[:3] == ["nginx", "k8s.io/ingress-nginx", "<none>"]
    assert kubectl("get", "pc", "--no-headers").stdout.split()[:3] == ["critical-agents", "100000", "false"]
    described = kubectl("describe", "validatingwebhookconfiguration", "policy").stdout
    assert "Failure Policy:  Fail" in described and "policy-webhook" in described


def test_init_container_logs_by_name_never_by_default(kubectl):
    assert kubectl("logs", "web-0", "-c", "wait").stdout == "waiting for db\nwaiting for db\n"
    assert kubectl("logs", "web-0").stdout == ""  # the app container: no logs recorded
    assert "is not valid for pod" in kubectl("logs", "web-0", "-c", "nope", ok=False).stderr


def test_log_timestamps_shift_in_rfc3339_and_klog_headers():
    from datetime import timedelta

    from aof_lab.sandbox.kube_store import shift_text
    text = ('2026-11-18T13:59:00.250Z INFO ready\nE1118 13:59:30.118201       1 reflector.go:158] forbidden\n'
            'msg="E1118 13:00:00.000000 inside a line is not a header"\n')
    got = shift_text(text, timedelta(days=19, hours=11, minutes=30))
    assert got.splitlines()[0] == "2026-12-08T01:29:00.250Z INFO ready"
    assert got.splitlines()[1].startswith("E1208 01:29:30.118201       1 reflector.go:158]")
    assert got.splitlines()[2] == text.splitlines()[2]


def test_log_timestamps_shift_in_nginx_error_and_access_logs():
    from datetime import timedelta

    from aof_lab.sandbox.kube_store import shift_text
    text = ('2026/12/06 08:37:00 [error] 20#20: *1 connect() failed (111: Connection refused) while connecting to upstream\n'
            '10.20.1.5 - - [06/Dec/2026:08:37:00 +0000] "GET /catalog HTTP/1.1" 502 157 "-" "curl/8.5"\n'
            'msg="2026/12/06 08:37:00 inside a line is not a header" [06/Dec/2026:08:37:00 -0500]\n')
    got = shift_text(text, timedelta(days=1, hours=16))
    assert got.splitlines()[0].startswith("2026/12/08 00:37:00 [error] 20#20:")
    assert got.splitlines()[1] == '10.20.1.5 - - [08/Dec/2026:00:37:00 +0000] "GET /catalog HTTP/1.1" 502 157 "-" "curl/8.5"'
    assert got.splitlines()[2] == text.splitlines()[2]
