"""What starts a flow's runs: the trigger types of AOF's AgentFlow (`spec.trigger`) and their checks.

The types aof-airflow runs: `Webhook` / `HTTP` (a path on the relay), `PagerDuty` (the relay's PagerDuty
path, filtered by v3 event type), `Slack` (app mentions and messages arriving at the relay's Slack
Events endpoint), `Schedule` (the DAG's schedule) and `Manual` (the default: Airflow's trigger, the CLI).
AOF's other platforms are refused by name here, at validate time, rather than accepted and never run.
A standalone `kind: Trigger` document reuses these configs (see spec.trigger_docs).
"""

from __future__ import annotations

import difflib
import fnmatch
import re
import zoneinfo
from typing import Annotated, Any, Literal, Union

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator

SUPPORTED = ("Webhook", "HTTP", "PagerDuty", "Alertmanager", "Slack", "Schedule", "Manual")
# AOF trigger platforms this project does not receive (yet): named so the error can say what they are.
UNSUPPORTED = {
    "Telegram": "Telegram bot", "Discord": "Discord bot", "WhatsApp": "WhatsApp Business", "Teams": "Microsoft Teams",
    "GitHub": "GitHub webhook", "GitLab": "GitLab webhook", "Bitbucket": "Bitbucket webhook", "Jira": "Jira webhook",
    "OpsGenie": "Opsgenie alert",
}
# Written the way AOF's older (v1alpha1) examples did: the type this project reads instead.
RENAMED = {"webhook": "Webhook", "http": "HTTP", "cron": "Schedule", "schedule": "Schedule", "manual": "Manual",
           "pagerduty": "PagerDuty", "slack": "Slack", "alertmanager": "Alertmanager", "prometheus": "Alertmanager"}
AIRFLOW_CRON_PRESETS = ("@hourly", "@daily", "@weekly", "@monthly", "@quarterly", "@yearly")
# PagerDuty v3 webhook event types of incidents (the relay reads incident events only): the "Event Types" table
# of PagerDuty's developer docs (docs/webhooks/01-Overview.md), every row whose resource is an incident
PAGERDUTY_EVENTS = frozenset({
    "incident.acknowledged", "incident.action_invocation.created", "incident.action_invocation.terminated",
    "incident.action_invocation.updated", "incident.annotated", "incident.conference_bridge.updated",
    "incident.custom_field_values.updated", "incident.delegated", "incident.escalated", "incident.incident_type.changed",
    "incident.priority_updated", "incident.reassigned", "incident.reopened", "incident.resolved",
    "incident.responder.added", "incident.responder.replied", "incident.role.assigned", "incident.service_updated",
    "incident.status_update_published", "incident.task.completed", "incident.task.created", "incident.task.updated",
    "incident.triggered", "incident.unacknowledged", "incident.workflow.completed", "incident.workflow.started",
})
# documented too, but about no incident: the relay answers them 2xx and starts nothing
PAGERDUTY_OTHER_EVENTS = frozenset({"pagey.ping", "service.created", "service.custom_field_values.updated",
                                    "service.deleted", "service.updated"})
SLACK_EVENTS = ("app_mention", "message")
DEFAULT_PAGERDUTY_PATH = "/webhook/pagerduty"  # AOF's own PagerDuty endpoint


class Strict(BaseModel):
    # the same settings as spec.models.Strict (that module imports this one, so it cannot be shared)
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True, defer_build=True)


# ----------------------------------------------------------------------------- relay (HTTP) triggers


class BearerAuth(Strict):
    type: Literal["Bearer"]
    token: str = Field(min_length=1)


class HMACAuth(Strict):
    """PagerDuty v3 `X-PagerDuty-Signature` verification."""

    type: Literal["PagerDutySignature"]
    secret: str = Field(min_length=1)


Auth = Annotated[Union[BearerAuth, HMACAuth], Field(discriminator="type")]


def check_pagerduty_event(name: str) -> str:
    """An incident event type, or a pattern (`incident.*`) that matches one."""
    if not any(fnmatch.fnmatchcase(known, name) for known in PAGERDUTY_EVENTS):
        if any(fnmatch.fnmatchcase(other, name) for other in PAGERDUTY_OTHER_EVENTS):
            raise ValueError(f"`{name}` is a PagerDuty event about no incident: the relay answers it and starts "
                             "nothing; name incident events (e.g. incident.triggered, incident.reopened, incident.*)")
        close = difflib.get_close_matches(name, sorted(PAGERDUTY_EVENTS), n=1, cutoff=0.6)
        hint = f"did you mean `{close[0]}`?" if close else "e.g. incident.triggered, incident.acknowledged, incident.resolved"
        raise ValueError(f"`{name}` is not a PagerDuty v3 incident event type: {hint}")
    return name


PagerDutyEvent = Annotated[str, AfterValidator(check_pagerduty_event)]


# after a run on a target ended with no action or an escalation, how long the same signal starts nothing
# (unless it resolves first: Alertmanager's `resolved`, PagerDuty's `incident.reopened`)
SuppressSeconds = Annotated[int, Field(ge=0, le=7 * 24 * 3600)]


class RelayConfig(Strict):
    """A path on the relay: who may post (auth), which PagerDuty event types start a run (`events`), and how long
    an incident on a target whose last run ended with no action or an escalation is held back (`suppress_seconds`;
    one remediation per target, relay/signal_gate.py)."""

    path: str = Field(pattern=r"^/[A-Za-z0-9/_.-]*$")
    methods: list[Literal["POST", "PUT"]] = Field(default_factory=lambda: ["POST"], min_length=1)
    auth: Auth | None = None
    events: list[PagerDutyEvent] = Field(default_factory=lambda: ["incident.triggered"], min_length=1)
    suppress_seconds: SuppressSeconds = 3600

    @property
    def secret(self) -> str | None:
        """The PagerDuty v3 signing secret (a `${VAR}` reference or the value), if one is configured."""
        return self.auth.secret if isinstance(self.auth, HMACAuth) else None


class WebhookConfig(RelayConfig):
    """`Webhook` / `HTTP`: the tutorial's form (PagerDuty-shaped bodies, as the relay reads them)."""


class PagerDutyConfig(RelayConfig):
    """`PagerDuty`: AOF's fields (`webhook_secret` = the v3 signing secret, `service_ids`) on the relay's path."""

    path: str = Field(default=DEFAULT_PAGERDUTY_PATH, pattern=r"^/[A-Za-z0-9/_.-]*$")
    webhook_secret: str | None = Field(default=None, min_length=1)
    service_ids: list[str] = Field(default_factory=list)

    @property
    def secret(self) -> str | None:
        return self.webhook_secret or super().secret


class WebhookTrigger(Strict):
    type: Literal["Webhook"]
    config: WebhookConfig


class HTTPTrigger(Strict):
    type: Literal["HTTP"]
    config: WebhookConfig


class PagerDutyTrigger(Strict):
    type: Literal["PagerDuty"]
    config: PagerDutyConfig = Field(default_factory=PagerDutyConfig)


# -------------------------------------------------------------------------------- Alertmanager


class BasicAuth(Strict):
    """Alertmanager's `http_config.basic_auth` (the password a `${VAR}` reference or the value)."""

    type: Literal["Basic"]
    username: str = Field(min_length=1)
    password: str = Field(min_length=1)


class AlertmanagerConfig(Strict):
    """`Alertmanager`: its webhook receiver (payload version 4) on a relay path, with the receiver's `http_config`
    auth (Bearer `credentials` or `basic_auth`). `run_per`: one run per alert group (Alertmanager's `group_by`)
    or per alert. `suppress_seconds`: after a run ends with no action or an escalation, the same signal starts
    nothing new until it resolves or this long has passed."""

    path: str = Field(default="/alertmanager", pattern=r"^/[A-Za-z0-9/_.-]*$")
    methods: list[Literal["POST"]] = Field(default_factory=lambda: ["POST"], min_length=1)
    auth: Annotated[Union[BearerAuth, BasicAuth], Field(discriminator="type")]
    run_per: Literal["group", "alert"] = "group"
    suppress_seconds: SuppressSeconds = 3600

    @property
    def events(self) -> tuple[str, ...]:
        """What the receiver reads, always (not a key: `events: [firing]` would filter nothing, so it is refused)."""
        return ("firing", "resolved")

    @property
    def secret(self) -> None:
        return None


class AlertmanagerTrigger(Strict):
    type: Literal["Alertmanager"]
    config: AlertmanagerConfig


# --------------------------------------------------------------------------------------- Slack


class SlackConfig(Strict):
    """Slack Events API messages that start a run; every filter given must match."""

    events: list[Literal["app_mention", "message"]] = Field(default_factory=lambda: ["app_mention"], min_length=1)
    channels: list[str] = Field(default_factory=list)  # ids (C0123ABCD) or names (`#prod` / `prod`)
    users: list[str] = Field(default_factory=list)
    patterns: list[str] = Field(default_factory=list)  # regular expressions searched in the message text
    signing_secret: str | None = Field(default=None, min_length=1)  # else `[aof] slack_signing_secret`
    bot_token: str | None = Field(default=None, min_length=1)  # only to look channel names up

    @field_validator("patterns")
    @classmethod
    def _regexes(cls, v: list[str]) -> list[str]:
        return _compiled(v)

    @field_validator("events", mode="before")
    @classmethod
    def _known_events(cls, v: Any) -> Any:
        for e in v if isinstance(v, list) else ():
            if e == "slash_command":
                raise ValueError("Slack slash commands are not received by the relay yet; supported events: "
                                 f"{', '.join(SLACK_EVENTS)} (mention the bot: `@bot /command ...`)")
        return v


class SlackTrigger(Strict):
    type: Literal["Slack"]
    config: SlackConfig = Field(default_factory=SlackConfig)


# ------------------------------------------------------------------------------- Schedule, Manual


class ScheduleConfig(Strict):
    cron: str
    timezone: str | None = None  # IANA name; unset: Airflow's `[core] default_timezone` (UTC unless changed)

    @field_validator("cron")
    @classmethod
    def _cron(cls, v: str) -> str:
        return check_cron(v)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, v: str | None) -> str | None:
        if v is not None:
            check_timezone(v)
        return v


class ScheduleTrigger(Strict):
    type: Literal["Schedule"]
    config: ScheduleConfig


class ManualTrigger(Strict):
    type: Literal["Manual"]


class MatchTrigger(Strict):
    """AOF's typeless `trigger: {patterns: [...]}`: no trigger of its own (run manually or by a `kind: Trigger`
    that binds the flow); the patterns filter the chat messages such a trigger routes here. Its `type` is set by
    the loader (`Match`), never written: typed as `Literal` so the error helpers find the model by its tag."""

    type: Literal["Match"]
    patterns: list[str] = Field(min_length=1)

    @field_validator("patterns")
    @classmethod
    def _regexes(cls, v: list[str]) -> list[str]:
        return _compiled(v)


RELAY_TRIGGERS = (WebhookTrigger, HTTPTrigger, PagerDutyTrigger, AlertmanagerTrigger)


def check_trigger_type(value: Any) -> Any:
    """Before the union is tried: a clear error for AOF types this project does not run, and for old spellings."""
    if not isinstance(value, dict):
        return value
    if "type" not in value:
        if set(value) != {"patterns"}:
            keys = ", ".join(f"`{k}`" for k in value) or "nothing"
            raise ValueError(f"a trigger is `{{type: ..., config: {{...}}}}` with type one of {', '.join(SUPPORTED)} "
                             f"(found {keys}; several platforms: one `kind: Trigger` document each)")
        return value
    tag = value["type"]
    if not isinstance(tag, str) or tag in SUPPORTED:
        return value
    supported = ", ".join(SUPPORTED)
    canonical = next((k for k in UNSUPPORTED if k.lower() == tag.lower()), None)
    if canonical:
        raise ValueError(f"trigger type `{tag}` ({UNSUPPORTED[canonical]}) is not supported by aof-airflow; "
                         f"supported trigger types: {supported}")
    if tag.lower() in RENAMED:
        hint = " with `config.cron`" if RENAMED[tag.lower()] == "Schedule" else ""
        raise ValueError(f"unknown trigger type `{tag}`: write `type: {RENAMED[tag.lower()]}`{hint}")
    raise ValueError(f"unknown trigger type `{tag}`; supported trigger types: {supported}")


def _flow_trigger(value: Any) -> Any:
    value = check_trigger_type(value)
    return {**value, "type": "Match"} if isinstance(value, dict) and "type" not in value else value


Trigger = Annotated[  # a flow's `spec.trigger`
    Union[WebhookTrigger, HTTPTrigger, PagerDutyTrigger, AlertmanagerTrigger, SlackTrigger, ScheduleTrigger,
          ManualTrigger, MatchTrigger],
    Field(discriminator="type"),
    BeforeValidator(_flow_trigger),
]


# -------------------------------------------------------------------------------------- checks


def check_cron(expr: str) -> str:
    """A 5-field cron expression or one of Airflow's presets; anything else is an error saying how to write it."""
    from croniter import croniter  # Airflow's own cron parser; only a file being validated needs it

    text = expr.strip()
    if text in AIRFLOW_CRON_PRESETS:
        return text
    fields = text.split()
    if len(fields) == 6:
        raise ValueError(f"cron {expr!r} has 6 fields (seconds first, as AOF's scheduler reads it): Airflow "
                         f"schedules by the minute; drop the seconds field: `{' '.join(fields[1:])}`")
    if len(fields) != 5 or text.startswith("@") or not croniter.is_valid(text):
        raise ValueError(f"cron {expr!r} is not a valid schedule: write 5 fields `minute hour day-of-month month "
                         f"day-of-week` (e.g. `0 9 * * 1-5`) or one of {', '.join(AIRFLOW_CRON_PRESETS)}")
    return text


def check_timezone(name: str) -> None:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {name!r}: use an IANA name such as `UTC` or `America/New_York`") from None


def _compiled(patterns: list[str]) -> list[str]:
    for p in patterns:
        try:
            re.compile(p)
        except re.error as e:
            raise ValueError(f"pattern {p!r} is not a valid regular expression: {e}") from None
    return patterns
