"""Celery settings for `[celery] celery_config_options`: Airflow's defaults, plus a publish that rides out a
short broker outage.

WHY: the CeleryExecutor fails a task outright when publishing its message raises a connection error (a Redis
restart), and a task's retries (the seed's nodes have none of their own) are not meant for that: the run
would fail, or spend its one retry on the broker. A publish that keeps retrying
instead runs into Airflow's `[celery] operation_timeout`, which the executor does retry (up to
`[celery] task_publish_max_retries` scheduler loops) -- so the task is sent once Redis is back.
"""

from __future__ import annotations

from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG

CELERY_CONFIG = {
    **DEFAULT_CELERY_CONFIG,
    "task_publish_retry_policy": {"max_retries": 1000, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5},
}
