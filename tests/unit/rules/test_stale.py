"""State a running process took at start and that changed since (rules/stale.py): a Service recreated since the
pods resolved it proves rollout-restart's grows-with-uptime-or-stalled, and one edit that removes what the fact
rests on leaves the restart unproven; a ConfigMap written since the containers started names the cause and calls
for a restart behind approval (it would roll out values no process has run)."""

from __future__ import annotations

from aof_airflow.agent.rules import actions as ax
from aof_airflow.agent.rules import facts as F

from .test_actions import at, deployment, obs, pod

ENV = [{"name": "UPSTREAM", "valueFrom": {"configMapKeyRef": {"name": "api-config", "key": "upstream"}}}]
ERRORS = f"{at(0.01)} ERROR quote rejected: upstream unreachable"


def serving(**kw):
    """Two pods Ready for five days, no restart, logging errors now."""
    d = deployment()
    pods = [pod(f"api-{i}", started=at(120)) for i in (1, 2)]
    for p in pods:
        p["spec"]["containers"][0]["env"] = ENV
    return obs(**{"deployment": d, "target": d, "pods": pods, "logs": {"api-1/api": ERRORS, "api-2/api": ERRORS}, **kw})


def restart_checks(o):
    v = ax.verdict("rollout-restart", o)
    return v, [n for n, _ in v.unproven + v.refuted + v.contra]


def test_environment_written_after_the_containers_started_calls_for_a_restart_behind_approval() -> None:
    """The restart would roll out values no process has run yet: named and proposed, never proven."""
    from aof_airflow.agent.rules.detectors import detect_stale_since_start

    o = serving(config_written={"configmap/api-config": at(1)})
    assert "configmap/api-config was last written" in (F.stale_since_start(o) or "")
    assert restart_checks(o)[1] == ["grows-with-uptime-or-stalled"]
    d = ax.decide(o, detect_stale_since_start(o).action)
    assert d.action == "rollout-restart" and not d.proven


def test_environment_written_before_they_started_proves_nothing() -> None:
    o = serving(config_written={"configmap/api-config": at(200)})
    assert F.stale_since_start(o) is None


def test_a_write_to_a_configmap_the_environment_does_not_read_proves_nothing() -> None:
    o = serving(config_written={"configmap/other": at(1)})
    assert F.stale_since_start(o) is None


def test_without_errors_a_later_write_is_not_a_fault() -> None:
    o = serving(config_written={"configmap/api-config": at(1)}, logs={"api-1/api": f"{at(0.01)} INFO served"})
    assert F.stale_since_start(o) is None


def recreated(created_hours_ago: float, cluster_ip: str = "10.96.0.77"):
    line = (f"{at(0.01)} [error] connect() failed (111: Connection refused) while connecting to upstream, "
            'client: 10.0.0.5, upstream: "http://10.96.0.19:8080/items"')
    svc = {"metadata": {"name": "catalog", "creationTimestamp": at(created_hours_ago)},
           "spec": {"clusterIP": cluster_ip, "selector": {"app": "catalog"}, "ports": [{"port": 8080}]}}
    eps = {"catalog": {"subsets": [{"addresses": [{"ip": "10.1.0.9"}]}]}}
    return serving(services=[svc], endpoints_of=eps, logs={"api-1/api": line, "api-2/api": line})


def test_an_old_address_of_a_service_recreated_after_the_pods_started_proves_a_restart() -> None:
    v, failing = restart_checks(recreated(0.5))
    assert failing == [] and v.proven, v.summary()
    assert "service/catalog" in dict(v.held)["grows-with-uptime-or-stalled"]


def test_a_service_older_than_the_pods_proves_nothing() -> None:
    assert restart_checks(recreated(300))[1] == ["grows-with-uptime-or-stalled"]


def test_a_refused_address_that_is_the_current_clusterip_proves_nothing() -> None:
    assert restart_checks(recreated(0.5, cluster_ip="10.96.0.19"))[1] == ["grows-with-uptime-or-stalled"]


def test_the_detector_names_the_cause_and_calls_for_a_restart() -> None:
    from aof_airflow.agent.rules.detectors import detect_stale_since_start

    f = detect_stale_since_start(serving(config_written={"configmap/api-config": at(1)}))
    assert f is not None and f.cls == "stale-since-start" and f.action == "rollout-restart"
    assert detect_stale_since_start(serving(config_written={"configmap/api-config": at(200)})) is None


READ_ONLY = f"{at(0.02)} ERROR SqlExceptionHelper - ERROR: cannot execute UPDATE in a read-only transaction"


def test_writes_refused_as_read_only_after_days_of_uptime_suspect_stale_connections_behind_approval() -> None:
    from aof_airflow.agent.rules.detectors import detect_writes_refused_read_only

    o = serving(logs={"api-1/api": READ_ONLY, "api-2/api": READ_ONLY})
    f = detect_writes_refused_read_only(o)
    assert f is not None and f.cls == "stale-connections" and f.action == "rollout-restart"
    d = ax.decide(o, f.action)
    assert d.action == "rollout-restart" and not d.proven, d.why


def test_a_young_process_refused_as_read_only_is_not_a_stale_pool() -> None:
    from aof_airflow.agent.rules.stale import writes_refused_as_read_only

    o = serving(logs={"api-1/api": READ_ONLY, "api-2/api": READ_ONLY})
    for p in o.pods:
        p["status"]["containerStatuses"][0]["state"]["running"]["startedAt"] = at(0.2)
    assert writes_refused_as_read_only(o) is None
