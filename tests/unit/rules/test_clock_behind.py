"""A node whose clock runs behind (detectors/nodes.detect_clock_behind): credentials refused as not yet valid by the
pod on one node while the pods on other nodes, whose logs were read, accept them."""

from __future__ import annotations

from aof_airflow.agent.rules.detectors import detect_clock_behind

from .test_actions import obs, pod

REFUSED = "2026-03-01T11:55:53Z WARN auth - rejected bearer token: token used before issued (iat=2026-03-01T12:00:00Z)"
OK = "2026-03-01T11:59:00Z INFO GET /v1/session 200 4ms"


def spread(logs: dict[str, str]):
    return obs(pods=[pod("api-1", node="n1"), pod("api-2", node="n2"), pod("api-3", node="n3")], logs=logs)


def test_one_node_refusing_what_the_others_accept_names_that_nodes_clock() -> None:
    f = detect_clock_behind(spread({"api-1/api": OK, "api-2/api": OK, "api-3/api": REFUSED}))
    assert f is not None and f.cls == "node-clock-behind" and "node/n3" in f.affected and f.action == "none"


def test_refusals_on_every_node_are_not_one_nodes_clock() -> None:
    assert detect_clock_behind(spread({"api-1/api": REFUSED, "api-2/api": REFUSED, "api-3/api": REFUSED})) is None


def test_without_a_sibling_read_on_another_node_nothing_is_claimed() -> None:
    assert detect_clock_behind(spread({"api-3/api": REFUSED})) is None


def test_a_replacement_waiting_on_a_multi_attach_error_is_named_with_the_lost_node() -> None:
    from aof_airflow.agent.rules.detectors import detect_node_not_ready

    from .test_actions import event, node

    stuck = pod("api-1", node="n2", ready=False, deletionTimestamp="2026-03-01T11:00:00Z")
    waiting = pod("api-2", node="n1", ready=False, phase="Pending")
    o = obs(pods=[stuck, waiting], nodes=[node("n1"), node("n2", ready=False)])
    assert "Multi-Attach" not in detect_node_not_ready(o).summary
    o.events = [event("api-2", "FailedAttachVolume", 'Multi-Attach error for volume "pvc-1" Volume is already used by pod(s) api-1')]
    assert "Multi-Attach" in detect_node_not_ready(o).summary
