"""Ready pods logging errors, all of them the newest revision's (rules/release.errors_began_with_revision): the
release is named and its undo proposed behind approval -- never proven, since the previous revision's own logs are
not in a snapshot."""

from __future__ import annotations

from aof_airflow.agent.rules import actions as ax
from aof_airflow.agent.rules.detectors import detect_errors_since_release
from aof_airflow.agent.rules.release import errors_began_with_revision

from .test_actions import at, deployment, obs, pod, replicaset, template

ERR = f"{at(0.01)} ERROR payments - POST /v3/charges -> 404 Not Found"


def canary(*, new_created: float = 0.5, old_pod_errs: bool = False):
    d = deployment(replicas=1, ready=1)
    new = replicaset("api-new", 2, template("shop/api:2"), created=at(new_created), ready=1)
    old = replicaset("api-old", 1, template("shop/api:1"), created=at(96), ready=0)
    pods = [pod("api-new-1")]
    logs = {"api-new-1/api": ERR}
    if old_pod_errs:
        pods.append(pod("api-old-1", owner="api-old"))
        logs["api-old-1/api"] = ERR
    return obs(deployment=d, target=d, replicasets=[new, old], pods=pods, logs=logs)


def test_errors_only_in_the_new_revisions_pods_name_the_release_and_its_undo_waits_for_approval() -> None:
    o = canary()
    assert "newest revision" in (errors_began_with_revision(o) or "")
    f = detect_errors_since_release(o)
    assert f is not None and f.action == "rollout-undo"
    d = ax.decide(o, f.action)
    assert d.action == "rollout-undo" and not d.proven, d.why


def test_errors_in_the_previous_revisions_pods_too_do_not_point_at_the_release() -> None:
    assert errors_began_with_revision(canary(old_pod_errs=True)) is None


def test_an_old_release_is_not_the_suspect() -> None:
    assert errors_began_with_revision(canary(new_created=30)) is None
