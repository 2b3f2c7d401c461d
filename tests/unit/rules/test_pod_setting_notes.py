"""Settings imposed on the failing pods that the failure points at (detectors/common.pod_setting_notes): resources a
LimitRange default filled in, a read-only root file system when the logs show writes refused; and a runtime's
message quoted with its end (where OCI errors put the cause)."""

from __future__ import annotations

from aof_airflow.agent.rules.detectors.common import pod_setting_notes
from aof_airflow.agent.rules.detectors.configuration import _ends

from .test_actions import obs, pod


def test_resources_filled_in_by_a_limitrange_are_named() -> None:
    p = pod("api-1", **{"annotations": {"kubernetes.io/limit-ranger": "LimitRanger plugin set: memory limit for container api"}})
    assert "LimitRange defaults" in " ".join(pod_setting_notes(obs(pods=[p]), [p]))
    q = pod("api-2")
    assert pod_setting_notes(obs(pods=[q]), [q]) == []


def test_a_read_only_root_is_named_only_when_the_logs_show_a_write_refused() -> None:
    p = pod("api-1")
    p["spec"]["containers"][0]["securityContext"] = {"readOnlyRootFilesystem": True}
    refused = obs(pods=[p], logs={"api-1/api/previous": "OSError: [Errno 30] Read-only file system: '/tmp/x'"})
    assert "readOnlyRootFilesystem" in " ".join(pod_setting_notes(refused, [p]))
    assert pod_setting_notes(obs(pods=[p], logs={"api-1/api": "INFO started"}), [p]) == []


def test_a_long_runtime_message_keeps_its_end() -> None:
    msg = "failed to create shim task: OCI runtime create failed: " + "x" * 300 + ": stat /usr/bin/app: no such file or directory"
    assert _ends(msg).endswith("no such file or directory") and len(_ends(msg)) < 260


def test_probe_settings_the_newest_revision_changed_are_quoted_old_to_new() -> None:
    from aof_airflow.agent.rules.detectors.common import probe_changes

    from .test_actions import replicaset, template

    old, new = template("shop/api:2"), template("shop/api:2")
    old["spec"]["containers"][0]["readinessProbe"]["timeoutSeconds"] = 3
    new["spec"]["containers"][0]["readinessProbe"]["timeoutSeconds"] = 1
    out = probe_changes(replicaset("a", 1, old, created="x", ready=1), replicaset("b", 2, new, created="y", ready=0))
    assert out == ["container api readinessProbe: timeoutSeconds 3 -> 1 in the newest revision"]
    assert probe_changes(replicaset("a", 1, old, created="x", ready=1), replicaset("b", 2, old, created="y", ready=0)) == []


def test_a_failing_pod_is_not_stuck_among_siblings_that_run_another_revision() -> None:
    """The rollout's old pods are Ready, the one new pod fails its probe: that is the revision, not one stuck pod."""
    from aof_airflow.agent.rules.detectors import detect_probe_failures

    from .test_actions import deployment, event

    d = deployment(replicas=3, ready=2, rolling=True)
    pods = [pod("api-old-1", owner="api-old"), pod("api-old-2", owner="api-old"), pod("api-new-1", ready=False)]
    o = obs(deployment=d, target=d, pods=pods,
            events=[event("api-new-1", "Unhealthy", "Readiness probe failed: context deadline exceeded")])
    f = detect_probe_failures(o)
    assert f is not None and f.action != "delete-pod", f.summary
    pods.append(pod("api-new-2"))
    assert detect_probe_failures(o).action == "delete-pod"
