"""The Shell tool's kubectl gets its cluster from the `kubernetes_default` Airflow Connection (read through the
cncf-kubernetes provider's KubernetesHook rule, legacy `extra__kubernetes__` names included), here defined the way a deployment does it, by the env var
AIRFLOW_CONN_KUBERNETES_DEFAULT, and pointing at the lab's sandbox Kubernetes API; the real kubectl talks to it.
Without the Connection the worker's KUBECONFIG still works."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
import yaml

from aof_airflow.agent.tools import Toolbox
from aof_airflow.agent.tools.kubeconfig import KubeConnectionError, kube_access
from aof_airflow.agent.types import AgentScope
from tests.harness import machine
from tests.unit.agent.helpers import make_agent, shell_tool

kube = pytest.importorskip("aof_lab.sandbox.kube", reason="the lab package (sandbox Kubernetes API) is not installed")
pytestmark = machine.skip_mark("kubectl")
SCOPE = AgentScope(flow="f", run_id="r", node_id="diagnose", namespace="production", resource="deployment/api")


@pytest.fixture
def api(tmp_path, monkeypatch):
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_KUBERNETES_DEFAULT", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.kube/config to fall back on
    server = kube.KubeAPI("high-memory-api").start()
    yield server
    server.stop()


def connection(monkeypatch, **extra: object) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_KUBERNETES_DEFAULT", json.dumps({"conn_type": "kubernetes", "extra": extra}))


def kubeconfig_text(api, tmp_path: Path, namespace: str = "default") -> str:
    return api.kubeconfig(tmp_path / "sandbox.kubeconfig", namespace=namespace).read_text()


def test_kubectl_reaches_the_cluster_of_the_connection_with_a_private_kubeconfig(api, tmp_path, monkeypatch):
    connection(monkeypatch, kube_config=kubeconfig_text(api, tmp_path))
    (tmp_path / "sandbox.kubeconfig").unlink()  # only the Connection knows the cluster now
    box = Toolbox(make_agent(tools=[shell_tool("kubectl")]), SCOPE)
    call = box.shell("kubectl get deployments")
    assert call.ok, call.output
    assert "api" in call.output
    assert ("GET", "/apis/apps/v1/namespaces/production/deployments?limit=500") in api.requests
    private = Path(box._kube.env["KUBECONFIG"])
    assert stat.S_IMODE(private.stat().st_mode) == 0o600 and stat.S_IMODE(private.parent.stat().st_mode) == 0o700
    assert "Connection 'kubernetes_default'" in box._kube.source
    box.close()
    assert not private.exists() and not private.parent.exists()  # removed with the task's toolbox


def test_without_a_connection_the_workers_kubeconfig_still_works(api, tmp_path, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(api.kubeconfig(tmp_path / "worker.kubeconfig")))
    with Toolbox(make_agent(tools=[shell_tool("kubectl")]), SCOPE) as box:
        call = box.shell("kubectl get pods")
        assert call.ok, call.output
        assert box._kube.env["KUBECONFIG"] == str(tmp_path / "worker.kubeconfig")


def test_a_connection_beats_the_workers_kubeconfig(api, tmp_path, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", "/nonexistent/worker.kubeconfig")
    connection(monkeypatch, kube_config_path=str(api.kubeconfig(tmp_path / "conn.kubeconfig")))
    with Toolbox(make_agent(tools=[shell_tool("kubectl")]), SCOPE) as box:
        assert box.shell("kubectl get pods").ok
        assert box._kube.env["KUBECONFIG"] == str(tmp_path / "conn.kubeconfig")


def test_legacy_prefixed_extras_are_read_as_the_provider_reads_them(api, tmp_path, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", "/nonexistent/worker.kubeconfig")
    connection(monkeypatch, extra__kubernetes__kube_config_path=str(api.kubeconfig(tmp_path / "old.kubeconfig")))
    with Toolbox(make_agent(tools=[shell_tool("kubectl")]), SCOPE) as box:
        assert box.shell("kubectl get pods").ok
        assert box._kube.env["KUBECONFIG"] == str(tmp_path / "old.kubeconfig")


def test_reading_the_connection_does_not_import_the_kubernetes_client(api, tmp_path, monkeypatch):
    """The provider's hook imports the kubernetes client (~1 s of every Agent task); its extras rule is enough."""
    import sys

    connection(monkeypatch, kube_config_path=str(api.kubeconfig(tmp_path / "conn.kubeconfig")))
    monkeypatch.setitem(sys.modules, "airflow.providers.cncf.kubernetes.hooks.kubernetes", None)  # import fails
    assert kube_access().env["KUBECONFIG"] == str(tmp_path / "conn.kubeconfig")


def test_cluster_context_and_namespace_of_the_connection_are_applied(api, tmp_path, monkeypatch):
    doc = yaml.safe_load(kubeconfig_text(api, tmp_path))
    doc["contexts"].append({"name": "elsewhere", "context": {"cluster": "nowhere", "user": "nobody"}})
    doc["current-context"] = "elsewhere"
    connection(monkeypatch, kube_config=yaml.safe_dump(doc), cluster_context="aof-sandbox", namespace="production")
    access = kube_access()
    try:
        written = yaml.safe_load(Path(access.env["KUBECONFIG"]).read_text())
        assert written["current-context"] == "aof-sandbox"
        ctx = next(c for c in written["contexts"] if c["name"] == "aof-sandbox")["context"]
        assert ctx["namespace"] == "production"
        # a scope with no namespace: kubectl uses the Connection's
        box = Toolbox(make_agent(tools=[shell_tool("kubectl")]), AgentScope(flow="f", run_id="r"))
        assert box.shell("kubectl get deployments").ok
        assert ("GET", "/apis/apps/v1/namespaces/production/deployments?limit=500") in api.requests
        box.close()
    finally:
        access.close()


@pytest.mark.parametrize(("extra", "message"), [
    ({"kube_config": "clusters: []", "in_cluster": True}, "kube_config, in_cluster are mutually exclusive"),
    ({"kube_config": "{not yaml"}, "kube_config is not YAML"),
    ({"kube_config": "just: a mapping"}, "kube_config is not a kubeconfig"),
    ({"kube_config_path": "/nonexistent/config", "namespace": "x"}, "kube_config_path /nonexistent/config"),
])
def test_a_connection_that_cannot_give_a_kubeconfig_says_why(api, monkeypatch, extra, message):
    connection(monkeypatch, **extra)
    with pytest.raises(KubeConnectionError, match=message):
        kube_access()
    box = Toolbox(make_agent(tools=[shell_tool("kubectl")]), SCOPE)
    call = box.shell("kubectl get pods")
    assert not call.ok and "not run, no cluster credentials" in call.output and message.split()[0] in call.output
    assert api.requests == []
