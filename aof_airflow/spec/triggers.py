"""Flow triggers (`spec.trigger`). Moved here unchanged from models.py so that the trigger models have a
module of their own (issue 16's trigger work lives in this file)."""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field

from aof_airflow.spec.nodes.base import Strict


class BearerAuth(Strict):
    type: Literal["Bearer"]
    token: str


class HMACAuth(Strict):
    """PagerDuty v3 `X-PagerDuty-Signature` verification."""

    type: Literal["PagerDutySignature"]
    secret: str


Auth = Annotated[Union[BearerAuth, HMACAuth], Field(discriminator="type")]


class WebhookConfig(Strict):
    path: str = Field(pattern=r"^/[A-Za-z0-9/_.-]*$")
    methods: list[Literal["POST", "PUT"]] = Field(default_factory=lambda: ["POST"])
    auth: Auth | None = None
    event_types: list[str] = Field(default_factory=lambda: ["incident.triggered"])


class ScheduleConfig(Strict):
    cron: str


class WebhookTrigger(Strict):
    type: Literal["Webhook"]
    config: WebhookConfig


class ScheduleTrigger(Strict):
    type: Literal["Schedule"]
    config: ScheduleConfig


class ManualTrigger(Strict):
    type: Literal["Manual"]


Trigger = Annotated[Union[WebhookTrigger, ScheduleTrigger, ManualTrigger], Field(discriminator="type")]
