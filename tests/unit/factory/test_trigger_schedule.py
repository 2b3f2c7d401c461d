"""A Schedule trigger becomes the DAG's schedule: the flow's own, or a `kind: Trigger` bound to the flow."""

from __future__ import annotations

from pathlib import Path

from aof_airflow.factory.scan import build_dags

NODES = "  nodes: [{id: a, type: Transform, config: {script: \"true\"}}]\n"


def flow(name: str, trigger: str = "") -> str:
    return f"apiVersion: aof.dev/v1\nkind: AgentFlow\nmetadata: {{name: {name}}}\nspec:\n{trigger}{NODES}"


# The Schedule Trigger of AOF's docs/reference/trigger-spec.md, bound to a flow by a command.
DAILY_REPORT = """\
apiVersion: aof.dev/v1
kind: Trigger
metadata:
  name: daily-report
spec:
  type: Schedule
  config:
    cron: "0 9 * * *"           # 9 AM daily
    timezone: "America/New_York"
  commands:
    /report:
      flow: report-flow
      description: "Generate daily report"
"""


def dags(tmp_path: Path, *docs: str) -> dict:
    (tmp_path / "flows.yaml").write_text("---\n".join(docs))
    return build_dags([tmp_path], use_cache=False)


def test_own_schedule_with_and_without_timezone(tmp_path):
    built = dags(tmp_path,
                 flow("ny", "  trigger: {type: Schedule, config: {cron: '0 9 * * 1-5', timezone: America/New_York}}\n"),
                 flow("utc", "  trigger: {type: Schedule, config: {cron: '@hourly'}}\n"),
                 flow("manual"))
    ny = built["ny"].timetable
    assert type(ny).__name__ == "CronTriggerTimetable" and ny.expression == "0 9 * * 1-5"
    assert str(ny.timezone) == "America/New_York"
    assert type(built["utc"].timetable).__name__ == "CronTriggerTimetable"
    assert built["utc"].timetable.expression == "0 * * * *"
    assert built["manual"].schedule is None


def test_a_bound_schedule_trigger_schedules_its_flow(tmp_path):
    built = dags(tmp_path, DAILY_REPORT, flow("report-flow"), flow("other"))
    tt = built["report-flow"].timetable
    assert tt.expression == "0 9 * * *" and str(tt.timezone) == "America/New_York"
    assert built["other"].schedule is None
