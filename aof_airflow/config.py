"""Settings of aof-airflow (README "Settings"), loaded by pydantic-settings.

Where a value comes from, first found wins: an environment variable `AOF_<NAME>`, then Airflow's own
configuration for `[aof] <name>` (which is `AIRFLOW__AOF__<NAME>`, then the `[aof]` section of airflow.cfg),
then the default declared here. A value that does not fit its type is an error naming the setting.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Iterator

from pydantic import SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

ENV_PREFIX = "AOF_"
SECTION = "aof"


class SettingsError(ValueError):
    """A setting that does not fit its type; the message names it and where to change it."""


class AirflowConfigSource(PydanticBaseSettingsSource):
    """`[aof] <name>` through Airflow's configuration (AIRFLOW__AOF__<NAME>, then airflow.cfg)."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return _airflow_value(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, field in self.settings_cls.model_fields.items():
            value, key, _ = self.get_field_value(field, name)
            if value not in (None, ""):
                out[key] = value
        return out


def _airflow_value(name: str) -> str | None:
    conf = _airflow_conf()
    return conf.get(SECTION, name) if conf is not None and conf.has_option(SECTION, name) else None


def _airflow_conf() -> Any:
    try:  # imported here: airflow.configuration costs ~1 s, and `aofctl validate` runs without Airflow set up
        from airflow.configuration import conf
    except Exception:  # Airflow not installed or not configured: env and defaults still apply
        return None
    return conf


class AofSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, case_sensitive=False, env_ignore_empty=True,
                                      extra="ignore", frozen=True)

    # where the YAML is
    flows_folder: str = ""  # default: <dags folder>/flows
    agents_folder: str = ""  # default: <dags folder>/agents
    cache_folder: str = ""  # default: <tmp>/aof-airflow-cache-<uid>
    # our tables
    database_url: str | None = None
    # agents
    fallback_models: str = ""
    memory_dir: str = "."
    memory_backend: str = ""
    mcp_retry_after_seconds: float = 600.0
    anthropic_conn_id: str = "anthropic_default"
    openai_conn_id: str = "openai_default"
    llm_retry_base_delay: float = 1.0
    rules_verify_window: float | None = None
    kubernetes_conn_id: str = "kubernetes_default"
    # Slack, approvals, escalation
    slack_conn_id: str = "slack_default"
    approvers: str = ""
    approval_timeout_seconds: float | None = None
    approval_poll_min_seconds: float | None = None
    approval_poll_max_seconds: float | None = None
    approval_slack_calls_per_minute: float | None = None
    approval_db_poll_seconds: float | None = None
    slack_signing_secret: SecretStr | None = None
    escalation_channel: str | None = None
    # PagerDuty
    pagerduty_from: str | None = None
    pagerduty_api_key: SecretStr | None = None
    pagerduty_signing_secret: SecretStr | None = None
    pagerduty_api_url: str | None = None
    # relay
    relay_database_url: str | None = None
    relay_sqlite_synchronous: str = "FULL"
    relay_max_body_bytes: int | None = None
    relay_slack_max_body_bytes: int | None = None
    relay_max_value_bytes: int | None = None
    relay_max_conf_bytes: int | None = None
    relay_stuck_after_seconds: float | None = None
    relay_report_window_seconds: float | None = None
    relay_backoff_max_seconds: float | None = None
    relay_dispatch_workers: int | None = None
    relay_dispatch_rate_while_receiving: float | None = None
    relay_mount: bool = True
    relay_url_prefix: str | None = None
    relay_url: str | None = None
    relay_one_run_per_target: bool = True
    # Airflow's REST API
    airflow_api_url: str | None = None
    airflow_username: str | None = None
    airflow_password: SecretStr | None = None
    # incidents
    incident_all_dags: bool = False
    incidents_ui: bool = True
    incidents_ui_auth: bool = True

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource,
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, AirflowConfigSource(settings_cls)


_cache: dict[tuple[tuple[str, str], ...], AofSettings] = {}
_pinned: ContextVar[AofSettings | None] = ContextVar("aof_settings_pinned", default=None)


@contextmanager
def settings_pinned() -> Iterator[AofSettings]:
    """Read the settings once for a span that cannot see them change (one parse of the DAG file builds
    thousands of operators; reading the environment for each one was ~2% of that parse)."""
    token = _pinned.set(settings())
    try:
        yield _pinned.get()  # type: ignore[misc]
    finally:
        _pinned.reset(token)


def settings() -> AofSettings:
    """The settings as the environment says now (rebuilt when an AOF_/AIRFLOW__AOF__ variable changes)."""
    pinned = _pinned.get()
    if pinned is not None:
        return pinned
    key = tuple(sorted((k, v) for k, v in os.environ.items() if k.upper().startswith((ENV_PREFIX, "AIRFLOW__AOF__"))))
    found = _cache.get(key)
    if found is None:
        try:
            loaded = AofSettings()
        except ValidationError as exc:
            raise SettingsError("; ".join(
                f"setting {'.'.join(map(str, e['loc']))} = {e.get('input')!r}: {e['msg']} (set by "
                f"{ENV_PREFIX}{str(e['loc'][0]).upper()}, AIRFLOW__AOF__{str(e['loc'][0]).upper()} or "
                f"[aof] {e['loc'][0]} in airflow.cfg)" for e in exc.errors())) from None
        _cache.clear()
        found = _cache[key] = loaded
    return found


def setting(name: str, default: str | None = None) -> str | None:
    """One setting as text (None or `default` when unset or empty), for call sites that parse it themselves."""
    s = settings()
    if name in AofSettings.model_fields:
        value = getattr(s, name)
    else:  # not declared in AofSettings (yet): the same precedence, read directly
        value = os.environ.get(f"{ENV_PREFIX}{name.upper()}") or _airflow_value(name)
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if isinstance(value, bool):
        value = "true" if value else "false"
    if value is None or value == "":
        return default
    return str(value)


def dags_folder() -> Path:
    conf = _airflow_conf()
    if conf is not None:
        try:
            return Path(conf.get("core", "dags_folder"))
        except Exception:
            pass
    return Path(os.environ.get("AIRFLOW__CORE__DAGS_FOLDER", "dags"))


def flows_folder() -> Path:
    return Path(settings().flows_folder or dags_folder() / "flows")


def agents_folder() -> Path:
    return Path(settings().agents_folder or dags_folder() / "agents")
