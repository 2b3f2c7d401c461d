"""A flow's Schedule trigger (its own, or a `kind: Trigger` bound to it) -> the DAG's `schedule`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aof_airflow.spec.triggers import ScheduleConfig

if TYPE_CHECKING:
    from airflow.sdk import CronTriggerTimetable


def dag_schedule(config: ScheduleConfig | None) -> str | CronTriggerTimetable | None:
    """None: runs only when triggered. A cron without timezone keeps Airflow's `[core] default_timezone`."""
    if config is None:
        return None
    if config.timezone is None:
        return config.cron
    from airflow.sdk import CronTriggerTimetable  # with croniter, ~5 ms a parse of unscheduled flows skips

    return CronTriggerTimetable(config.cron, timezone=config.timezone)
