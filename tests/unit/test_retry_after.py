"""The one Retry-After reader: seconds, HTTP dates, the LLM APIs' `retry-after-ms`, any header case."""

from __future__ import annotations

import email.utils

from aof_airflow.retry_after import retry_after_seconds


def test_seconds_dates_and_milliseconds():
    now = 1_700_000_000.0
    assert retry_after_seconds({"Retry-After": "7"}) == 7.0
    assert retry_after_seconds({"retry-after": ["3"]}) == 3.0  # a client that keeps every value
    assert retry_after_seconds({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert retry_after_seconds({"Retry-After": email.utils.formatdate(now + 42, usegmt=True)}, now=now) == 42.0
    assert retry_after_seconds({"Retry-After": email.utils.formatdate(now - 5, usegmt=True)}, now=now) == 0.0
    assert retry_after_seconds({"Retry-After": "-4"}) == 0.0


def test_nothing_readable_is_none():
    for headers in (None, {}, {"Retry-After": ""}, {"Retry-After": "soon"}, {"retry-after-ms": "x"}):
        assert retry_after_seconds(headers) is None
