"""`kind: Trigger`: AOF's standalone trigger document, bound to the flows its `commands` name.

AOF's shape (crates/aof-core/src/trigger.rs): `spec.type` + `spec.config` (the same configs as a flow's own
`spec.trigger`), `commands` mapping a command (a Slack `/deploy`, a PagerDuty event type such as
`incident.triggered`) to an `agent`, a `fleet` or a `flow`, and `default_agent`. aof-airflow runs flows: a
binding to a flow starts that flow's DAG; bindings to agents or fleets are reported as not bound.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Iterable, Literal, Mapping, Union

from pydantic import BeforeValidator, Field, model_validator

from aof_airflow.spec.models import AgentFlow, BaseDocument, Strict
from aof_airflow.spec.problems import Problem
from aof_airflow.spec.triggers import (
    PAGERDUTY_EVENTS,
    AlertmanagerTrigger,
    HTTPTrigger,
    ManualTrigger,
    PagerDutyTrigger,
    ScheduleConfig,
    ScheduleTrigger,
    SlackTrigger,
    WebhookTrigger,
    check_trigger_type,
)

if TYPE_CHECKING:
    from aof_airflow.spec.loader import LoadedDocument


class CommandBinding(Strict):
    flow: str | None = None
    agent: str | None = None
    fleet: str | None = None
    description: str = ""

    @model_validator(mode="after")
    def _one_target(self) -> CommandBinding:
        targets = [k for k in ("flow", "agent", "fleet") if getattr(self, k)]
        if len(targets) != 1:
            raise ValueError("a command routes to exactly one of `flow`, `agent` or `fleet`"
                             + (f" (found {', '.join(targets)})" if targets else ""))
        return self


class Bindings(Strict):
    """The routing part of a Trigger document's spec."""

    enabled: bool = True
    commands: dict[str, CommandBinding] = Field(default_factory=dict)
    default_agent: str | None = None


class WebhookTriggerSpec(WebhookTrigger, Bindings):
    pass


class HTTPTriggerSpec(HTTPTrigger, Bindings):
    pass


class PagerDutyTriggerSpec(PagerDutyTrigger, Bindings):
    pass


class AlertmanagerTriggerSpec(AlertmanagerTrigger, Bindings):
    """Alertmanager's receiver on a relay path, with its `http_config` auth (Bearer or Basic, each secret a
    `${NAME}`: environment, Airflow Variable or Connection password, as in a flow's own trigger). Its
    commands only bind the path to a flow: every signal the receiver reads goes to that flow."""


class SlackTriggerSpec(SlackTrigger, Bindings):
    pass


class ScheduleTriggerSpec(ScheduleTrigger, Bindings):
    pass


class ManualTriggerSpec(ManualTrigger, Bindings):
    pass


TriggerSpec = Annotated[
    Union[WebhookTriggerSpec, HTTPTriggerSpec, PagerDutyTriggerSpec, AlertmanagerTriggerSpec, SlackTriggerSpec,
          ScheduleTriggerSpec, ManualTriggerSpec],
    Field(discriminator="type"),
    BeforeValidator(check_trigger_type),
]
RELAY_SPECS = (WebhookTriggerSpec, HTTPTriggerSpec, PagerDutyTriggerSpec, AlertmanagerTriggerSpec)


class TriggerDocument(BaseDocument[TriggerSpec]):
    kind: Literal["Trigger"]


@dataclass(frozen=True)
class Binding:
    """One flow started by one Trigger document (`command`: the key that routes to it)."""

    trigger: str
    command: str
    flow: str
    spec: Any  # one of the *TriggerSpec models

    @property
    def events(self) -> list[str] | None:
        """PagerDuty: a command named after an event type starts the flow for that event type only."""
        if isinstance(self.spec, AlertmanagerTriggerSpec):
            return None  # the receiver reads firing and resolved signals, whatever the command is called
        return [self.command] if self.command in PAGERDUTY_EVENTS else None


def bindings(doc: TriggerDocument) -> list[Binding]:
    if not doc.spec.enabled:
        return []
    return [Binding(doc.name, cmd, b.flow, doc.spec) for cmd, b in doc.spec.commands.items() if b.flow]


def bound_schedule(flow: AgentFlow, triggers: Mapping[str, TriggerDocument]) -> ScheduleConfig | None:
    """The flow's schedule: its own `Schedule` trigger, else a `kind: Trigger` of type Schedule bound to it."""
    if isinstance(flow.spec.trigger, ScheduleTrigger):
        return flow.spec.trigger.config
    for doc in triggers.values():
        if isinstance(doc.spec, ScheduleTriggerSpec) and any(b.flow == flow.name for b in bindings(doc)):
            return doc.spec.config
    return None


def check_bindings(flows: Mapping[str, AgentFlow], docs: Iterable[LoadedDocument]) -> tuple[list[Problem], list[Problem]]:
    """(errors, warnings): flows that do not exist, schedules or relay paths claimed twice, unbound routes."""
    errors: list[Problem] = []
    warnings: list[Problem] = []
    schedules: dict[str, str] = {n: "its own spec.trigger" for n, f in flows.items()
                                 if isinstance(f.spec.trigger, ScheduleTrigger)}
    for d in docs:
        doc: TriggerDocument = d.model  # type: ignore[assignment]

        def at(loc: tuple, msg: str, key: bool = False) -> Problem:
            line, col = d.locate(loc, key=key)
            return Problem(d.file, line, col, msg)

        if not doc.spec.enabled:
            continue
        for cmd, b in doc.spec.commands.items():
            if b.flow is None:
                target = f"agent `{b.agent}`" if b.agent else f"fleet `{b.fleet}`"
                warnings.append(at(("spec", "commands", cmd), f"Trigger `{doc.name}`: command `{cmd}` routes to "
                                   f"{target}; aof-airflow runs flows, so this command starts nothing "
                                   f"(route it to a `flow:`)", key=True).as_warning())
            elif b.flow not in flows:
                errors.append(at(("spec", "commands", cmd, "flow"), f"Trigger `{doc.name}`: command `{cmd}` routes "
                                 f"to flow `{b.flow}`, which is not defined (known flows: "
                                 f"{', '.join(sorted(flows)) or 'none'})"))
            elif isinstance(doc.spec, ScheduleTriggerSpec):
                if b.flow in schedules:
                    errors.append(at(("spec", "commands", cmd, "flow"), f"flow `{b.flow}` already has a schedule "
                                     f"({schedules[b.flow]}); a DAG has one schedule"))
                schedules.setdefault(b.flow, f"Trigger `{doc.name}`")
        if doc.spec.default_agent:
            warnings.append(at(("spec", "default_agent"), f"Trigger `{doc.name}`: `default_agent` "
                               f"`{doc.spec.default_agent}` is not used: aof-airflow starts flows only",
                               key=True).as_warning())
        flows_bound = [b for b in bindings(doc) if b.flow in flows]
        if isinstance(doc.spec, RELAY_SPECS) and len({b.flow for b in flows_bound}) > 1:
            errors.append(at(("spec", "commands"), f"Trigger `{doc.name}` routes its path "
                             f"{doc.spec.config.path} to several flows ({', '.join(sorted({b.flow for b in flows_bound}))}); "
                             "one relay path starts one flow: write one Trigger document per flow", key=True))
    return errors, warnings
