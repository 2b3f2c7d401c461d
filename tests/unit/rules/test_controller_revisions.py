"""Revisions of DaemonSets and StatefulSets (ControllerRevisions): the rollout undo's checks over them, pods left on an
outdated revision their controller will not replace (delete-pod), and the sentences written about them -- each on
minimal hand-built objects, each shown to matter (one edit, the outcome changes)."""

from __future__ import annotations

import copy
from typing import Any

from aof_airflow.agent.rules import actions as ax
from aof_airflow.agent.rules import release as R
from aof_airflow.agent.rules import revisions as RV
from aof_airflow.agent.rules.detectors.configuration import detect_image_pull
from aof_airflow.agent.rules.detectors.releases import detect_outdated_revision
from aof_airflow.agent.rules.detectors.workloads import detect_crash_loop
from aof_airflow.agent.rules.objects import Observation
from aof_airflow.agent.rules.outdated import outdated_pods

from .test_actions import at, controller_revision, event, obs, pod, template

CRASH = {"reason": "Error", "exitCode": 1, "startedAt": at(0.02), "finishedAt": at(0.019)}


def on(p: dict[str, Any], rev: str, kind: str) -> dict[str, Any]:
    p["metadata"]["labels"]["controller-revision-hash"] = rev
    p["metadata"]["ownerReferences"] = [{"kind": kind, "name": "api", "controller": True}]
    return p


def daemonset(*, strategy: str = "RollingUpdate", updated: int = 1) -> dict[str, Any]:
    return {"kind": "DaemonSet", "metadata": {"name": "api", "namespace": "shop", "uid": "ds1"},
            "spec": {"selector": {"matchLabels": {"app": "api"}}, "template": template("shop/api:2"),
                     "updateStrategy": {"type": strategy}},
            "status": {"desiredNumberScheduled": 3, "updatedNumberScheduled": updated, "numberReady": 2}}


def ds_release() -> Observation:
    """A DaemonSet's revision 2 (new image, 30 min old) crashes on the one node it reached; revision 1 ran for two days
    and still serves on the other two. DaemonSet pods carry the revision's hash, the revision is named <ds>-<hash>."""
    d = daemonset()
    crs = [controller_revision("api-7f9c", 2, template("shop/api:2"), created=at(0.5), kind="DaemonSet"),
           controller_revision("api-5b6d", 1, template("shop/api:1"), created=at(48.5), kind="DaemonSet")]
    for c in crs:
        c["metadata"]["labels"]["controller-revision-hash"] = c["metadata"]["name"].split("-")[1]
    pods = [on(pod("api-a", waiting="CrashLoopBackOff", restarts=5, last=CRASH), "7f9c", "DaemonSet"),
            on(pod("api-b", owner=None), "5b6d", "DaemonSet"), on(pod("api-c", owner=None), "5b6d", "DaemonSet")]
    return obs(kind="daemonset", daemonset=d, target=d, controllerrevisions=crs, pods=pods)


def statefulset(*, policy: str = "OrderedReady", strategy: str = "RollingUpdate", partition: int = 0,
                update: str = "api-good") -> dict[str, Any]:
    ru = {"rollingUpdate": {"partition": partition}} if strategy == "RollingUpdate" else {}
    return {"kind": "StatefulSet", "metadata": {"name": "api", "namespace": "shop", "uid": "s1"},
            "spec": {"replicas": 3, "podManagementPolicy": policy, "selector": {"matchLabels": {"app": "api"}},
                     "template": template("shop/api:1"), "updateStrategy": {"type": strategy, **ru}},
            "status": {"replicas": 3, "readyReplicas": 2, "currentRevision": update, "updateRevision": update,
                       "updatedReplicas": 2}}


def sts_stuck(**kw: Any) -> Observation:
    """The template was put back (revision 3 = the good template again, the update revision), but api-2 still runs
    the broken revision 2 (an image that cannot be pulled) and an OrderedReady rolling update waits for it."""
    s = statefulset(**kw)
    crs = [controller_revision("api-good", 3, template("shop/api:1"), created=at(900)),
           controller_revision("api-bad", 2, template("shop/api:9"), created=at(3))]
    pods = [on(pod("api-0", owner=None), "api-good", "StatefulSet"), on(pod("api-1", owner=None), "api-good", "StatefulSet"),
            on(pod("api-2", owner=None, waiting="ImagePullBackOff", spec=template("shop/api:9")["spec"]), "api-bad", "StatefulSet")]
    pods[2]["status"]["containerStatuses"][0]["image"] = "shop/api:9"
    pods[2]["status"]["conditions"][0]["lastTransitionTime"] = at(3)
    return obs(kind="statefulset", statefulset=s, target=s, controllerrevisions=crs, pods=pods,
               events=[event("api-2", "Failed", 'Failed to pull image "shop/api:9": rpc error: code = NotFound desc = '
                                                'failed to resolve reference "shop/api:9": shop/api:9: not found')])


# ---------------------------------------------------------------------------------------------- revisions
def test_a_controller_revision_reads_as_a_revision_with_its_template_and_ready_pods() -> None:
    o = ds_release()
    rev = RV.revisions(o)
    assert rev and rev.kind == "ControllerRevision"
    assert rev.newest["metadata"]["name"] == "api-7f9c" and rev.previous["metadata"]["name"] == "api-5b6d"
    assert "$patch" not in rev.newest["spec"]["template"]
    assert rev.previous["status"]["readyReplicas"] == 2 and rev.newest["status"]["readyReplicas"] == 0
    assert rev.owns(o.pods[0]) and not rev.owns(o.pods[1])
    assert rev.changes() == ["container api image"]
    assert "controllerrevision api-7f9c" in rev.quote()
    # a StatefulSet's pods carry the revision's name, not its hash
    s = sts_stuck()
    assert RV.on_revision(s.pods[2], s.controllerrevisions[1]) and not RV.on_revision(s.pods[2], s.controllerrevisions[0])


def test_the_newest_controller_revision_is_the_highest_revision_not_the_newest_object() -> None:
    """A rollback renumbers the revision it returns to: an old object can be the newest revision."""
    rev = RV.revisions(sts_stuck())
    assert rev and rev.newest["metadata"]["name"] == "api-good"


def test_revisions_not_read_prove_nothing_and_none_owned_refute_the_undo() -> None:
    o = ds_release()
    o.controllerrevisions = None
    v = ax.verdict("rollout-undo", o)
    assert ("pod-spec-changed" in [n for n, _ in v.unproven]) and not v.refuted
    o.controllerrevisions = []
    assert "pod-spec-changed" in [n for n, _ in ax.verdict("rollout-undo", o).refuted]


def test_rolling_reads_each_controllers_status() -> None:
    o = ds_release()
    assert R.rolling(o)
    o.daemonset["status"]["updatedNumberScheduled"] = 3
    assert not R.rolling(o)
    s = sts_stuck()
    assert R.rolling(s)  # 2 of 3 replicas updated
    s.statefulset["status"]["updatedReplicas"] = 3
    assert not R.rolling(s)
    s.statefulset["status"]["updateRevision"] = "api-next"
    assert R.rolling(s)


# ---------------------------------------------------------------------------------------------- undo
def test_a_daemonsets_bad_release_is_undone_without_a_human() -> None:
    d = ax.decide(ds_release(), "none")
    assert d.action == "rollout-undo" and d.proven, d.why
    assert d.command == "kubectl rollout undo daemonset/api -n shop"


def test_the_daemonsets_undo_depends_on_the_failing_pods_being_the_newest_revisions() -> None:
    o = ds_release()
    on(o.pods[0], "5b6d", "DaemonSet")  # the crashing pod runs the old revision: the release is not what fails
    o.daemonset["status"]["updatedNumberScheduled"] = 3
    o.controllerrevisions[0]["metadata"]["creationTimestamp"] = at(30)
    v = ax.verdict("rollout-undo", o)
    assert not v.proven and "failures-began-with-new-pods" in [n for n, _ in v.unproven + v.refuted]


def test_a_statefulsets_undo_waits_for_a_human() -> None:
    o = ds_release()
    s = statefulset(update="api-7f9c")
    s["status"].update(currentRevision="api-5b6d", readyReplicas=2)
    for p in o.pods:
        p["metadata"]["ownerReferences"][0]["kind"] = "StatefulSet"
    for c in o.controllerrevisions:
        c["metadata"]["ownerReferences"][0]["kind"] = "StatefulSet"
    o.daemonset, o.statefulset, o.target = None, s, s
    d = ax.decide(o, "rollout-undo")
    assert d.action == "rollout-undo" and not d.proven and "no-state-at-stake" in d.why
    assert d.command == "kubectl rollout undo statefulset/api -n shop"


def test_an_undo_is_refuted_when_the_failing_pods_run_the_revision_it_returns_to() -> None:
    o = sts_stuck()
    v = ax.verdict("rollout-undo", o)
    assert "failures-began-with-new-pods" in [n for n, _ in v.refuted], v.summary()
    # shown to matter: were the update revision the broken one, the pods would be its own (not refuted)
    o.statefulset["status"]["updateRevision"] = "api-bad"
    assert R.failing_on_previous(o) is None


# ---------------------------------------------------------------------------------------------- outdated pods
def test_an_ordered_ready_statefulset_leaves_its_broken_pod_and_deleting_it_is_proven() -> None:
    o = sts_stuck()
    assert [n for n, _ in outdated_pods(o)] == ["api-2"]
    d = ax.decide(o, "delete-pod")
    assert d.action == "delete-pod" and d.proven, d.why
    assert d.command == "kubectl delete pod api-2 -n shop"


def test_the_controller_replaces_the_pod_itself_unless_ordered_ready_or_on_delete() -> None:
    assert not outdated_pods(sts_stuck(policy="Parallel"))
    assert not outdated_pods(sts_stuck(partition=3))  # below the partition: recreated at the current revision
    assert [n for n, _ in outdated_pods(sts_stuck(policy="Parallel", strategy="OnDelete"))] == ["api-2"]
    o = ds_release()
    for p in o.pods[1:]:
        p["status"]["conditions"][0]["status"] = "False"  # old pods unready: a RollingUpdate DaemonSet replaces them
    assert not outdated_pods(o)
    o.daemonset["spec"]["updateStrategy"] = {"type": "OnDelete"}
    assert [n for n, _ in outdated_pods(o)] == ["api-b", "api-c"]


def test_deleting_an_outdated_pod_is_proven_only_when_the_update_revision_serves() -> None:
    o = sts_stuck()
    for p in o.pods[:2]:
        p["status"]["conditions"][0]["status"] = "False"
        p["status"]["containerStatuses"][0]["ready"] = False
    v = ax.verdict("delete-pod", o)
    assert "pod-stuck" in [n for n, _ in v.unproven], v.summary()


def test_deleting_an_outdated_pod_is_proven_only_once_it_has_been_unready_for_a_while() -> None:
    o = sts_stuck()
    o.pods[2]["status"]["conditions"][0]["lastTransitionTime"] = at(2 / 60)  # two minutes: it may still come up
    assert "pod-stuck" in [n for n, _ in ax.verdict("delete-pod", o).unproven]
    del o.pods[2]["status"]["conditions"][0]["lastTransitionTime"]  # not known: unproven too
    assert "pod-stuck" in [n for n, _ in ax.verdict("delete-pod", o).unproven]


def test_an_outdated_pods_own_image_error_does_not_contraindicate_its_delete() -> None:
    """The recreated pod runs the update revision: the old pod's ImagePullBackOff does not carry over. Shown to
    matter: judged on every pod (the plain check), the delete is contraindicated."""
    o = sts_stuck()
    assert ax.verdict("delete-pod", o).proven
    plain = dict(ax.TABLE)
    rule = plain["delete-pod"]
    plain["delete-pod"] = ax.ActionRule("delete-pod", rule.preconditions,
                                        tuple(ax.CONFIG if c.name == "config-error" else c for c in rule.contraindications))
    assert "config-error" in [n for n, _ in ax.verdict("delete-pod", o, plain).contra]


def test_the_outdated_revision_finding_names_the_pod_both_revisions_and_the_delete() -> None:
    o = sts_stuck()
    f = detect_outdated_revision(o)
    assert f and f.action == "delete-pod" and f.command == "kubectl delete pod api-2 -n shop"
    assert "api-2" in f.summary and "OrderedReady" in f.summary and "api-bad" in f.summary and "api-good" in f.summary
    assert "registry" not in f.advice
    o.pods[2]["metadata"]["labels"]["controller-revision-hash"] = "api-good"  # on the update revision: not outdated
    assert detect_outdated_revision(o) is None


# ---------------------------------------------------------------------------------------------- sentences
def test_image_pull_advice_names_credentials_only_when_the_registry_refused_them() -> None:
    o = sts_stuck()
    f = detect_image_pull(o)
    assert f and "tag does not exist" in f.summary and "credential" not in f.advice and "imagePullSecret" not in f.advice
    o.events = [event("api-2", "Failed", 'Failed to pull image "shop/api:9": pull access denied, repository does not '
                                         "exist or may require authorization: authorization failed")]
    f = detect_image_pull(o)
    assert f and "imagePullSecret" in f.advice


def test_a_crash_on_an_unknown_argument_is_quoted_not_the_usage_text_after_it() -> None:
    o = ds_release()
    o.logs = {"api-a/api/previous": "api: unrecognized option '--cache_dir=/tmp'\nUsage: api [OPTION]\n  -c  --config=FILE\n"
                                    "  -h  --help\tprint this help\n"}
    f = detect_crash_loop(o)
    assert f and "unrecognized option '--cache_dir=/tmp'" in f.summary
    plain = copy.deepcopy(o)
    plain.logs = {"api-a/api/previous": "api: starting\nUsage: api [OPTION]\n  -h  --help\tprint this help\n"}
    f = detect_crash_loop(plain)
    assert f and "print this help" in f.summary  # no argument error: the last line, as before


# ---------------------------------------------------------------------------------------------- reads
class DaemonSetCluster:
    """A toolbox serving one DaemonSet, its pods, and ControllerRevisions of it and of another DaemonSet."""

    def __init__(self, refuse_revisions: bool = False) -> None:
        self.calls: list[str] = []
        self.refuse = refuse_revisions

    def shell(self, command: str) -> Any:
        import json

        from .test_reads import Call

        self.calls.append(command)
        what = command.split()[2]
        o = ds_release()
        if what == "daemonset":
            return Call(True, json.dumps(o.daemonset))
        if what.startswith("pods"):
            return Call(True, json.dumps({"items": o.pods}))
        if what.startswith("controllerrevisions"):
            if self.refuse:
                return Call(False, "", refused="controllerrevisions are not allowed for this agent")
            other = controller_revision("other-1", 9, template("x:1"), created=at(1), owner="other", kind="DaemonSet")
            return Call(True, json.dumps({"items": [*o.controllerrevisions, other]}))
        if command.split()[1] == "logs":
            return Call(True, "api: starting")
        return Call(True, json.dumps({"items": []}) if "jsonpath" in command else "")


def test_a_daemonsets_revisions_are_read_with_its_pods_and_only_its_own_are_kept() -> None:
    from aof_airflow.agent.rules.gather import Gatherer

    ds = ds_release().daemonset
    commands = Gatherer(None, "shop")._workload_commands(ds, ds["spec"]["selector"], deployment=False)[1]  # type: ignore[arg-type]
    assert any(c.startswith("kubectl get controllerrevisions -l app=api") for c in commands)  # same round as the pods
    assert not any("controllerrevisions" in c for c in
                   Gatherer(None, "shop")._workload_commands(ds, ds["spec"]["selector"], deployment=True)[1])  # type: ignore[arg-type]
    o = Gatherer(DaemonSetCluster(), "shop").gather("daemonset", "api")  # type: ignore[arg-type]
    assert sorted(c["metadata"]["name"] for c in o.controllerrevisions or []) == ["api-5b6d", "api-7f9c"]
    refused = Gatherer(DaemonSetCluster(refuse_revisions=True), "shop").gather("daemonset", "api")  # type: ignore[arg-type]
    assert refused.controllerrevisions is None  # not read: no revision fact is proven from it
