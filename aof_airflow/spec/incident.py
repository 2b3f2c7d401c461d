"""The incident profile: where a flow's incident id, service, namespace and resource come from.

Generic operators know no tutorial names; this is the one place that does. Each field is a list of
templates, the first one that renders to a non-empty text wins (a reference to nothing is skipped). The
defaults read the tutorial's flow variables (exported by `parse-alert`), then the PagerDuty webhook's
`event.incident`. A flow overrides any field with a metadata annotation, for example

    metadata:
      annotations:
        aof.dev/incident-namespace: "${event.alert.labels.namespace}, ${K8S_NAMESPACE}"
        aof.dev/incident-system: Opsgenie

(several templates are separated by commas; a text without `${` is a constant).

Part of the language (a flow's annotations), so that every part reads one mapping: the operators resolve it in a
task (flow variables first), the relay on the trigger payload alone (`resolve_payload`), before any run exists, to
tell which target a PagerDuty incident is about (one remediation per target, relay/signal_gate.py).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any, Mapping

from aof_airflow.spec.models import AgentFlow

if TYPE_CHECKING:
    from aof_airflow.templating import TemplateContext

ANNOTATION_PREFIX = "aof.dev/incident-"


@dataclass(frozen=True)
class Incident:
    """What the profile found for one run (None: nothing found)."""

    id: str | None = None
    service: str | None = None
    namespace: str | None = None
    resource: str | None = None
    system: str | None = None  # where incidents come from, for messages ("PagerDuty incident TEST001")


@dataclass(frozen=True)
class IncidentProfile:
    id: tuple[str, ...] = ("${INCIDENT_ID}", "${event.incident.id}")
    service: tuple[str, ...] = ("${INCIDENT_SERVICE}", "${event.incident.service.name}")
    namespace: tuple[str, ...] = ("${K8S_NAMESPACE}", "${event.incident.custom_details.namespace}")
    resource: tuple[str, ...] = ("${K8S_RESOURCE}", "${event.incident.custom_details.resource}")
    system: tuple[str, ...] = ("PagerDuty",)

    @classmethod
    def for_flow(cls, flow: AgentFlow) -> IncidentProfile:
        return cls.from_annotations(flow.metadata.annotations, where=f"flow {flow.name!r}")

    @classmethod
    def from_annotations(cls, annotations: Mapping[str, str], *, where: str = "flow") -> IncidentProfile:
        known = {f.name for f in fields(cls)}
        changes: dict[str, tuple[str, ...]] = {}
        for key, value in annotations.items():
            if not key.startswith(ANNOTATION_PREFIX):
                continue
            name = key[len(ANNOTATION_PREFIX):]
            if name not in known:
                raise ValueError(f"{where}: metadata.annotations[{key!r}] is not an incident field; known: "
                                 f"{', '.join(ANNOTATION_PREFIX + k for k in sorted(known))}")
            try:
                changes[name] = split_candidates(value)
            except ValueError as exc:  # TemplateError
                raise ValueError(f"{where}: metadata.annotations[{key!r}]: {exc}") from None
        return replace(cls(), **changes)

    def resolve(self, tctx: TemplateContext) -> Incident:
        return Incident(**{f.name: first_text(getattr(self, f.name), tctx) for f in fields(self)})

    def resolve_payload(self, conf: Mapping[str, Any] | None) -> Incident:
        """The incident as the trigger payload alone says it (before a run: no flow variables yet)."""
        return self.resolve(payload_context(conf))


def payload_context(conf: Mapping[str, Any] | None) -> TemplateContext:
    """Only the trigger payload: no flow variables, and no environment or Airflow Variables either (a `${NAME}`
    that is a flow variable in the run must not read a process's environment instead)."""
    from aof_airflow.templating import TemplateContext  # run time only, off the DAG-parse path

    return TemplateContext(dict(conf or {}), environ={}, variables=None)


def split_candidates(value: str) -> tuple[str, ...]:
    """`"${a}, ${b:-x}"` -> ("${a}", "${b:-x}"): commas outside `${...}` separate the templates."""
    from aof_airflow.templating import TemplateError  # only a flow with a profile annotation pays for it
    from aof_airflow.templating.placeholders import Literal, segments  # as the line above

    cuts: list[int] = []
    for seg in segments(value):  # raises TemplateError on a malformed template
        if isinstance(seg, Literal):
            cuts += [seg.start + i for i, c in enumerate(value[seg.start:seg.end]) if c == ","]
    parts = [value[a:b].strip() for a, b in zip([0, *[c + 1 for c in cuts]], [*cuts, len(value)])]
    parts = [p for p in parts if p]
    if not parts:
        raise TemplateError("empty: give at least one template")
    return tuple(parts)


def first_text(candidates: tuple[str, ...], tctx: TemplateContext) -> str | None:
    from aof_airflow.templating import TemplateError, render_text  # run time only, off the DAG-parse path

    for template in candidates:
        try:
            text = render_text(template, tctx).strip()
        except (TemplateError, LookupError):
            continue
        if text:
            return text
    return None
