"""A flow's Schedule trigger (its own, or a `kind: Trigger` bound to it) -> the DAG's `schedule`."""

from __future__ import annotations

from airflow.sdk import CronTriggerTimetable

from aof_airflow.spec.triggers import ScheduleConfig


def dag_schedule(config: ScheduleConfig | None) -> str | CronTriggerTimetable | None:
    """None: runs only when triggered. A cron without timezone keeps Airflow's `[core] default_timezone`."""
    if config is None:
        return None
    if config.timezone is None:
        return config.cron
    return CronTriggerTimetable(config.cron, timezone=config.timezone)
