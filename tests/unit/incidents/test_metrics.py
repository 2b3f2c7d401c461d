from __future__ import annotations

from datetime import timedelta

import pytest

from aof_airflow.incidents import metrics
from tests.unit.incidents.fixtures import EXPECTED, FLOW, NOW, records


def _in_window():
    since = NOW - timedelta(days=7)
    return [r for r in records() if r.dag_id == FLOW and since <= r.ended_at < NOW]


def test_metrics_match_the_hand_computed_fixture():
    m = metrics.compute(_in_window(), flow=FLOW)
    assert m["runs"] == EXPECTED["runs"]
    assert m["results"] == EXPECTED["results"]
    assert m["success_rate"] == EXPECTED["success_rate"]
    assert m["auto_resolved_rate"] == EXPECTED["auto_resolved_rate"]
    assert m["escalation_rate"] == EXPECTED["escalation_rate"]
    assert m["approvals"]["wait_seconds"] == EXPECTED["approval_wait"]
    assert m["approvals"]["outcomes"] == {"approved": 2, "auto": 5, "skipped": 1}
    assert m["mttr_seconds"]["by_severity"] == {"critical": EXPECTED["mttr_critical"], "high": EXPECTED["mttr_high"]}
    assert m["mttr_seconds"]["all"] == EXPECTED["mttr_all"]
    assert m["tokens"] == EXPECTED["tokens"]


def test_empty_window_has_no_rates():
    m = metrics.compute([])
    assert m["runs"] == 0 and m["success_rate"] is None and m["mttr_seconds"]["all"]["median"] is None


@pytest.mark.parametrize("values,expected", [([5], 5), ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 9), ([3, 1, 2], 3),
                                             (list(range(1, 21)), 18)])
def test_p90_nearest_rank(values, expected):
    assert metrics.p90(values) == expected


def test_daily_series_buckets_by_utc_day():
    s = metrics.daily_series(records(), days=10, now=NOW)
    assert len(s) == 10 and s[-1]["day"] == "2026-11-20"
    today = s[-1]
    assert today["runs"] == 9  # records 1-8 and the other flow's record end on this day
    assert today["auto_resolved_rate"] == round(5 / 9, 4)
    assert today["mttr_median_seconds"] == 120.0  # 5, 60, 120, 300, 600
    assert s[-9]["runs"] == 1 and s[-9]["auto_resolved_rate"] == 0.0  # record 9, 8 days earlier


@pytest.mark.parametrize("text,seconds", [("24h", 86400), ("7d", 604800), ("30m", 1800), ("2w", 1209600)])
def test_parse_window(text, seconds):
    assert metrics.parse_window(text).total_seconds() == seconds


def test_parse_window_rejects_nonsense():
    with pytest.raises(ValueError):
        metrics.parse_window("7 days")
