"""The relay's decision for one webhook, independent of HTTP plumbing (used by the routes and the CLI).

Order matters: authenticate, then check the body, then parse, then dedup/store -- so nothing a stranger
sends reaches the parser (the routes run the first two as FastAPI dependencies, ingress.py). Only bad auth,
a body that is not a JSON object and an oversized body get a 4xx; every other delivery is answered 2xx and
recorded: as a run to start, as `ignored` when it is no incident to act on, or as `failed` when it is an
incident the relay cannot run (no usable id): a failure the relay reports (readiness, metric, Slack).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Mapping

from aof_airflow.airflow_rest import AirflowAPI
from aof_airflow.relay import auth, secrets
from aof_airflow.relay.bounds import bound
from aof_airflow.relay.dispatcher import Dispatcher
from aof_airflow.relay.flows import FlowSource, FlowTable, Route, service_id
from aof_airflow.relay.normalize import META, BadEvent, Event, normalize, parse_json
from aof_airflow.relay.outbox import FAILED, IGNORED, Outbox, Row
from aof_airflow.relay.queued import QueuedCache
from aof_airflow.relay.reports import Reports
from aof_airflow.relay.run_ids import digest, failed_run_id, incident_run_id
from aof_airflow.relay.settings import RelaySettings

log = logging.getLogger(__name__)
MAX_WEBHOOK_ID = 200


@dataclass
class Reply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Store:
    """An admitted webhook: the outbox row to commit, and the 202 to answer once it is."""
    route: Route
    row: dict[str, Any]
    reply: Reply


class Relay:
    def __init__(self, flows: FlowSource, settings: RelaySettings) -> None:
        self.settings = settings
        self.flows = FlowTable(flows)
        self.outbox = Outbox(settings.database_url, settings.sqlite_synchronous)
        self.client = AirflowAPI(settings.airflow_api_url, settings.airflow_username, settings.airflow_password,
                                 timeout=settings.request_timeout_seconds)
        self.queued = QueuedCache(self.client, settings.queued_cache_seconds)
        self.reports = Reports(self.outbox, self.flows, settings)
        self.dispatcher = Dispatcher(self.outbox, self.client, settings, self.reports, hold=self.held_at_delivery)
        self.ignored: Counter[str] = Counter()  # deliveries answered 2xx that started nothing, by event type

    def close(self) -> None:
        self.dispatcher.stop()
        self.outbox.close()
        self.client.close()

    # -- step 1: before the body is read
    def check_bearer(self, route: Route, authorization: str | None) -> Reply | None:
        if route.bearer is None and route.signature is None and not self.settings.pagerduty_signing_secrets:
            return Reply(403, {"detail": f"flow {route.flow.name} has no trigger auth configured; refusing"})
        if route.bearer is None:
            return None
        expected = secrets.resolve(route.bearer.token)
        if not expected:
            log.error("relay: bearer token for flow %s is not set (%s); refusing requests",
                      route.flow.name, route.bearer.token if route.bearer.token.startswith("${") else "literal")
            return Reply(503, {"detail": "relay misconfigured: webhook token not set"})
        fail = auth.check_bearer(authorization, expected)
        if fail:
            hdrs = {"WWW-Authenticate": "Bearer"} if fail.status == 401 else {}
            return Reply(fail.status, {"detail": fail.reason}, hdrs)
        return None

    def signing_secrets(self, route: Route) -> list[str]:
        out = list(self.settings.pagerduty_signing_secrets)
        if route.signature is not None:
            s = secrets.resolve(route.signature.secret)
            if s:
                out.extend(x.strip() for x in s.split(",") if x.strip())
            elif not out:
                return ["\x00unset"]  # configured but unresolved: nothing can match
        return out

    def check_signature(self, route: Route, body: bytes, headers: Mapping[str, str]) -> Reply | None:
        """`X-PagerDuty-Signature` against the flow's and the relay's secrets, when there are any."""
        sigs = self.signing_secrets(route)
        if not sigs:
            return None
        fail = auth.check_signature(headers.get("x-pagerduty-signature"), body, sigs)
        return Reply(fail.status, {"detail": fail.reason}) if fail else None

    # -- step 2: with the authenticated body (CPU only: safe to run on the event loop)
    def admit(self, route: Route, body: bytes, headers: Mapping[str, str]) -> Reply | Store:
        """Webhook id, JSON and event checks on an authenticated body: a final answer, or the row to store."""
        webhook_id = headers.get("x-webhook-id") or None
        if webhook_id is not None and (len(webhook_id) > MAX_WEBHOOK_ID or not webhook_id.isprintable()):
            log.warning("relay: %s: X-Webhook-Id too long or not printable; deduplicating on the incident only",
                        route.flow.name)
            webhook_id = None
        try:
            event = normalize(parse_json(body, self.settings.max_json_depth))
        except BadEvent as exc:
            return Reply(400, {"detail": str(exc)})
        conf = bound(event.conf, self.settings.max_value_bytes, self.settings.max_conf_bytes)
        row = dict(flow=route.flow.name, dag_id=route.dag_id, webhook_id=webhook_id,
                   incident_id=event.incident_id[:100], source=event.source, conf=conf)
        why = event.ignore or route.why_not(event.event_type, service_id(event))
        if why:
            return self._ignored(route, row, event, why)
        occurrence = event.event_id or webhook_id or digest(body, 32)
        if event.invalid:
            return self._invalid(route, row, event, occurrence)
        run_id = incident_run_id(event.incident_id, event.event_type, occurrence)
        if run_id != f"pd-{event.incident_id}":  # the ids as received, for whoever reads the run
            conf = {**conf, META: {**(conf.get(META) or {}), "run_id_from": {
                "incident_id": event.incident_id, "event_type": event.event_type, "occurrence": occurrence}}}
        return Store(route, dict(row, conf=conf, dag_run_id=run_id, event_type=event.event_type[:100],
                                 needs_details=event.needs_details),
                     Reply(202, {"status": "accepted", "dag_id": route.dag_id, "dag_run_id": run_id}))

    def _invalid(self, route: Route, row: dict[str, Any], event: Event, occurrence: str) -> Store:
        """An incident event the trigger names but no run can be made of: stored as failed (one row per
        occurrence), logged, reported by the dispatcher (readiness, metric, Slack); answered 2xx."""
        log.error("relay: %s: %s delivery cannot start a run: %s", route.flow.name, event.event_type, event.invalid)
        key = failed_run_id(occurrence)
        return Store(route, dict(row, dag_run_id=key, event_type=event.event_type[:100], needs_details=False,
                                 state=FAILED, last_error=f"not started: {event.invalid}"),
                     Reply(202, {"status": "failed", "event_type": event.event_type, "incident_id": event.incident_id,
                                 "reason": event.invalid, "reported": True}))

    def _ignored(self, route: Route, row: dict[str, Any], event: Event, why: str) -> Store:
        """A well-authenticated delivery that starts nothing: recorded (a redelivery dedups on its webhook id),
        logged, counted, and answered 2xx -- PagerDuty disables a subscription after three 4xx in a row."""
        self.ignored[event.event_type[:100]] += 1
        log.info("relay: %s: ignored %s%s: %s", route.flow.name, event.event_type,
                 f" ({event.incident_id})" if event.incident_id else "", why)
        return Store(route, dict(row, dag_run_id=None, event_type=event.event_type[:100], needs_details=False,
                                 state=IGNORED),
                     Reply(202, {"status": "ignored", "event_type": event.event_type, "incident_id": event.incident_id,
                                 "reason": why}))

    # -- step 3 (blocking I/O: the Airflow API and the database)
    def over_queue_limit(self, store: Store) -> Reply | None:
        """429 when the flow's `rate_limit.queue_size` runs are queued (in Airflow or still in our outbox)."""
        limit = store.route.flow.spec.rate_limit.queue_size
        if limit is None or store.row.get("state") in (IGNORED, FAILED):
            return None
        dag_id = store.route.dag_id
        queued = self.queued.get(dag_id) + self.outbox.pending_count(dag_id)
        if queued >= limit and not self.outbox.exists(dag_id, store.row["dag_run_id"], store.row["webhook_id"]):
            return Reply(429, {"detail": f"{queued} runs of {dag_id} already queued (queue_size {limit})"},
                         {"Retry-After": str(self.settings.retry_after_seconds)})
        return None

    def signal_db(self):
        """Where the signal store lives: the relay's database (Airflow's unless `relay_database_url` splits it
        off; then a run closes for its signals when the flow's timeout passes, not when its record is written)."""
        from aof_airflow.db import ensure_tables

        return ensure_tables(self.settings.database_url)

    def held_by_open_run(self, store: Store) -> Reply | None:
        """A 202 that starts nothing when the incident's target has an open run (attached) or is held back.
        A v3 delivery is decided later, once its details are fetched (`held_at_delivery`)."""
        from aof_airflow.relay.signal_gate import enabled, gate

        if store.row.get("needs_details") or not enabled():
            return None
        d = gate(store.row, store.route.flow, store.route.config.suppress_seconds, self.signal_db())
        if d is None:
            return None
        status = "attached" if d.kind == "attach" else "suppressed"
        return Reply(202, {"status": status, "dag_id": d.dag_id, "dag_run_id": d.run_id, "detail": d.detail})

    def held_at_delivery(self, row: Row, conf: dict[str, Any]) -> str | None:
        """The same decision for a v3 delivery, now that its custom details are in `conf`: None to start its run,
        else what it became (attached to / held back by another run), which the dispatcher records on the row."""
        from aof_airflow.relay.signal_gate import enabled, gate

        route = next((r for r in self.flows.routes().values() if r.flow.name == row.flow), None)
        if route is None or not enabled():
            return None
        d = gate({"dag_id": row.dag_id, "dag_run_id": row.dag_run_id, "incident_id": row.incident_id,
                  "event_type": row.event_type, "conf": conf}, route.flow, route.config.suppress_seconds,
                 self.signal_db())
        if d is None:
            return None
        log.info("relay: %s/%s: %s", row.dag_id, row.dag_run_id, d.detail)
        return f"{'attached' if d.kind == 'attach' else 'suppressed'}: {d.detail}"

    def resolved_at_source(self, store: Store) -> None:
        """PagerDuty says the incident resolved: the hold on its target lifts, as Alertmanager's `resolved` lifts its
        signal's, whether or not the trigger's `events` name it (then the delivery is recorded as ignored). A v3
        `incident.resolved` carries no details: the target is read from the incident's earlier deliveries."""
        from aof_airflow.relay.signal_gate import RESOLVED, enabled, resolved

        if store.row.get("event_type") != RESOLVED or not store.row.get("incident_id") or not enabled():
            return
        earlier = self.outbox.rows(dag_id=store.route.dag_id, incident_id=store.row["incident_id"])
        resolved(store.row, store.route.flow, (json.loads(r["conf"]) for r in reversed(earlier)), self.signal_db())

    def stored(self, store: Store, row_id: int | None) -> Reply:
        """The answer once the row is committed (`row_id` None: it duplicated an earlier delivery)."""
        if store.row.get("state") in (IGNORED, FAILED):
            if store.row.get("state") == FAILED and row_id is not None:
                self.dispatcher.notify_failed()
            return store.reply
        if row_id is None:
            return Reply(202, {"status": "duplicate", "dag_id": store.route.dag_id, "dag_run_id": store.row["dag_run_id"]})
        self.dispatcher.notify()
        return Reply(202, {**store.reply.body, "id": row_id})

    def accept(self, route: Route, body: bytes, headers: Mapping[str, str], *, trusted: bool = False) -> Reply:
        """The whole decision, blocking (the CLI's `--direct`); the app runs the same steps without blocking."""
        if not trusted:
            denied = self.check_signature(route, body, headers)
            if denied is not None:
                return denied
        step = self.admit(route, body, headers)
        if isinstance(step, Reply):
            return step
        self.resolved_at_source(step)
        held = None if step.row.get("state") in (IGNORED, FAILED) else self.held_by_open_run(step)
        return held or self.over_queue_limit(step) or self.stored(step, self.outbox.add(**step.row))
