"""Events read as kubectl's custom-columns table: the fields the detectors use, in the API's shape."""

from __future__ import annotations

from aof_airflow.agent.rules.gather import event_rows

TABLE = """\
Pod          api-7d4b9c8f6-m7d4w   Killing     Warning   3      2026-11-27T17:10:58Z   <none>   Container api exceeded its memory limit (512Mi) and was OOMKilled; it will be restarted
Deployment   api                   ScalingReplicaSet   Normal   <none>   <none>   2026-11-27T17:11:00.123456Z   Scaled up replica set api-7d4b9c8f6 to 3
Pod          pg-0                  Failed      Warning   1      2026-11-27T17:12:00Z   <nil>    first line of the message
  second line of the message
Pod          pg-1                  Pulled      Normal    2      2026-11-27T17:13:00Z   <none>
"""


def test_rows_become_events_shaped_like_the_apis():
    first, scaled, failed, pulled = event_rows(TABLE)
    assert first == {"involvedObject": {"kind": "Pod", "name": "api-7d4b9c8f6-m7d4w"}, "reason": "Killing",
                     "type": "Warning", "count": 3, "lastTimestamp": "2026-11-27T17:10:58Z",
                     "message": "Container api exceeded its memory limit (512Mi) and was OOMKilled; it will be restarted"}
    assert scaled["eventTime"] == "2026-11-27T17:11:00.123456Z" and "count" not in scaled and "lastTimestamp" not in scaled
    assert failed["message"] == "first line of the message\n  second line of the message"  # a newline in a message
    assert pulled["message"] == "" and "eventTime" not in pulled


def test_no_events_is_no_rows():
    assert event_rows("No resources found in production namespace.\n") == []
