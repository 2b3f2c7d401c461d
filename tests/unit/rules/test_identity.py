"""RBAC refusals in a Ready pod's log, as klog writes them (quotes escaped inside err="..."), and the release that
switched the pods' ServiceAccount: the revision took the permission away, so an undo is the change it calls for."""

from __future__ import annotations

import copy

from aof_airflow.agent.rules import actions as ax
from aof_airflow.agent.rules.detectors import detect_log_errors

from .test_actions import at, deployment, obs, pod, replicaset, template

LINE = ('E1118 13:20:00.000000 1 reflector.go:158] "Unhandled Error" err="failed to list *v1.Event: events is '
        'forbidden: User \\"system:serviceaccount:shop:{sa}\\" cannot list resource \\"events\\" in API group \\"\\" '
        'at the cluster scope"')


def switched(sa_refused: str = "default"):
    old_t, new_t = template("shop/api:1"), copy.deepcopy(template("shop/api:1"))
    old_t["spec"]["serviceAccountName"] = "api"
    new_t["spec"]["serviceAccountName"] = "default"
    d = deployment(replicas=1, ready=1)
    rss = [replicaset("api-new", 3, new_t, created=at(0.7), ready=1), replicaset("api-old", 2, old_t, created=at(1000), ready=0)]
    return obs(deployment=d, target=d, replicasets=rss, pods=[pod("api-new-1", started=at(0.7))],
               logs={"api-new-1/api": "\n".join([LINE.format(sa=sa_refused)] * 3)})


def test_an_escaped_klog_refusal_is_read_and_the_release_that_switched_identity_is_undone() -> None:
    f = detect_log_errors(switched())
    assert f is not None and f.cls == "rbac-forbidden" and "system:serviceaccount:shop:default" in f.summary
    assert f.action == "rollout-undo" and "serviceAccountName from api to default" in f.summary
    d = ax.decide(switched(), f.action)
    assert d.action == "rollout-undo" and d.command == "kubectl rollout undo deployment/api -n shop"


def test_a_refused_account_the_release_did_not_introduce_calls_for_no_undo() -> None:
    f = detect_log_errors(switched(sa_refused="api"))
    assert f is not None and f.cls == "rbac-forbidden" and f.action == "none"
