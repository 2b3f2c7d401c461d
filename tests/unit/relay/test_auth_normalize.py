from __future__ import annotations

import json

import pytest

from aof_airflow.relay import auth
from aof_airflow.relay.normalize import BadEvent, merge_details, normalize, parse_json
from tests.unit.relay.cases import tutorial, v3

SEED_PAYLOAD = "/work/shared/seed/payloads/test1-noncritical.json"


def test_bearer_missing_malformed_wrong_right():
    assert auth.check_bearer(None, "s3cret").status == 401
    assert auth.check_bearer("Basic s3cret", "s3cret").status == 401
    assert auth.check_bearer("Bearer   ", "s3cret").status == 401
    assert auth.check_bearer("Bearer s3cre", "s3cret").status == 403
    assert auth.check_bearer("Bearer s3cret", "s3cret") is None
    assert auth.check_bearer("bearer s3cret", "s3cret") is None  # the scheme is case-insensitive (RFC 7235)


def test_signature_rotation_and_tampering():
    body = b'{"event": {}}'
    new, old = auth.sign(body, "new"), auth.sign(body, "old")
    assert auth.check_signature(new, body, ["new"]) is None
    assert auth.check_signature(f"{old},{new}", body, ["new"]) is None  # PagerDuty rotating its secret
    assert auth.check_signature(old, body, ["new", "old"]) is None  # we accept both during our rotation
    assert auth.check_signature(old, body, ["new"]).status == 403
    assert auth.check_signature(new, body + b" ", ["new"]).status == 403
    assert auth.check_signature(None, body, ["new"]).status == 401
    assert auth.check_signature("v0=" + new[3:], body, ["new"]).status == 401
    assert auth.check_signature("v1=" + new[3:].upper(), body, ["new"]).status == 403


def test_tutorial_payload_passes_through_exactly():
    raw = open(SEED_PAYLOAD, "rb").read()
    ev = normalize(parse_json(raw, 32))
    assert ev.conf == json.loads(raw) and ev.incident_id == "TEST001" and ev.event_type == "incident.triggered"
    assert not ev.needs_details


def test_v3_payload_is_mapped_to_the_tutorial_shape():
    ev = normalize(v3("Q1ABC"))
    inc = ev.conf["event"]["incident"]
    assert ev.event_type == "incident.triggered" and ev.incident_id == "Q1ABC" and ev.needs_details
    assert inc["service"]["name"] == "PostgreSQL" and inc["title"] == "Disk full on db-1"
    assert inc["urgency"] == "high" and inc["html_url"].endswith("/Q1ABC") and inc["status"] == "triggered"
    assert inc["custom_details"] == {}
    merged = merge_details(ev.conf, {"namespace": "db", "resource": "statefulset/pg"})
    assert merged["event"]["incident"]["custom_details"]["namespace"] == "db"
    assert ev.conf["event"]["incident"]["custom_details"] == {}  # merge does not mutate


def test_non_trigger_v3_event_needs_no_title():
    ev = normalize(v3("Q1ACK", event_type="incident.acknowledged", title=None))
    assert ev.event_type == "incident.acknowledged"


@pytest.mark.parametrize("body", [b"[", b"\xff", b"[" * 100 + b"]" * 100, b"[1]", b'"event"', b"null"])
def test_bodies_that_are_not_a_json_object_are_refused(body):
    with pytest.raises(BadEvent):
        normalize(parse_json(body, 32))


@pytest.mark.parametrize("body", [b"{}", b'{"event": []}', json.dumps({"event": {"data": []}}).encode(),
                                  json.dumps({"event": {"event_type": "pagey.ping", "resource_type": "pagey",
                                                        "data": {"id": "P1", "type": "ping"}}}).encode()])
def test_json_objects_that_are_no_incident_are_ignored_with_a_reason(body):
    ev = normalize(parse_json(body, 32))
    assert ev.ignore and ev.incident_id == "" and ev.invalid is None


@pytest.mark.parametrize("body", [json.dumps(tutorial("")).encode(), json.dumps(tutorial(" ")).encode(),
                                  json.dumps(tutorial(12345)).encode(), json.dumps(tutorial("X1", title={"a": 1})).encode(),
                                  json.dumps(tutorial("x" * 1001)).encode(), json.dumps(v3(iid=None)).encode(),
                                  json.dumps(v3(iid="")).encode()])
def test_incidents_no_run_can_be_made_of_are_invalid_not_ignored(body):
    ev = normalize(parse_json(body, 32))
    assert ev.invalid and ev.ignore is None


@pytest.mark.parametrize("iid", ["a b", "..", ".", "INC-2024..1", "../../dags", "X; rm -rf /", "ü-ünïcode", "a/b"])
def test_any_printable_id_is_an_incident_kept_as_received(iid):
    ev = normalize(parse_json(json.dumps(tutorial(iid)).encode(), 32))
    assert ev.incident_id == iid and ev.conf["event"]["incident"]["id"] == iid and not ev.invalid and not ev.ignore


def test_depth_limit_counts_only_outside_strings():
    inside = json.dumps(tutorial("STR1", note="[" * 200)).encode()
    assert normalize(parse_json(inside, 32)).incident_id == "STR1"
