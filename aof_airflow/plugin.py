"""The Airflow plugin: registered through the `airflow.plugins` entry point (see pyproject.toml)."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from aof_airflow.incidents import listener as incident_listener
from aof_airflow.incidents.ui import plugin_entries as incident_ui
from aof_airflow.relay.mount import fastapi_apps as relay_apps

_incident_apps, _incident_views = incident_ui()


class AofPlugin(AirflowPlugin):
    name = "aof"
    fastapi_apps: list[dict] = [*relay_apps()]  # the webhook relay at [aof] relay_url_prefix (/aof/relay)
    fastapi_apps += _incident_apps  # the Incidents page at /aof/incidents
    external_views: list[dict] = [*_incident_views]  # ... and its entry in the UI navigation
    listeners: list = [incident_listener]  # incident records for every finished run
