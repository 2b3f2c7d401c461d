"""Settings of aof-airflow (README "Settings"), loaded by pydantic-settings.

Where a value comes from, first found wins: an environment variable `AOF_<NAME>`, then Airflow's own
configuration for `[aof] <name>` (which is `AIRFLOW__AOF__<NAME>`, then the `[aof]` section of airflow.cfg),
then the default declared here. A value that does not fit its type is an error naming the setting and what
it expects, raised by the first `settings()` of a process: the plugin every Airflow component loads, the
DAG file and the relay read it as they start (and every `aofctl` command that uses a setting), so a typo
(`shadow_mode = ture`) stops them there instead of changing what a remediation does later. Booleans are pydantic's one dialect (true/false,
yes/no, on/off, 1/0); lists are comma-separated; durations take s, m, h, d. Every setting is declared here:
reading an undeclared name is an error, and so is an unknown name in `[aof]` (a typo of a setting's name).
"""

from __future__ import annotations

import os
import re
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Iterator, Literal

from pydantic import AfterValidator, BeforeValidator, Field, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

ENV_PREFIX = "AOF_"
SECTION = "aof"


class SettingsError(ValueError):
    """A setting that does not fit its type; the message names it and where to change it."""


class AirflowConfigSource(PydanticBaseSettingsSource):
    """`[aof] <name>` through Airflow's configuration (AIRFLOW__AOF__<NAME>, then airflow.cfg)."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return _airflow_value(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        _refuse_unknown(self.settings_cls)
        out: dict[str, Any] = {}
        for name, field in self.settings_cls.model_fields.items():
            value, key, _ = self.get_field_value(field, name)
            if value not in (None, ""):
                out[key] = value
        return out


def _refuse_unknown(model: type[BaseSettings]) -> None:
    """A name in `[aof]` (airflow.cfg or AIRFLOW__AOF__*) that is no setting is a typo: `shadow_mod = true`
    must not leave shadow mode off in silence. (`AOF_*` variables are not checked: other tools use the prefix.)"""
    conf = _airflow_conf()
    if conf is None:
        return
    prefix = f"AIRFLOW__{SECTION.upper()}__"
    names = set(conf.getsection(SECTION) or {}) | {k[len(prefix):].lower() for k in os.environ if k.startswith(prefix)}
    # Airflow's `<name>_cmd` / `<name>_secret` forms of an option are that option
    unknown = sorted(n for n in names if n not in model.model_fields and n.rsplit("_", 1)[0] not in model.model_fields)
    if unknown:
        from difflib import get_close_matches

        raise SettingsError("; ".join(
            f"[aof] {name} is not a setting"
            + "".join(f" (did you mean {m}?)" for m in get_close_matches(name, model.model_fields, n=1))
            + f" (set in airflow.cfg or AIRFLOW__AOF__{name.upper()}; README \"Settings\" lists them)"
            for name in unknown))


def _airflow_value(name: str) -> str | None:
    conf = _airflow_conf()
    return conf.get(SECTION, name) if conf is not None and conf.has_option(SECTION, name) else None


def _airflow_conf() -> Any:
    try:  # imported here: airflow.configuration costs ~1 s, and `aofctl validate` runs without Airflow set up
        from airflow.configuration import conf
    except Exception:  # Airflow not installed or not configured: env and defaults still apply
        return None
    return conf


DEFAULT_DENIED = ("kube-system", "kube-public", "kube-node-lease", "kube-flannel", "*-system", "cert-manager",
                  "tigera-operator", "local-path-storage")


@dataclass(frozen=True)
class Expects:
    """What a setting's value must look like, said in the error when it does not."""

    text: str


def _comma_list(value: Any) -> Any:
    if isinstance(value, str):
        return tuple(p.strip() for p in value.split(",") if p.strip())
    return value


_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def _duration(value: Any) -> Any:
    """'90', '90s', '10m', '1h', '2d' -> timedelta (longer than 0)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str):
        m = _DURATION.fullmatch(value)
        if m is None:
            raise ValueError("not a duration")
        seconds = float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
    else:
        return value
    if seconds <= 0:
        raise ValueError("a duration must be longer than 0")
    return timedelta(seconds=seconds)


def _http_url(value: str | None) -> str | None:
    if value is not None and not re.match(r"^https?://[^\s/]+", value):
        raise ValueError("not an http(s) URL")
    return value


def _matching(pattern: str, what: str) -> Any:
    def check(items: tuple[str, ...]) -> tuple[str, ...]:
        bad = [i for i in items if not re.fullmatch(pattern, i)]
        if bad:
            raise ValueError(f"{bad[0]!r} is not {what}")
        return items

    return AfterValidator(check)


# `NoDecode`: an environment variable holds `a,b`, not JSON (pydantic-settings would otherwise json.loads it)
CommaList = Annotated[tuple[str, ...], NoDecode, BeforeValidator(_comma_list),
                      _matching(r"\S+", "one word (separate the items with commas)"),
                      Expects("a comma-separated list, e.g. `a,b,c`")]
NamespacePatterns = Annotated[tuple[str, ...], NoDecode, BeforeValidator(_comma_list),
                              _matching(r"[a-z0-9*?-]{1,63}", "a Kubernetes namespace name or pattern"),
                              Expects("comma-separated namespace names or patterns (lower case, `*` and `?`), "
                                      "e.g. `prod-*,payments`")]
FlowPatterns = Annotated[tuple[str, ...], NoDecode, BeforeValidator(_comma_list),
                         _matching(r"[A-Za-z0-9_.*?-]{1,250}", "a flow name or pattern"),
                         Expects("comma-separated flow names or patterns, e.g. `incident-*`")]
Duration = Annotated[timedelta, BeforeValidator(_duration),
                     Expects("a duration: a number and s, m, h or d (e.g. `90s`, `10m`, `1h`, `2d`), or seconds")]
Flag = Annotated[bool, Expects("a boolean: true or false (also yes/no, on/off, 1/0)")]
Seconds = Annotated[float, Field(ge=0), Expects("a number of seconds (0 or more)")]
HttpUrl = Annotated[str, AfterValidator(_http_url), Expects("an http:// or https:// URL")]


def _count(low: int, high: int) -> Any:
    return Annotated[int, Field(ge=low, le=high), Expects(f"a whole number from {low} to {high}")]


class AofSettings(BaseSettings):
    """Every `[aof]` setting, with its type; README "Settings" says what each one does."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, case_sensitive=False, env_ignore_empty=True,
                                      extra="ignore", frozen=True)

    # where the YAML is
    flows_folder: str = ""  # default: <dags folder>/flows
    agents_folder: str = ""  # default: <dags folder>/agents
    cache_folder: str = ""  # default: <tmp>/aof-airflow-cache-<uid>
    # our tables
    database_url: str | None = None
    # agents
    fallback_models: CommaList = ()
    memory_dir: str = "."
    memory_backend: str = ""
    mcp_retry_after_seconds: Seconds = 600.0
    anthropic_conn_id: str = "anthropic_default"
    openai_conn_id: str = "openai_default"
    google_genai_conn_id: str = "google_genai_default"
    llm_retry_base_delay: Seconds = 1.0
    rules_verify_window: Seconds | None = None
    kubernetes_conn_id: str = "kubernetes_default"
    # the deployment's safety limits on cluster changes (agent/tools/guards.py)
    allowed_namespaces: NamespacePatterns = ()
    denied_namespaces: NamespacePatterns = DEFAULT_DENIED
    remediation_budget: _count(0, 1000) = 3  # type: ignore[valid-type]
    remediation_budget_window: Duration = timedelta(hours=1)
    max_concurrent_remediations: _count(1, 1000) = 2  # type: ignore[valid-type]
    shadow_mode: Flag = False
    shadow_flows: FlowPatterns = ()
    model_changes_need_evidence: Flag = True
    # Slack, approvals, escalation
    slack_conn_id: str = "slack_default"
    slack_api_url: HttpUrl | None = None
    approvers: CommaList = ()
    airflow_approvers: CommaList = ()
    approval_timeout_seconds: Seconds | None = None
    approval_poll_min_seconds: Seconds | None = None
    approval_poll_max_seconds: Seconds | None = None
    approval_slack_calls_per_minute: Annotated[float, Field(gt=0), Expects("a number above 0")] | None = None
    approval_db_poll_seconds: Seconds | None = None
    slack_signing_secret: SecretStr | None = None
    escalation_channel: str | None = None
    # PagerDuty
    pagerduty_from: str | None = None
    pagerduty_api_key: SecretStr | None = None
    pagerduty_signing_secret: SecretStr | None = None
    pagerduty_api_url: HttpUrl | None = None
    # relay
    relay_database_url: str | None = None
    relay_sqlite_synchronous: Annotated[Literal["OFF", "NORMAL", "FULL", "EXTRA"],
                                        BeforeValidator(lambda v: v.upper() if isinstance(v, str) else v),
                                        Expects("one of OFF, NORMAL, FULL, EXTRA")] = "FULL"
    relay_max_body_bytes: _count(1, 2**31) | None = None  # type: ignore[valid-type]
    relay_slack_max_body_bytes: _count(1, 2**31) | None = None  # type: ignore[valid-type]
    relay_max_value_bytes: _count(256, 2**31) | None = None  # type: ignore[valid-type]
    relay_max_conf_bytes: _count(1024, 2**31) | None = None  # type: ignore[valid-type]
    relay_stuck_after_seconds: Seconds | None = None
    relay_report_window_seconds: Seconds | None = None
    relay_backoff_max_seconds: Seconds | None = None
    relay_details_wait_seconds: Seconds | None = None
    relay_dispatch_workers: _count(1, 64) | None = None  # type: ignore[valid-type]
    relay_dispatch_rate_while_receiving: Seconds | None = None
    relay_mount: Flag = True
    relay_url_prefix: str | None = None
    relay_url: HttpUrl | None = None
    relay_one_run_per_target: Flag = True
    # Airflow's REST API
    airflow_api_url: HttpUrl | None = None
    airflow_username: str | None = None
    airflow_password: SecretStr | None = None
    # incidents
    incident_all_dags: Flag = False
    incidents_ui: Flag = True
    incidents_ui_auth: Flag = True

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
            raise SettingsError("; ".join(_problem(e) for e in exc.errors())) from None
        _cache.clear()
        found = _cache[key] = loaded
    return found


def _problem(error: Any) -> str:
    name = str(error["loc"][0])
    field = AofSettings.model_fields.get(name)
    expects = next((m.text for m in (field.metadata if field else ()) if isinstance(m, Expects)), None)
    if expects is None and field is not None:  # an optional typed value: Annotated[...] | None
        for arg in getattr(field.annotation, "__args__", ()):
            expects = next((m.text for m in getattr(arg, "__metadata__", ()) if isinstance(m, Expects)), expects)
    return (f"setting {name} = {error.get('input')!r}: {error['msg']}"
            f"{f'; expected {expects}' if expects else ''} (set by {ENV_PREFIX}{name.upper()}, "
            f"AIRFLOW__AOF__{name.upper()} or [aof] {name} in airflow.cfg)")


def setting(name: str, default: str | None = None) -> str | None:
    """One declared setting as text (None or `default` when unset or empty), for code that still parses text;
    prefer `settings().<name>`, which is typed. An undeclared name is a KeyError: declare it in AofSettings."""
    if name not in AofSettings.model_fields:
        raise KeyError(f"[aof] {name} is not a declared setting (aof_airflow/config.py AofSettings)")
    value = getattr(settings(), name)
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if isinstance(value, bool):
        value = "true" if value else "false"
    if isinstance(value, tuple):
        value = ",".join(value)
    if isinstance(value, timedelta):
        value = f"{value.total_seconds():g}s"
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
