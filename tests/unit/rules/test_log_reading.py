"""Log reading: a server error answered or received (HTTP 5xx) is an error line whatever its level, a count of 500
is not; Ready pods whose calls to a host that is no Service of the namespace fail name that dependency as not
examined (detectors/configuration.detect_log_errors), never 'nothing wrong'."""

from __future__ import annotations

import pytest

from aof_airflow.agent.rules.detectors import detect_log_errors
from aof_airflow.agent.rules.diagnose import diagnose
from aof_airflow.agent.rules.objects import ERROR_LINE

from .test_actions import at, deployment, obs, pod


@pytest.mark.parametrize("line,error", [
    ("WARN supplier: GET https://api.example.org/v2 -> 503 Service Unavailable after 2.9s", True),
    ("INFO GET /search?city=LIS 502 3.1s", True),
    ('10.0.0.1 - - "GET / HTTP/1.1" 504 157', True),
    ("WARN upstream status=500", True),
    ("INFO GET /search 200 640ms", False),
    ("INFO served 500 requests", False),
])
def test_server_errors_are_error_lines_whatever_their_level(line: str, error: bool) -> None:
    assert bool(ERROR_LINE.search(line)) is error


CALLS = (f"{at(0.1)} WARN supplier: GET https://api.supplier.example.org/v2/rooms -> 503 Service Unavailable\n"
         f"{at(0.05)} INFO GET /search 502 3.1s\n")


def test_failing_calls_to_a_host_outside_the_namespace_name_it_as_not_examined() -> None:
    d = deployment()
    o = obs(deployment=d, target=d, pods=[pod("api-1"), pod("api-2")], logs={"api-1/api": CALLS, "api-2/api": CALLS},
            services=[{"metadata": {"name": "api"}, "spec": {"selector": {"app": "api"}}}])
    f = detect_log_errors(o)
    assert f is not None and f.cls == "dependency-failing" and "api.supplier.example.org" in f.summary
    out = diagnose(o).output
    assert out["severity"] == "high" and "nothing wrong" not in out["root_cause"]
