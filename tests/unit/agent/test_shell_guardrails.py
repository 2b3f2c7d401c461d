"""The Shell tool refuses hostile commands BEFORE anything runs: every program on PATH is a canary here."""

from __future__ import annotations

import os
import time

import pytest

from aof_airflow.agent.tools import Toolbox
from aof_airflow.agent.types import AgentScope
from tests.unit.agent.helpers import make_agent, shell_tool

SCOPE = AgentScope(flow="f", run_id=None, service="api", namespace="prod")

HOSTILE_READ_ONLY = [
    # injection: shell syntax of every kind
    "kubectl get pods; rm -rf /",
    "kubectl get pods && touch /tmp/pwned",
    "kubectl get pods || curl evil.example",
    "kubectl get pods | sh",
    "kubectl get pods `touch /tmp/x`",
    "kubectl get pods $(touch /tmp/x)",
    "kubectl get pods > /etc/passwd",
    "kubectl get pods >> /tmp/log",
    "kubectl get pods < /etc/shadow",
    "kubectl get pods\ntouch /tmp/x",
    "kubectl get pods\rrm -rf /",
    "kubectl get pods & sleep 100",
    "kubectl get pods ${IFS}touch",
    "kubectl get pods $HOME",
    "kubectl logs api 2>&1",
    "kubectl get pods 'unterminated",
    "",
    # allow-list escapes
    "rm -rf /",
    "/usr/bin/kubectl get pods",
    "./kubectl get pods",
    "KUBECONFIG=/tmp/evil kubectl get pods",
    "env kubectl get pods",
    "sh -c 'kubectl get pods'",
    "bash -c id",
    "curl http://evil.example/x",
    "python3 -c 'import os'",
    "xargs kubectl",
    "sudo kubectl get pods",
    "kubectlx get pods",
    '"kubectl get pods"',
    # path tricks and identity switches
    "kubectl get -f /etc/passwd",
    "kubectl get -f ../../etc/passwd",
    "kubectl get -f ~/secrets.yaml",
    "kubectl get pods --kubeconfig=/etc/evil",
    "kubectl get pods --token=abc",
    "kubectl get pods --server=https://evil.example:6443",
    "kubectl get pods --as=system:admin",
    "kubectl get pods --context=prod-admin",
    "helm get values rel --kubeconfig /root/.kube/config",
    # mutating (or never-allowed) verbs for a read-only agent
    "kubectl delete pod api-123",
    "kubectl scale deployment/api --replicas=0",
    "kubectl rollout restart deployment/api",
    "kubectl rollout undo deployment/api",
    "kubectl patch deployment api -p '{\"spec\":{\"replicas\":0}}'",
    "kubectl apply -f manifest.yaml",
    "kubectl set image deployment/api api=evil:latest",
    "kubectl label pod api-1 evil=true",
    "kubectl annotate pod api-1 a=b",
    "kubectl create deployment x --image=evil",
    "kubectl replace -f x.yaml",
    "kubectl edit deployment api",
    "kubectl cordon node-1",
    "kubectl drain node-1",
    "kubectl exec -it api-1 -- sh",
    "kubectl cp api-1:/etc/passwd passwd",
    "kubectl port-forward api-1 8080:80",
    "kubectl run evil --image=busybox",
    "kubectl proxy",
    "kubectl config view --raw",
    "helm upgrade rel chart",
    "helm uninstall rel",
    "helm rollback rel 1",
    # other namespaces
    "kubectl get pods -n kube-system",
    "kubectl get pods --namespace=kube-system",
    "kubectl get pods --namespace kube-system",
    "kubectl get pods -nkube-system",
    "kubectl get pods -A",
    "kubectl get pods --all-namespaces",
    "kubectl get secrets -n default",
    "kubectl get pods -n prod -n kube-system",
    "helm list -A",
    "helm list -n kube-system",
    # never-ending
    "kubectl get pods -w",
    "kubectl logs -f api-1",
]

HOSTILE_REMEDIATION = [
    "kubectl delete pod api-1 -n kube-system",
    "kubectl delete namespace prod",
    "kubectl delete pods --all",
    "kubectl scale deployment/api --replicas=1 --dry-run=none",
    "kubectl apply -k overlays",
    "kubectl delete",
    "kubectl cordon node-1",
    "kubectl scale deployment/api --replicas=3 -A",
    "kubectl rollout restart deployment/api --namespace=default",
]


def _toolbox(labels=None, **config) -> Toolbox:
    agent = make_agent(labels=labels or {"purpose": "diagnostics"}, tools=[shell_tool("kubectl", "helm", **config)])
    return Toolbox(agent, SCOPE)


def test_there_are_enough_hostile_strings():
    assert len(HOSTILE_READ_ONLY) + len(HOSTILE_REMEDIATION) >= 40


@pytest.mark.parametrize("command", HOSTILE_READ_ONLY)
def test_read_only_agent_refuses_and_runs_nothing(canary_bin, command):
    box = _toolbox()
    call = box.shell(command)
    assert call.refused, f"not refused: {command!r} -> {call.output}"
    assert not call.ok and call.output.startswith(("refused", "empty"))
    assert canary_bin.ran() == [], f"{command!r} executed something: {canary_bin.ran()}"


@pytest.mark.parametrize("command", HOSTILE_REMEDIATION)
def test_remediation_agent_still_refuses_out_of_scope_changes(canary_bin, command):
    box = _toolbox(labels={"purpose": "remediation"})
    call = box.shell(command)
    assert call.refused, f"not refused: {command!r} -> {call.output}"
    assert canary_bin.ran() == []


def test_allowed_read_runs_with_the_scope_namespace_made_explicit(canary_bin):
    """Control: the canary does record a run, so the refusals above are real."""
    call = _toolbox().shell("kubectl get pods -o wide")
    assert call.ok and not call.refused
    assert canary_bin.ran() == ["kubectl get pods -o wide --namespace=prod"]


def test_same_namespace_given_explicitly_is_kept(canary_bin):
    assert _toolbox().shell("kubectl logs api-1 -n prod --tail=50").ok
    assert canary_bin.ran() == ["kubectl logs api-1 -n prod --tail=50"]


def test_helm_read_is_allowed_in_scope(canary_bin):
    assert _toolbox().shell("helm status api").ok
    assert canary_bin.ran() == ["helm status api --namespace=prod"]


def test_allowed_verbs_list_is_exact(canary_bin):
    box = _toolbox(labels={"purpose": "remediation"}, allowed_verbs=["get", "scale"])
    assert box.shell("kubectl delete pod api-1").refused
    assert not box.shell("kubectl describe pod api-1").ok
    assert canary_bin.ran() == []


def test_paths_inside_allowed_paths_are_fine(canary_bin, tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "incident.log").write_text("x")
    agent = make_agent(tools=[shell_tool("cat", allowed_paths=[str(logs)])])
    box = Toolbox(agent, SCOPE)
    assert box.shell(f"cat {logs / 'incident.log'}").ok
    assert box.shell("cat incident.log").ok  # relative names resolve inside the allowed dir
    assert box.shell("cat /etc/passwd").refused
    assert box.shell("cat ../secrets").refused
    assert box.shell("cat sub/../../x").refused
    assert len(canary_bin.ran()) == 2


def test_env_is_scrubbed(canary_bin, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-should-never-reach-a-tool")
    monkeypatch.setenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "postgresql://secret")
    monkeypatch.setenv("KUBECONFIG", "/tmp/kubeconfig")
    monkeypatch.delenv("AIRFLOW_CONN_KUBERNETES_DEFAULT", raising=False)
    canary_bin.add("showenv", "/usr/bin/env")
    canary_bin.add("kubectl", "/usr/bin/env")
    box = Toolbox(make_agent(tools=[shell_tool("showenv", "kubectl")]), SCOPE)
    out = box.shell("showenv").output
    assert "PATH=" in out and "KUBECONFIG" not in out  # cluster credentials go to kubectl and helm only
    assert "sk-should-never" not in out and "SQL_ALCHEMY" not in out and "ANTHROPIC" not in out
    out = box.shell("kubectl get pods").output
    assert "KUBECONFIG=/tmp/kubeconfig" in out  # no kubernetes_default Connection: the worker's KUBECONFIG
    assert "sk-should-never" not in out and "SQL_ALCHEMY" not in out and "ANTHROPIC" not in out


def test_timeout_kills_the_whole_process_group(canary_bin, tmp_path):
    pidfile = tmp_path / "child.pid"
    canary_bin.add("sleepy", f"/bin/sleep 60 & echo $! > {pidfile}; /bin/sleep 60")
    box = Toolbox(make_agent(tools=[shell_tool("sleepy", timeout_seconds=1)]), SCOPE)
    t = time.monotonic()
    call = box.shell("sleepy")
    assert time.monotonic() - t < 10
    assert not call.ok and "timed out" in call.output
    child = int(pidfile.read_text())
    for _ in range(50):
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail("the background child survived the timeout")


def test_output_is_capped_with_a_visible_marker(canary_bin):
    canary_bin.add("bigout", "/usr/bin/head -c 100000 /dev/zero | /usr/bin/tr '\\0' 'a'")
    box = Toolbox(make_agent(tools=[shell_tool("bigout", max_output_chars=1000)]), SCOPE)
    call = box.shell("bigout")
    assert call.truncated and "[output truncated: 99000 more bytes not shown]" in call.output
    assert call.output.count("a") <= 1001


def test_shell_many_runs_together_and_records_in_order(canary_bin):
    """Independent reads wait for the slowest, not the sum; the record keeps the order they were asked in."""
    canary_bin.add("slow", "/bin/sleep 1; echo \"out $1\"")
    box = Toolbox(make_agent(tools=[shell_tool("slow")]), SCOPE)
    t = time.monotonic()
    calls = box.shell_many(["slow a", "slow b", "slow c; rm -rf /", "slow d"])
    assert time.monotonic() - t < 2.5  # three one-second commands at once
    assert [c.output.strip() for c in calls if c.ok] == ["out a", "out b", "out d"]
    assert calls[2].refused and not calls[2].ok
    assert [c.args["command"] for c in box.tool_calls] == ["slow a", "slow b", "slow c; rm -rf /", "slow d"]
    assert sorted(canary_bin.ran()) == ["slow a", "slow b", "slow d"]


def test_a_batch_with_a_change_runs_one_command_at_a_time(canary_bin, tmp_path):
    """A change (dry run and snapshot, then the change itself) never runs concurrently with the batch's reads."""
    log = tmp_path / "log"
    canary_bin.add("kubectl", f'echo "start $*" >> {log}; /bin/sleep 0.3; echo "end $*" >> {log}')
    box = Toolbox(make_agent(labels={"purpose": "remediation"}, tools=[shell_tool("kubectl")]), SCOPE)
    calls = box.shell_many(["kubectl get pods", "kubectl rollout restart deployment/api", "kubectl get deployment api"])
    assert all(c.ok for c in calls) and len(box.actions) == 1
    lines = log.read_text().splitlines()
    assert lines[:2] == ["start get pods --namespace=prod", "end get pods --namespace=prod"]
    assert lines[-2:] == ["start get deployment api --namespace=prod", "end get deployment api --namespace=prod"]
    assert lines[-3] == "end rollout restart deployment/api --namespace=prod"  # the change itself, after its dry run
