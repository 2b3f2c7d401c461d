"""The Airflow plugin: registered through the `airflow.plugins` entry point (see pyproject.toml)."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from aof_airflow.incidents import listener as incident_listener


class AofPlugin(AirflowPlugin):
    name = "aof"
    fastapi_apps: list[dict] = []
    listeners: list = [incident_listener]  # incident records for every finished run
