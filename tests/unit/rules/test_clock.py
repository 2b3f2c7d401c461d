"""'Now' as the data tell it (objects.observed_at): a workload that has served for days with no event and no
recent transition must not look as young as its last change -- the kubelet's heartbeats and the log lines read
carry the time of the reading."""

from __future__ import annotations

from aof_airflow.agent.rules import actions as ax
from aof_airflow.agent.rules.objects import observed_at, parse_time

from .test_actions import at, deployment, node, obs, pod


def quiet_workload(**kw):
    """Two pods started (and Ready) five hours ago; no event since."""
    d = deployment()
    pods = [pod(f"api-{i}", started=at(5)) for i in (1, 2)]
    for p in pods:
        p["status"]["conditions"][0]["lastTransitionTime"] = at(5)
    return obs(deployment=d, target=d, pods=pods, events=[], **kw)


def test_without_heartbeats_or_logs_now_is_the_last_transition() -> None:
    o = quiet_workload()
    assert observed_at(o) == parse_time(at(5))
    assert ax.verdict("rollout-restart", o).unproven[0][0] == "ran-healthily-before"


def test_a_node_heartbeat_says_how_long_the_pods_have_served() -> None:
    n = node()
    n["status"]["conditions"][0]["lastHeartbeatTime"] = at(0.01)
    o = quiet_workload(nodes=[n])
    assert observed_at(o) == parse_time(at(0.01))
    assert "ran-healthily-before" in dict(ax.verdict("rollout-restart", o).held)


def test_a_timestamped_log_line_says_it_too_and_a_naive_one_is_ignored() -> None:
    o = quiet_workload(logs={"api-1/api": f"{at(0.02)} INFO served\n2026-03-01T11:59:59 INFO no zone"})
    assert observed_at(o) == parse_time(at(0.02))
