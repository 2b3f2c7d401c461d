"""State a process took at start, beyond its environment (rules/stale.py): a ConfigMap or Secret mounted with subPath
and written since (never updated in the container: a restart behind approval, new values nobody ran), and a
ServiceAccount token held past its lifetime (the API server answers 401: a new pod reads a current token, which
proves rollout-restart's grows-with-uptime-or-stalled when the log shows the refusals began after the lifetime)."""

from __future__ import annotations

import copy

from aof_airflow.agent.rules import actions as ax
from aof_airflow.agent.rules import facts as F
from aof_airflow.agent.rules import stale
from aof_airflow.agent.rules.detectors import detect_stale_since_start

from .test_actions import at, deployment, obs, pod

MOUNTS = [{"name": "tls", "mountPath": "/etc/api/tls.crt", "subPath": "tls.crt", "readOnly": True}]
VOLUMES = [{"name": "tls", "secret": {"secretName": "api-tls"}}]


def stamp(hours_ago: float) -> str:
    return at(hours_ago).replace("T", " ").replace("Z", "").replace("-", "/")  # Go's log package: 2026/03/01 11:00:00


def tls_log(error_hours_ago: float = 0.5) -> str:
    return (f"{stamp(500)} loaded certificate /etc/api/tls.crt notAfter={at(1)}\n"
            f"{stamp(error_hours_ago)} http: TLS handshake error from 10.0.0.9:5123: remote error: tls: bad certificate\n"
            f"{stamp(0.1)} http: TLS handshake error from 10.0.0.9:5124: remote error: tls: bad certificate\n")


def mounted(sub_path: bool = True, written: float = 24, error_hours_ago: float = 0.5):
    """Two pods up 500 h mounting secret api-tls (by subPath unless told), written `written` hours ago."""
    d = deployment()
    pods = [pod(f"api-{i}", started=at(500)) for i in (1, 2)]
    for p in pods:
        c = p["spec"]["containers"][0]
        c["volumeMounts"] = copy.deepcopy(MOUNTS) if sub_path else [{"name": "tls", "mountPath": "/etc/api"}]
        p["spec"]["volumes"] = copy.deepcopy(VOLUMES)
    log = tls_log(error_hours_ago)
    return obs(deployment=d, target=d, pods=pods, logs={"api-1/api": log, "api-2/api": log},
               config_written={"secret/api-tls": at(written)})


def test_a_secret_mounted_by_subpath_and_written_since_start_is_the_cause_behind_approval() -> None:
    o = mounted()
    why = F.stale_since_start(o) or ""
    assert "secret/api-tls is mounted with subPath (/etc/api/tls.crt)" in why and "bad certificate" in why
    assert f"(that certificate expired at {at(1)})" in why  # the log names the mounted file and its past notAfter
    f = detect_stale_since_start(o)
    assert f is not None and f.action == "rollout-restart"
    v = ax.verdict("rollout-restart", o)
    assert [n for n, _ in v.unproven + v.refuted + v.contra] == ["grows-with-uptime-or-stalled"]
    d = ax.decide(o, f.action)
    assert d.action == "rollout-restart" and not d.proven  # new content nobody has run: a human says go


def test_a_whole_volume_mount_is_refreshed_by_the_kubelet_so_proves_nothing() -> None:
    assert stale.subpath_written_since_start(mounted(sub_path=False)) is None
    assert detect_stale_since_start(mounted(sub_path=False)) is None


def test_a_write_before_the_pods_started_proves_nothing() -> None:
    assert stale.subpath_written_since_start(mounted(written=600)) is None


def test_errors_older_than_the_write_did_not_begin_with_it() -> None:
    assert stale.subpath_written_since_start(mounted(written=24, error_hours_ago=30)) is None


def test_subpath_sources_are_read_for_their_last_write() -> None:
    p = mounted().pods[0]
    assert stale.subpath_mounts(p) == {("secret", "api-tls"): ["/etc/api/tls.crt"]}
    assert ("secret", "api-tls") in stale.start_sources(p)
    p["spec"]["containers"][0]["volumeMounts"][0].pop("subPath")
    assert stale.start_sources(p) == set()


# ------------------------------------------------------------------------------------ ServiceAccount token
REFUSAL = "kubernetes.client.rest.ApiException: (401)\nReason: Unauthorized\n"


def py_stamp(hours_ago: float) -> str:
    return at(hours_ago).replace("T", " ").replace("Z", ",000")  # Python logging: 2026-03-01 11:00:00,000


def provisioner(log: str, started: float = 400, **spec):
    d = deployment(replicas=1, ready=1)
    p = pod("api-1", started=at(started))
    p["spec"].update(spec)
    return obs(deployment=d, target=d, pods=[p], logs={"api-1/api": log})


def from_start(first_refusal: float) -> str:
    """The whole log since a start 400 h ago: credentials loaded, then refusals from `first_refusal` hours ago."""
    return (f"{py_stamp(400)} INFO loaded in-cluster config\n"
            + "".join(f"{py_stamp(h)} ERROR reconcile failed\n{REFUSAL}" for h in (first_refusal, 0.1)))


def test_api_refusals_after_the_token_lifetime_prove_a_restart() -> None:
    o = provisioner(from_start(2))
    why = F.token_outlived(o) or ""
    assert "(401) Reason: Unauthorized" in why and "17 days after it started" in why and "in-cluster config" in why
    v = ax.verdict("rollout-restart", o)
    assert v.proven and "refuses its credentials" in dict(v.held)["grows-with-uptime-or-stalled"], v.summary()
    f = detect_stale_since_start(o)
    assert f is not None and ax.decide(o, f.action).proven


def test_refusals_within_the_token_lifetime_of_the_start_are_not_an_expired_token() -> None:
    o = provisioner(from_start(399.5))
    assert F.token_outlived(o) is None and stale.token_outlived(o, shown_healthy=False) is None
    assert not ax.verdict("rollout-restart", o).proven


def test_a_longer_expiration_asked_in_the_spec_is_the_lifetime() -> None:
    vol = [{"name": "token", "projected": {"sources": [{"serviceAccountToken": {"path": "token", "expirationSeconds": 7 * 86400}}]}}]
    o = provisioner(from_start(395), volumes=vol)  # 5 h after the start: within the 7 days asked
    assert F.token_outlived(o) is None
    assert F.token_outlived(provisioner(from_start(2), volumes=vol)) is not None


def test_without_a_mounted_token_a_401_is_not_about_it() -> None:
    assert F.token_outlived(provisioner(from_start(2), automountServiceAccountToken=False)) is None


def test_a_401_from_something_other_than_the_api_server_is_not_the_token() -> None:
    log = f"{py_stamp(400)} INFO started\n{py_stamp(2)} ERROR GET https://payments.example/v1/charge 401 Unauthorized\n"
    assert stale.token_outlived(provisioner(log), shown_healthy=False) is None


def test_when_the_log_read_does_not_show_when_refusals_began_the_cause_is_named_behind_approval() -> None:
    tail = "".join(f"{py_stamp(h)} ERROR reconcile failed\n{REFUSAL}" for h in (3, 2, 1))
    o = provisioner(tail)
    assert F.token_outlived(o) is None  # not proof: they may have begun at the start
    f = detect_stale_since_start(o)
    assert f is not None and "does not show when they began" in f.summary
    d = ax.decide(o, f.action)
    assert d.action == "rollout-restart" and not d.proven
