"""What the gatherer reads when the server does not serve a kind or refuses it: the rest is read, the gap is
listed as not examined (never as fine), and the diagnosis says how many kubectl calls it made."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

from aof_airflow.agent.rules.diagnose import diagnose
from aof_airflow.agent.rules.gather import Gatherer


@dataclass
class Call:
    ok: bool
    output: str
    refused: str | None = None
    truncated: bool = False


def dep() -> dict[str, Any]:
    return {"kind": "Deployment", "metadata": {"name": "api", "namespace": "shop", "uid": "d1"},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "api"}},
                     "template": {"metadata": {"labels": {"app": "api"}}, "spec": {"containers": [{"name": "api"}]}}},
            "status": {"replicas": 1, "readyReplicas": 1, "updatedReplicas": 1}}


def pod() -> dict[str, Any]:
    return {"kind": "Pod", "metadata": {"name": "api-1", "labels": {"app": "api"}},
            "spec": {"nodeName": "n1", "containers": [{"name": "api"}]},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
                       "containerStatuses": [{"name": "api", "ready": True, "restartCount": 0, "state": {"running": {}}}]}}


class Cluster:
    """A toolbox whose server serves no PodDisruptionBudgets and whose RBAC refuses nodes; thread-safe records."""

    def __init__(self) -> None:
        self.tool_calls: list[str] = []
        self.lock = threading.Lock()

    def shell(self, command: str) -> Call:
        with self.lock:
            self.tool_calls.append(command)
        words = command.split()
        what = words[2]
        if "poddisruptionbudgets" in what:
            return Call(False, '[exit code 1]\nerror: the server doesn\'t have a resource type "poddisruptionbudgets"')
        if what == "nodes":
            return Call(False, "", refused="cluster-scoped reads are not allowed for this agent")
        if what == "deployment":
            return Call(True, json.dumps(dep()))
        if what.startswith("pods"):
            return Call(True, json.dumps({"items": [pod()]}))
        if what in ("events",):
            return Call(True, "")
        if what in ("services", "endpoints", "horizontalpodautoscalers", "resourcequotas", "replicasets", "networkpolicies"):
            return Call(True, json.dumps({"items": []}))
        if words[1] == "logs":
            return Call(True, "2026-03-01T12:00:00Z listening on :8080")
        return Call(False, f"[exit code 1]\nunexpected {command}")


def test_a_kind_not_served_and_a_refused_read_are_not_examined() -> None:
    tb = Cluster()
    obs = Gatherer(tb, "shop").gather("deployment", "api")  # type: ignore[arg-type]
    assert obs.deployment is not None and [p["metadata"]["name"] for p in obs.pods] == ["api-1"]
    assert obs.pdbs is None and obs.hpas == [] and obs.quotas == [] and obs.services == []
    assert "doesn't have a resource type" in obs.not_read["poddisruptionbudgets"]
    assert obs.not_read["Nodes"].startswith("not read: cluster-scoped reads are not allowed")
    # the combined context read failed, so each kind was asked on its own
    assert any("," in c.split()[2] for c in tb.tool_calls) and "kubectl get endpoints -n shop -o jsonpath={@}" in tb.tool_calls
    d = diagnose(obs)
    gaps = " ".join(d.output["not_examined"])
    assert "poddisruptionbudgets" in gaps and "Nodes" in gaps and "metrics history" in gaps
    assert d.cls == "no-fault-found" and "not examined" in d.output["root_cause"]
    assert d.output["reads"]["kubectl_calls"] == len(tb.tool_calls) == len(obs.commands)


def test_a_prefetched_read_runs_once_and_every_call_is_counted() -> None:
    """A read started early is not run again by the round that asks for it; one no round asked for still ran,
    so it is counted too: the calls a diagnosis reports are the calls it made."""
    from aof_airflow.agent.rules.objects import Observation
    from aof_airflow.agent.rules.reads import Reader

    tb = Cluster()
    reader, obs = Reader(tb, "shop"), Observation(namespace="shop", kind="deployment", name="api")  # type: ignore[arg-type]
    early, unused = "kubectl get deployment api -n shop -o jsonpath={@}", "kubectl get services -n shop -o jsonpath={@}"
    reader.prefetch([early, unused])
    assert reader.peek(early).ok
    (call, other) = reader._round(obs, [early, "kubectl get endpoints -n shop -o jsonpath={@}"])
    assert json.loads(call.output)["kind"] == "Deployment" and other.ok
    reader.settle(obs)
    assert sorted(tb.tool_calls) == sorted(obs.commands) and len(tb.tool_calls) == 3 and tb.tool_calls.count(early) == 1


def test_a_cronjobs_jobs_and_a_daemonsets_own_events_are_kept(monkeypatch) -> None:
    """FailedCreate on a Job (its pod refused) or on a DaemonSet is the only sign when no pod exists."""
    from aof_airflow.agent.rules import reads
    from aof_airflow.agent.rules.objects import Observation

    def ev(kind: str, name: str, reason: str) -> dict[str, Any]:
        return {"involvedObject": {"kind": kind, "name": name}, "reason": reason, "type": "Warning", "message": "m"}

    rows = [ev("Job", "backup-1", "FailedCreate"), ev("Job", "backup-2", "DeadlineExceeded"),
            ev("DaemonSet", "agent", "FailedCreate"), ev("Job", "other-9", "FailedCreate")]
    monkeypatch.setattr(reads, "_rows", lambda call: list(rows))
    job = lambda n: {"metadata": {"name": n, "ownerReferences": [{"kind": "CronJob", "name": "backup"}]}}
    o = Observation(namespace="ops", kind="cronjob", name="backup", target={"metadata": {"name": "backup"}},
                    jobs=[job("backup-1"), job("backup-2")], job=job("backup-2"))
    Gatherer(None, "ops")._absorb_events(o, Call(True, ""))  # type: ignore[arg-type]
    assert [e["involvedObject"]["name"] for e in o.events] == ["backup-1", "backup-2"]
    o = Observation(namespace="ops", kind="daemonset", name="agent", daemonset={"metadata": {"name": "agent"}})
    Gatherer(None, "ops")._absorb_events(o, Call(True, ""))  # type: ignore[arg-type]
    assert [e["involvedObject"]["name"] for e in o.events] == ["agent"]
