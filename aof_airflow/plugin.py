"""The Airflow plugin: registered through the `airflow.plugins` entry point (see pyproject.toml).

A setting that does not fit its type stops the Airflow component loading this plugin (README "Settings"). Airflow's
plugin loader catches every `Exception` a plugin's import raises, logs it and goes on without the plugin: the
scheduler, api-server, dag-processor and triggerer would keep running with our listener, relay and safety limits
absent, and only a log line would say so. So a bad setting is raised here as `SystemExit`, which that loader does
not catch: the component exits at start, its last words naming the setting and what it expects.
"""

from __future__ import annotations

import logging

from airflow.plugins_manager import AirflowPlugin

from aof_airflow.config import SettingsError, settings
from aof_airflow.incidents import listener as incident_listener
from aof_airflow.incidents.ui import plugin_entries as incident_ui
from aof_airflow.relay.mount import fastapi_apps as relay_apps

log = logging.getLogger(__name__)


class BadSettings(SystemExit):
    """A bad `[aof]` setting, raised past Airflow's plugin loader (it catches `Exception` only)."""


try:
    settings()
except SettingsError as exc:
    message = (f"aof-airflow: not starting: {exc}. This component would run without aof-airflow's plugin (its "
               "incident listener, relay and the safety limits it reads); fix the setting and start it again.")
    log.critical(message)
    raise BadSettings(message) from None  # before anything below reads a setting

_incident_apps, _incident_views = incident_ui()


class AofPlugin(AirflowPlugin):
    name = "aof"
    fastapi_apps: list[dict] = [*relay_apps()]  # the webhook relay at [aof] relay_url_prefix (/aof/relay)
    fastapi_apps += _incident_apps  # the Incidents page at /aof/incidents
    external_views: list[dict] = [*_incident_views]  # ... and its entry in the UI navigation
    listeners: list = [incident_listener]  # incident records for every finished run
