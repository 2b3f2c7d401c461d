"""PagerDuty incidents under the same rule as alerts: one remediation per target.

The target is where the flow's incident profile (spec/incident.py: its `aof.dev/incident-namespace` / `-resource`
annotations, else the tutorial's `custom_details.namespace` + `resource`) says the incident is, read from the
trigger payload alone: the one mapping that also scopes the run's agents. An incident whose target has an open run
attaches to that run instead of starting a second diagnosis; after a run on the target ended with no action or an
escalation, the target's PagerDuty signal is held back for the trigger's `suppress_seconds`, or until PagerDuty
says an incident on it resolved (`incident.resolved`, whatever the trigger's `events`).

When the relay decides: a delivery that carries its details, at once (the answer says attached / suppressed). A v3
webhook carries none -- its custom details come from PagerDuty's API -- so it is decided by the dispatcher once
they are fetched, before its run is asked for (relay.service.Relay.held_at_delivery).

An incident's own lifecycle (run_ids.py): a redelivery of an occurrence is its own run (left to the outbox's
dedup); `incident.reopened` means the incident resolved in between, so it lifts the hold as Alertmanager's
`resolved` does, and runs again unless a run for the target is still open (then it attaches, one remediation at
a time).
"""

from __future__ import annotations

import itertools
import logging
from typing import Any, Iterable, Mapping

from sqlalchemy.engine import Engine

from aof_airflow.incidents import signals as signal_store
from aof_airflow.services.alertmanager import Target
from aof_airflow.spec.incident import IncidentProfile
from aof_airflow.spec.models import AgentFlow

log = logging.getLogger(__name__)
SOURCE = "pagerduty"
OPEN_SECONDS = 2 * 3600.0  # a run with no flow timeout holds its target at most this long
REOPENED, RESOLVED = "incident.reopened", "incident.resolved"


def enabled() -> bool:
    """`[aof] relay_one_run_per_target` (env AOF_RELAY_ONE_RUN_PER_TARGET), on by default."""
    from aof_airflow.config import settings

    return settings().relay_one_run_per_target


def target_of(conf: Mapping[str, Any], flow: AgentFlow) -> Target | None:
    """The workload the flow's incident profile finds in the payload, None when it names none."""
    try:
        profile = IncidentProfile.for_flow(flow)
    except ValueError as exc:  # a bad annotation: the flow's DAG reports it; its incidents name no target here
        log.warning("relay: %s", exc)
        return None
    incident = profile.resolve_payload(conf)
    return Target.of(incident.namespace, incident.resource)


def gate(row: Mapping[str, Any], flow: AgentFlow, suppress_seconds: float, engine: Engine
         ) -> signal_store.Decision | None:
    """None: start the row's run. Else the decision that replaces it (attach / suppress)."""
    target = target_of(row["conf"], flow)
    if target is None or not row.get("dag_run_id"):
        return None
    signal = f"{target.key}#{SOURCE}"
    incident = f"PagerDuty incident {row.get('incident_id')}"
    timeout = flow.spec.rate_limit.timeout_seconds

    def admit() -> signal_store.Decision:
        return signal_store.admit(signal, target.key, row["dag_id"], row["dag_run_id"], source=SOURCE,
                                  suppress_seconds=suppress_seconds, open_seconds=float(timeout or OPEN_SECONDS),
                                  detail=f"{incident} ({row.get('event_type') or 'incident.triggered'})",
                                  engine=engine)

    d = admit()
    if d.kind == "suppress" and row.get("event_type") == REOPENED:  # it resolved in between: the hold lifts
        signal_store.resolve(signal, target.key, source=SOURCE, detail=f"{incident} reopened: it had resolved",
                             engine=engine)
        d = admit()
    if d.run_id == row["dag_run_id"] and d.kind in ("start", "attach"):
        return None  # its own run (or a redelivery of it): the outbox answers accepted / duplicate
    return d


def resolved(row: Mapping[str, Any], flow: AgentFlow, earlier: Iterable[Mapping[str, Any]], engine: Engine
             ) -> signal_store.Decision | None:
    """The incident resolved at PagerDuty: the hold on its target lifts (recorded on the run the signal belongs to).
    Its target from this delivery's payload, else from the incident's `earlier` confs (newest first)."""
    confs = itertools.chain([row["conf"]], earlier)
    target = next((t for t in (target_of(c, flow) for c in confs) if t is not None), None)
    if target is None:
        return None
    return signal_store.resolve(f"{target.key}#{SOURCE}", target.key, source=SOURCE,
                                detail=f"PagerDuty incident {row.get('incident_id')} resolved", engine=engine)
