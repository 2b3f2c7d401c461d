"""The approval's HITLDetail row is the one record of the decision, whichever channel made it."""

from __future__ import annotations

from datetime import datetime, timezone
from types import SimpleNamespace
from uuid import uuid4

import pytest

from aof_airflow.approvals import required_action as ra
from aof_airflow.approvals.outcome import APPROVE, PAUSE, SKIP, Decision

AT = datetime(2026, 12, 1, 10, 0, tzinfo=timezone.utc)


class FakeHITL:
    """The task SDK's HITL calls, answering like Airflow's Execution API (409 on a second response)."""

    def __init__(self, response=None):
        self.response = response  # (chosen_options, params_input) once answered
        self.writes = []

    def get(self, ti_id):
        chosen, params = self.response or (None, {})
        return SimpleNamespace(response_received=self.response is not None, chosen_options=chosen,
                               responded_by_user=None, responded_at=AT if self.response else None,
                               params_input=params)

    def update(self, ti_id, chosen_options, params_input):
        if self.response is not None:
            raise RuntimeError("409 Conflict: Human-in-the-loop detail already exists")
        self.writes.append((chosen_options, params_input))
        self.response = (chosen_options, params_input)


@pytest.fixture
def hitl(monkeypatch):
    fake = FakeHITL()
    monkeypatch.setattr(ra, "get_hitl_detail_content_detail", fake.get)
    monkeypatch.setattr(ra, "update_hitl_detail_response", fake.update)
    return fake


def test_a_person_in_airflow_is_the_airflow_user_whatever_params_input_claims():
    d = ra.from_response(["Skip"], {"id": "7", "name": "alice"}, AT, {"decided_by": "U_ONCALL", "via": "reaction"})
    assert d == Decision(SKIP, "alice", "airflow-ui", AT.isoformat())


def test_a_decision_copied_in_from_slack_keeps_its_origin():
    d = ra.from_response(["Pause"], None, AT, {"decided_by": "U_ONCALL", "via": "reaction"})
    assert (d.reaction, d.user, d.source) == (PAUSE, "U_ONCALL", "reaction")
    with pytest.raises(ValueError, match="unknown approval option 'Maybe'"):
        ra.from_response(["Maybe"], None, AT, {})


def test_the_first_decision_is_written_and_wins(hitl):
    claim = Decision(APPROVE, "U_ONCALL", "reaction", AT.isoformat())
    assert ra.settle(uuid4(), claim) == claim
    assert hitl.writes == [(["Approve"], {"decided_by": "U_ONCALL", "via": "reaction"})]
    later = Decision(SKIP, "U_SRE_LEAD", "cli", AT.isoformat())
    assert ra.settle(uuid4(), later) == claim  # already decided: the recorded one stands
    assert len(hitl.writes) == 1


def test_a_response_racing_ours_wins(hitl, monkeypatch):
    """Airflow's 409: someone answered in the UI between our read and our write."""
    real_get = hitl.get
    calls = []

    def get(ti_id):
        calls.append(ti_id)
        if len(calls) == 1:
            resp, hitl.response = real_get(ti_id), (["Skip"], {})
            return resp
        return real_get(ti_id)

    monkeypatch.setattr(ra, "get_hitl_detail_content_detail", get)
    got = ra.settle(uuid4(), Decision(APPROVE, "U_ONCALL", "reaction", AT.isoformat()))
    assert got.reaction == SKIP and hitl.writes == []


def test_a_timeout_only_reads(hitl):
    assert ra.settle(uuid4(), None) is None and hitl.writes == []
    hitl.response = (["Approve"], {"decided_by": "U_ONCALL", "via": "cli"})
    assert ra.settle(uuid4(), None).source == "cli"
