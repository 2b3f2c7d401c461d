"""Every precondition and contraindication of the action table (aof_airflow/agent/rules/actions.py), each on a
minimal hand-built object set, and each shown to matter: on a base where the change is proven, one edit makes
exactly that check fail (or fire) and the change is no longer proven; with that check deleted from a copy of the
table, the same objects prove the change again. A check the decision did not depend on would fail here."""

from __future__ import annotations

import copy
from typing import Any, Callable

import pytest

from aof_airflow.agent.rules import actions as ax
from aof_airflow.agent.rules import facts as F
from aof_airflow.agent.rules.objects import Observation
from aof_airflow.services.metrics_history import WorkloadHistory

NS = "shop"
NOW = "2026-03-01T12:00:00Z"


def at(hours_ago: float) -> str:
    from datetime import datetime, timedelta, timezone

    t = datetime(2026, 3, 1, 12, tzinfo=timezone.utc) - timedelta(hours=hours_ago)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def container(image: str = "shop/api:2", *, cpu: str = "1", probe_port: int = 8080, env: list | None = None) -> dict[str, Any]:
    return {"name": "api", "image": image, "ports": [{"containerPort": 8080, "name": "http"}],
            "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"cpu": cpu, "memory": "512Mi"}},
            "readinessProbe": {"httpGet": {"path": "/ready", "port": probe_port}}, **({"env": env} if env else {})}


def template(image: str = "shop/api:2", **kw: Any) -> dict[str, Any]:
    return {"metadata": {"labels": {"app": "api"}}, "spec": {"containers": [container(image, **kw)]}}


def deployment(replicas: int = 2, *, ready: int = 2, last_applied: int | None = None, rolling: bool = False) -> dict[str, Any]:
    ann = {"deployment.kubernetes.io/revision": "2"}
    if last_applied is not None:
        ann["kubectl.kubernetes.io/last-applied-configuration"] = '{"spec":{"replicas":%d}}' % last_applied
    prog = ("True", "ReplicaSetUpdated") if rolling else ("True", "NewReplicaSetAvailable")
    return {"kind": "Deployment", "metadata": {"name": "api", "namespace": NS, "annotations": ann, "uid": "d1"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "api"}}, "template": template()},
            "status": {"replicas": replicas, "updatedReplicas": replicas - (1 if rolling else 0), "readyReplicas": ready,
                       "conditions": [{"type": "Progressing", "status": prog[0], "reason": prog[1]}]}}


def replicaset(name: str, revision: int, tmpl: dict[str, Any], *, created: str, ready: int) -> dict[str, Any]:
    return {"kind": "ReplicaSet",
            "metadata": {"name": name, "namespace": NS, "creationTimestamp": created,
                         "annotations": {"deployment.kubernetes.io/revision": str(revision)},
                         "ownerReferences": [{"kind": "Deployment", "name": "api", "uid": "d1", "controller": True}]},
            "spec": {"template": tmpl}, "status": {"readyReplicas": ready}}


def controller_revision(name: str, revision: int, tmpl: dict[str, Any], *, created: str, owner: str = "api",
                        kind: str = "StatefulSet") -> dict[str, Any]:
    """A ControllerRevision as the API serves it: the template as a `$patch: replace` patch in `.data`."""
    return {"kind": "ControllerRevision",
            "metadata": {"name": name, "namespace": NS, "creationTimestamp": created,
                         "labels": {"app": "api", "controller-revision-hash": name},
                         "ownerReferences": [{"kind": kind, "name": owner, "controller": True}]},
            "revision": revision, "data": {"spec": {"template": {**tmpl, "$patch": "replace"}}}}


def pod(name: str, owner: str | None = "api-new", *, ready: bool = True, restarts: int = 0, last: dict | None = None,
        waiting: str | None = None, node: str = "n1", phase: str = "Running", started: str | None = None,
        spec: dict | None = None, **meta: Any) -> dict[str, Any]:
    state = {"waiting": {"reason": waiting}} if waiting else {"running": {"startedAt": started or at(0.1)}}
    cs = {"name": "api", "ready": ready and not waiting, "restartCount": restarts, "state": state,
          "lastState": {"terminated": last} if last else {}}
    return {"kind": "Pod",
            "metadata": {"name": name, "namespace": NS, "labels": {"app": "api"}, "creationTimestamp": at(3),
                         "ownerReferences": [{"kind": "ReplicaSet", "name": owner, "controller": True}] if owner else [], **meta},
            "spec": {"nodeName": node, **(spec or template()["spec"])},
            "status": {"phase": phase, "containerStatuses": [cs],
                       "conditions": [{"type": "Ready", "status": "True" if ready and not waiting else "False",
                                       "lastTransitionTime": at(0.05)}]}}


def node(name: str = "n1", *, ready: bool = True, taint: bool = False) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": {}},
            "spec": {"taints": [{"key": "dedicated", "value": "db", "effect": "NoSchedule"}] if taint else []},
            "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "Unknown", "reason": "NodeStatusUnknown"}],
                       "allocatable": {"cpu": "4"}}}


def event(obj: str, reason: str, message: str, kind: str = "Pod", when: str | None = None) -> dict[str, Any]:
    return {"involvedObject": {"kind": kind, "name": obj}, "reason": reason, "type": "Warning", "message": message,
            "count": 3, "lastTimestamp": when or NOW}


def oom(hours: float) -> dict[str, Any]:
    return {"reason": "OOMKilled", "exitCode": 137, "startedAt": at(1 + hours), "finishedAt": at(1)}


def obs(**kw: Any) -> Observation:
    o = Observation(namespace=NS, kind="deployment", name="api", hpas=[], pdbs=[], quotas=[], services=[],
                    nodes=[node()], events=[dict(event("api-x", "Pulled", "pulled", when=NOW), type="Normal")])
    for k, v in kw.items():
        setattr(o, k, v)
    return o


# ---------------------------------------------------------------------------------------------- base cases
def restart_base() -> Observation:
    """A leak: both pods OOMKilled after hours of growth, healthy in between; nothing else wrong."""
    d = deployment()
    return obs(deployment=d, target=d, pods=[pod("api-1", restarts=3, last=oom(3)), pod("api-2", restarts=2, last=oom(2.5))])


def undo_base() -> Observation:
    """Revision 2 (new image, 30 min old, rollout in progress) crashes; revision 1 was live for two days."""
    d = deployment(ready=1, rolling=True)
    new = replicaset("api-new", 2, template("shop/api:2"), created=at(0.5), ready=0)
    old = replicaset("api-old", 1, template("shop/api:1"), created=at(48.5), ready=1)
    crash = {"reason": "Error", "exitCode": 1, "startedAt": at(0.02), "finishedAt": at(0.019)}
    return obs(deployment=d, target=d, replicasets=[new, old],
               pods=[pod("api-new-1", waiting="CrashLoopBackOff", restarts=5, last=crash), pod("api-old-1", owner="api-old")])


def scale_base() -> Observation:
    """Scaled to 0 while its applied configuration asks for 3; room on a Ready node; no HPA."""
    d = deployment(replicas=0, ready=0, last_applied=3)
    return obs(deployment=d, target=d, pods=[])


def delete_base() -> Observation:
    """One pod Terminating ten minutes past its 30 s grace period; its ReplicaSet recreates it."""
    d = deployment()
    stuck = pod("api-1", ready=False, deletionTimestamp=at(10 / 60), deletionGracePeriodSeconds=30)
    return obs(deployment=d, target=d, pods=[stuck, pod("api-2")])


BASES: dict[str, Callable[[], Observation]] = {"rollout-restart": restart_base, "rollout-undo": undo_base,
                                               "scale": scale_base, "delete-pod": delete_base}


# ---------------------------------------------------------------------------------------------- one edit per check
def no_controller(o: Observation) -> None:
    o.deployment = o.target = None
    for p in o.pods:
        p["metadata"]["ownerReferences"] = []


def never_ran_healthily(o: Observation) -> None:
    """Stalled from the start (probe timeouts, lock waits), never ready, never finished a run."""
    o.pods = [pod("api-1", ready=False), pod("api-2", ready=False)]
    o.events += [event("api-1", "Unhealthy", "Readiness probe failed: context deadline exceeded")]
    o.logs = {"api-1/api": "ERROR lock wait timeout exceeded; try restarting transaction"}


def no_growth_no_stall(o: Observation) -> None:
    """Ran ready for hours; nothing grows with uptime, nothing stalls, no dependency came back."""
    o.pods = [pod("api-1", started=at(5)), pod("api-2", started=at(5))]


def stateful(o: Observation) -> None:
    o.statefulset, o.deployment = dict(o.deployment, kind="StatefulSet"), None


def admission(o: Observation) -> None:
    o.events += [event("api-new", "FailedCreate", 'Error creating: admission webhook "policy.example.com" denied the request',
                       kind="ReplicaSet")]


def quota(o: Observation) -> None:
    o.quotas = [{"metadata": {"name": "compute"}, "status": {"hard": {"pods": "4"}, "used": {"pods": "4"}}}]


def scheduling(o: Observation) -> None:
    o.pods = o.pods + [pod("api-9", ready=False, phase="Pending")]
    o.events += [event("api-9", "FailedScheduling", "0/1 nodes are available: 1 Insufficient cpu.")]


def config(o: Observation) -> None:
    o.pods = o.pods + [pod("api-8", waiting="CreateContainerConfigError")]


def saturated(o: Observation) -> None:
    o.cpu_usage = {p["metadata"]["name"]: 995 for p in o.pods}
    if not o.pods:
        o.history = WorkloadHistory(examined=True, cpu="saturated", load="unknown", evidence=("cpu 99% of limit",))


def limit_too_low(o: Observation) -> None:
    o.history = WorkloadHistory(examined=True, memory="flat-near-limit", evidence=("510Mi of 512Mi from start",))


def limit_too_low_snapshot(o: Observation) -> None:
    o.pods = o.pods + [pod("api-7", ready=False, restarts=4, last=oom(30 / 3600))]


def jvm_heap_at_limit(o: Observation) -> None:
    """The JVM's -Xmx equals the 512Mi memory limit: killed under load after any uptime, a new process too."""
    for p in o.pods:
        p["spec"]["containers"][0]["env"] = [{"name": "JAVA_TOOL_OPTIONS", "value": "-Xms512m -Xmx512m -XX:+UseG1GC"}]


def probe_wrong(o: Observation) -> None:
    for p in o.pods:
        p["spec"]["containers"][0]["readinessProbe"]["httpGet"]["port"] = 9090


def node_lost(o: Observation) -> None:
    o.nodes = [node(ready=False)]


def forbidden(o: Observation) -> None:
    o.logs = {"api-1/api": 'forbidden: User "system:serviceaccount:shop:api" cannot list resource "pods"'}


def dependency_still_down(o: Observation) -> None:
    """The crash log names service/db, which has no ready endpoint."""
    o.services = [{"metadata": {"name": "db"}, "spec": {"selector": {"app": "db"}}}]
    o.endpoints_of = {"db": {"subsets": []}}
    o.logs = {"api-1/api/previous": "Error: connect ECONNREFUSED db:5432"}


def same_pods(o: Observation) -> None:
    o.replicasets[1]["spec"]["template"] = copy.deepcopy(o.replicasets[0]["spec"]["template"])
    o.replicasets[1]["spec"]["template"]["metadata"]["annotations"] = {"kubectl.kubernetes.io/restartedAt": at(49)}


def old_release(o: Observation) -> None:
    o.replicasets[0]["metadata"]["creationTimestamp"] = at(30)
    o.deployment["status"].update(updatedReplicas=2, replicas=2)
    o.deployment["status"]["conditions"][0]["reason"] = "NewReplicaSetAvailable"
    o.pods = [p for p in o.pods if p["metadata"]["name"] != "api-old-1"]


def previous_short_lived(o: Observation) -> None:
    o.replicasets[1]["metadata"]["creationTimestamp"] = at(0.7)
    o.replicasets[1]["status"]["readyReplicas"] = 0


def no_room(o: Observation) -> None:
    o.nodes = [node(taint=True)]
    for rs in o.replicasets:
        rs["status"]["readyReplicas"] = 0


def scheduling_same_template(o: Observation) -> None:
    scheduling(o)


def missing_config_both(o: Observation) -> None:
    ref = [{"name": "KEY", "valueFrom": {"secretKeyRef": {"name": "api-keys", "key": "k"}}}]
    for rs in o.replicasets:
        rs["spec"]["template"]["spec"]["containers"][0]["env"] = ref
    o.replicasets[1]["status"]["readyReplicas"] = 0
    o.secrets = {"api-keys": False}
    o.pods = o.pods + [pod("api-new-2", waiting="CreateContainerConfigError")]


def missing_key_both(o: Observation) -> None:
    """The Secret exists but lost the key both revisions read (a key rename): the previous revision's pods fail too."""
    ref = [{"name": "KEY", "valueFrom": {"secretKeyRef": {"name": "api-keys", "key": "db-password"}}}]
    for rs in o.replicasets:
        rs["spec"]["template"]["spec"]["containers"][0]["env"] = ref
    o.replicasets[1]["status"]["readyReplicas"] = 0
    o.secrets = {"api-keys": True}
    broken = pod("api-new-2", waiting="CreateContainerConfigError")
    broken["status"]["containerStatuses"][0]["state"]["waiting"]["message"] = \
        "couldn't find key db-password in Secret shop/api-keys"
    o.pods = o.pods + [broken]


def undo_saturated(o: Observation) -> None:
    o.cpu_usage = {p["metadata"]["name"]: 999 for p in o.pods}
    for p in o.pods:
        p["status"]["containerStatuses"][0]["state"] = {"running": {"startedAt": at(0.1)}}


def undo_node_lost(o: Observation) -> None:
    o.nodes = [node(ready=False), node("n2")]


def undo_refused(o: Observation) -> None:
    admission(o)
    o.replicasets[1]["status"]["readyReplicas"] = 0
    o.nodes = [node(), node("n2")]


def registry_refuses_both(o: Observation) -> None:
    """The new image is refused by the registry the previous image comes from too (its new CA is not trusted)."""
    for rs, tag in zip(o.replicasets, ("2", "1")):
        rs["spec"]["template"]["spec"]["containers"][0]["image"] = f"registry.shop.example:5000/api:{tag}"
    p = o.pods[0]["status"]["containerStatuses"][0]
    p["image"] = "registry.shop.example:5000/api:2"
    p["state"] = {"waiting": {"reason": "ErrImagePull", "message": 'failed to pull and unpack image '
                  '"registry.shop.example:5000/api:2": failed to resolve reference: tls: failed to verify certificate: '
                  'x509: certificate signed by unknown authority'}}
    p["lastState"] = {}


def waits_on_lock(o: Observation) -> None:
    """The new pods' migration waits for a lock another process holds."""
    o.logs = {"api-new-1/api/previous": "INFO migrating schema\nWaiting for changelog lock....\n"}


def test_an_undo_still_heals_a_reference_the_registry_does_not_know_or_a_registry_only_the_new_revision_uses() -> None:
    o = undo_base()
    registry_refuses_both(o)
    p = o.pods[0]["status"]["containerStatuses"][0]["state"]["waiting"]
    p["message"] = 'failed to resolve reference "registry.shop.example:5000/api:2": registry.shop.example:5000/api:2: not found'
    assert ax.verdict("rollout-undo", o).proven
    o = undo_base()
    registry_refuses_both(o)
    o.replicasets[1]["spec"]["template"]["spec"]["containers"][0]["image"] = "shop/api:1"  # Docker Hub before
    assert ax.verdict("rollout-undo", o).proven


def scale_no_controller(o: Observation) -> None:
    o.daemonset, o.deployment = dict(o.deployment, kind="DaemonSet"), None


def capacity_present(o: Observation) -> None:
    o.deployment["spec"]["replicas"] = 3


def hpa(o: Observation) -> None:
    o.hpas = [{"metadata": {"name": "api"}, "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "api"}}}]


def tainted(o: Observation) -> None:
    o.nodes = [node(taint=True)]


def hot_loop(o: Observation) -> None:
    o.history = WorkloadHistory(examined=True, cpu="saturated", load="steady", evidence=("cpu 99%", "requests flat"))


def not_stuck(o: Observation) -> None:
    """Deleted five seconds ago, still within its grace period, and Ready until then."""
    o.pods[0] = pod("api-1", deletionTimestamp=at(5 / 3600), deletionGracePeriodSeconds=30)


def evictions_recur(o: Observation) -> None:
    """Earlier pods evicted for their own ephemeral storage over their limit: a new one fills it again."""
    for n in ("api-old1",):
        p = pod(n, ready=False)
        p["status"].update(phase="Failed", reason="Evicted",
                           message="Pod ephemeral local storage usage exceeds the total limit of containers 2Gi.")
        o.pods.append(p)


def test_a_nodes_pressure_does_not_forbid_clearing_evicted_leftovers() -> None:
    o = delete_base()
    p = pod("api-old1", ready=False)
    p["status"].update(phase="Failed", reason="Evicted", message="The node was low on resource: ephemeral-storage. "
                       "Container api was using 14Gi, which exceeds its request of 0.")
    o.pods.append(p)
    assert F.recurring_evictions(o) is None


def budget_forbids(o: Observation) -> None:
    """The pod to delete is Ready (its kubelet still reports it) and a budget over it allows no disruption."""
    o.pods[0]["status"]["conditions"][0]["status"] = "True"
    o.pdbs = [{"metadata": {"name": "api"}, "spec": {"selector": {"matchLabels": {"app": "api"}}},
               "status": {"disruptionsAllowed": 0}}]


def slots_full(o: Observation) -> None:
    """The database the pods use refuses new connections: every slot is taken."""
    o.logs = {"api-1/api": "ERROR pool: failed to open connection: pq: sorry, too many clients already"}


def bare(o: Observation) -> None:
    o.pods[0]["metadata"]["ownerReferences"] = []


def stateful_release(o: Observation) -> None:
    """undo_base as a StatefulSet: the same two revisions as ControllerRevisions, the pods labelled with theirs."""
    stateful(o)
    o.replicasets = []
    o.controllerrevisions = [controller_revision("api-new", 2, template("shop/api:2"), created=at(0.5)),
                             controller_revision("api-old", 1, template("shop/api:1"), created=at(48.5))]
    for p in o.pods:
        rev = p["metadata"]["ownerReferences"][0]["name"]
        p["metadata"]["labels"]["controller-revision-hash"] = rev
        p["metadata"]["ownerReferences"] = [{"kind": "StatefulSet", "name": "api", "controller": True}]


def stateful_lost(o: Observation) -> None:
    stateful(o)
    o.pods[0]["spec"]["nodeName"] = "n2"
    o.nodes = [node(), node("n2", ready=False)]


CASES: list[tuple[str, str, Callable[[Observation], None]]] = [
    ("rollout-restart", "has-controller", no_controller),
    ("rollout-restart", "ran-healthily-before", never_ran_healthily),
    ("rollout-restart", "grows-with-uptime-or-stalled", no_growth_no_stall),
    ("rollout-restart", "no-state-at-stake", stateful),
    ("rollout-restart", "admission-refuses-pods", admission),
    ("rollout-restart", "quota-full", quota),
    ("rollout-restart", "scheduling-fails", scheduling),
    ("rollout-restart", "config-error", config),
    ("rollout-restart", "saturation", saturated),
    ("rollout-restart", "limit-too-low", limit_too_low),
    ("rollout-restart", "probe-misconfigured", probe_wrong),
    ("rollout-restart", "node-not-ready", node_lost),
    ("rollout-restart", "permission-refused", forbidden),
    ("rollout-restart", "dependency-down", dependency_still_down),
    ("rollout-restart", "dependency-slots-full", slots_full),
    ("rollout-undo", "pod-spec-changed", same_pods),
    ("rollout-undo", "failures-began-with-new-pods", old_release),
    ("rollout-undo", "previous-revision-healthy", previous_short_lived),
    ("rollout-undo", "pods-admitted-and-scheduled", no_room),
    ("rollout-undo", "admission-refuses-pods", undo_refused),
    ("rollout-undo", "scheduling-fails", scheduling_same_template),
    ("rollout-undo", "config-error-not-from-revision", missing_config_both),
    ("rollout-undo", "config-error-not-from-revision", missing_key_both),
    ("rollout-undo", "saturation-not-from-revision", undo_saturated),
    ("rollout-undo", "node-not-ready", undo_node_lost),
    ("rollout-undo", "failure-outside-revision", registry_refuses_both),
    ("rollout-undo", "failure-outside-revision", waits_on_lock),
    ("rollout-undo", "no-state-at-stake", stateful_release),
    ("scale", "has-controller", scale_no_controller),
    ("scale", "capacity-missing", capacity_present),
    ("scale", "no-autoscaler", hpa),
    ("scale", "room-on-nodes", tainted),
    ("scale", "hot-loop", hot_loop),
    ("scale", "admission-refuses-pods", admission),
    ("scale", "quota-full", quota),
    ("scale", "scheduling-fails", scheduling),
    ("scale", "dependency-slots-full", slots_full),
    ("delete-pod", "pod-stuck", not_stuck),
    ("delete-pod", "controller-recreates", bare),
    ("delete-pod", "budgets-allow", budget_forbids),
    ("delete-pod", "dependency-slots-full", slots_full),
    ("delete-pod", "at-most-one-writer", stateful_lost),
    ("delete-pod", "scheduling-fails", scheduling),
    ("delete-pod", "config-error", config),
    ("delete-pod", "limit-too-low", limit_too_low_snapshot),
    ("delete-pod", "probe-misconfigured", probe_wrong),
    ("delete-pod", "evictions-recur", evictions_recur),
    ("rollout-restart", "jvm-heap-fills-limit", jvm_heap_at_limit),
    ("delete-pod", "jvm-heap-fills-limit", jvm_heap_at_limit),
]


def without(action: str, check: str) -> dict[str, ax.ActionRule]:
    """A copy of the table with one check of one action deleted."""
    table = dict(ax.TABLE)
    rule = table[action]
    table[action] = ax.ActionRule(action, tuple(c for c in rule.preconditions if c.name != check),
                                  tuple(c for c in rule.contraindications if c.name != check))
    assert table[action] != rule, f"{action} has no check {check}"
    return table


def test_every_check_of_the_table_has_a_case() -> None:
    named = {(a, c.name) for a, r in ax.TABLE.items() for c in r.preconditions + r.contraindications}
    assert named == {(a, c) for a, c, _ in CASES}
    assert all(c.reason for r in ax.TABLE.values() for c in r.preconditions + r.contraindications)


@pytest.mark.parametrize("action", sorted(BASES))
def test_each_base_proves_its_change(action: str) -> None:
    o = BASES[action]()
    v = ax.verdict(action, o)
    assert v.proven, v.summary()
    d = ax.decide(o, action)
    assert d.action == action and d.proven and d.command, d.why


@pytest.mark.parametrize("action,check,edit", CASES, ids=[f"{a}:{c}" for a, c, _ in CASES])
def test_the_decision_depends_on_the_check(action: str, check: str, edit: Callable[[Observation], None]) -> None:
    o = BASES[action]()
    edit(o)
    v = ax.verdict(action, o)
    failing = [n for n, _ in v.unproven + v.refuted + v.contra]
    assert failing == [check], f"the edit should fail only {check}: {v.summary()}"
    assert not v.proven
    assert ax.verdict(action, o, without(action, check)).proven, "with the check deleted the change is proven again"


def test_a_pod_past_its_grace_period_is_deleted_with_force_an_evicted_one_plainly() -> None:
    d = ax.decide(delete_base(), "delete-pod")
    assert d.command == "kubectl delete pod api-1 -n shop --grace-period=0 --force"
    o = delete_base()
    o.pods[0] = pod("api-1", ready=False, phase="Failed")
    o.pods[0]["status"]["reason"] = "Evicted"
    assert ax.decide(o, "delete-pod").command == "kubectl delete pod api-1 -n shop"
    from aof_airflow.agent.rules.remediate import classify

    assert classify(d.command) == ("delete-pod", {"pods": ["api-1"], "force": True})  # the remediation keeps --force


def test_contraindicated_changes_are_not_proposed_even_behind_approval() -> None:
    o = restart_base()
    admission(o)
    d = ax.decide(o, "rollout-restart")
    assert d.action == "none" and "admission-refuses-pods" in d.why
    o = restart_base()
    no_growth_no_stall(o)  # unproven, nothing forbids it: proposed, behind approval
    d = ax.decide(o, "rollout-restart")
    assert d.action == "rollout-restart" and not d.proven


def test_the_guard_on_a_models_change_uses_the_same_table(monkeypatch) -> None:
    """A model's delete of the stuck pod is supported; of a healthy sibling, or a restart the table does not prove,
    it is not -- whatever the model's confidence (aof_airflow/agent/action_guard.py over these objects)."""
    from aof_airflow.agent import action_guard
    from aof_airflow.agent.rules.engine import RulesEngine
    from aof_airflow.agent.types import AgentScope

    monkeypatch.setattr(RulesEngine, "diagnose", lambda self, tb, ns, kind, name: (delete_base(), None))
    scope = AgentScope(namespace=NS, resource="deployment/api")
    assert action_guard.unsupported("delete-pod", None, scope, {"pods": ["api-1"]}) is None
    assert "not the stuck" in action_guard.unsupported("delete-pod", None, scope, {"pods": ["api-2"]})
    assert action_guard.unsupported("rollout-restart", None, scope).startswith("rollout-restart not proven")


def test_saturation_that_began_with_the_newest_revision_does_not_forbid_its_undo() -> None:
    """Every pod at its limit is the newest revision's (30 min old, new image; the previous one served two days):
    the release is the suspect. The same saturation in the previous revision's pods still forbids the undo."""
    o = undo_base()
    o.pods = [pod("api-new-1", started=at(0.4)), pod("api-new-2", started=at(0.4))]
    o.cpu_usage = {"api-new-1": 999, "api-new-2": 998}
    v = ax.verdict("rollout-undo", o)
    assert "saturation-not-from-revision" not in [n for n, _ in v.contra], v.summary()
    o.pods = [pod("api-old-1", owner="api-old", started=at(40)), pod("api-old-2", owner="api-old", started=at(40))]
    o.cpu_usage = {"api-old-1": 999, "api-old-2": 998}
    assert "saturation-not-from-revision" in [n for n, _ in ax.verdict("rollout-undo", o).contra]


def test_a_placement_the_newest_revision_added_does_not_forbid_its_undo() -> None:
    """Pending pods that no node fits, and the newest revision added a topology spread constraint: the undo brings
    back the placement that fit (with the constraint in both revisions it stays forbidden)."""
    o = undo_base()
    scheduling_same_template(o)
    spread = [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule"}]
    o.replicasets[0]["spec"]["template"]["spec"]["topologySpreadConstraints"] = spread
    v = ax.verdict("rollout-undo", o)
    assert "scheduling-fails" not in dict(v.contra), v.summary()
    o.replicasets[1]["spec"]["template"]["spec"]["topologySpreadConstraints"] = spread
    assert "scheduling-fails" in dict(ax.verdict("rollout-undo", o).contra)
