"""Which flow answers which webhook path (`Webhook` / `HTTP` / `PagerDuty` / `Alertmanager` triggers, a flow's own or a bound
`kind: Trigger` document's), and which flows Slack messages may start (relay.slack_routes).

A flows folder is re-read when its files change (checked every few seconds), so deploying a flow
does not need a relay restart. Two flows on one path is a configuration error: the first one keeps it.
"""

from __future__ import annotations

import fnmatch
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Union

from aof_airflow.relay.normalize import Event
from aof_airflow.relay.slack_routes import SlackRoute, build_slack_routes
from aof_airflow.spec.models import AgentFlow
from aof_airflow.spec.trigger_docs import RELAY_SPECS, TriggerDocument, bindings
from aof_airflow.spec.triggers import RELAY_TRIGGERS, BearerAuth, HMACAuth, RelayConfig

log = logging.getLogger(__name__)

FlowSource = Union[None, str, Path, Iterable[Union[str, Path]], Mapping[str, AgentFlow]]


@dataclass(frozen=True)
class Route:
    flow: AgentFlow
    config: RelayConfig
    only: tuple[str, ...] | None = None  # a Trigger document's command named after an event type: that one only

    @property
    def dag_id(self) -> str:
        return self.flow.name  # the DAG factory names each DAG after its flow

    @property
    def path(self) -> str:
        return "/" + self.config.path.strip("/")

    @property
    def methods(self) -> list[str]:
        return list(self.config.methods)

    @property
    def events(self) -> tuple[str, ...]:
        return self.only or tuple(self.config.events)

    @property
    def bearer(self) -> BearerAuth | None:
        return self.config.auth if isinstance(self.config.auth, BearerAuth) else None

    @property
    def signature(self) -> HMACAuth | None:
        secret = self.config.secret
        return HMACAuth(type="PagerDutySignature", secret=secret) if secret else None

    def why_not(self, event_type: str, service_id: str | None = None) -> str | None:
        """None when this event starts a run: the trigger's `events` name its type (or a pattern such as
        `incident.*` matches it) and its `service_ids`, if any, list the incident's PagerDuty service.
        Otherwise which of the two filters it did not pass."""
        if not any(fnmatch.fnmatchcase(event_type, pattern) for pattern in self.events):
            return f"{event_type}: not among the trigger's events {list(self.events)}"
        services = getattr(self.config, "service_ids", None)
        if services and service_id not in services:
            return f"service {service_id or '(none named)'} is not among the trigger's service_ids {list(services)}"
        return None

    def starts_run(self, event_type: str, service_id: str | None = None) -> bool:
        return self.why_not(event_type, service_id) is None


def service_id(event: Event) -> str | None:
    """The incident's PagerDuty service, wherever the event carried it (normalize.py puts it in one place)."""
    ev = event.conf.get("event")
    incident = ev.get("incident") if isinstance(ev, dict) else None
    service = incident.get("service") if isinstance(incident, dict) else None
    return service.get("id") if isinstance(service, dict) else None


def build_routes(flows: Mapping[str, AgentFlow], triggers: Iterable[TriggerDocument] = ()) -> dict[str, Route]:
    candidates = [Route(flows[n], flows[n].spec.trigger.config) for n in sorted(flows)
                  if isinstance(flows[n].spec.trigger, RELAY_TRIGGERS)]
    for doc in triggers:
        if isinstance(doc.spec, RELAY_SPECS):
            candidates += [Route(flows[b.flow], doc.spec.config, tuple(b.events) if b.events else None)
                           for b in bindings(doc) if b.flow in flows]
    routes: dict[str, Route] = {}
    for route in candidates:
        path = route.path
        if path in routes:
            log.error("relay: flows %s and %s both claim webhook path %s; keeping %s",
                      routes[path].flow.name, route.flow.name, path, routes[path].flow.name)
            continue
        routes[path] = route
    return routes


def _load_paths(paths: list[Path]) -> tuple[dict[str, AgentFlow], list[TriggerDocument]]:
    from aof_airflow.spec.loader import load_paths

    result = load_paths(paths, check_graph=False)
    for p in result.problems:
        log.error("relay: flow not loaded: %s", p)
    return dict(result.flows), list(result.triggers.values())


class FlowTable:
    """The current path -> Route table; folders are watched, an explicit mapping is fixed."""

    def __init__(self, source: FlowSource, reload_seconds: float = 5.0) -> None:
        self._fixed: dict[str, Route] | None = None
        self._fixed_slack: list[SlackRoute] = []
        self._paths: list[Path] = []
        if isinstance(source, Mapping):
            self._fixed = build_routes(source)
            self._fixed_slack = build_slack_routes(source)
        else:
            if source is None:
                from aof_airflow.config import flows_folder

                source = flows_folder()
            self._paths = [Path(source)] if isinstance(source, (str, Path)) else [Path(p) for p in source]
        self._reload_seconds = reload_seconds
        self._routes: dict[str, Route] = {}
        self._slack: list[SlackRoute] = []
        self._signature: tuple = ()
        self._checked = 0.0
        self._lock = threading.Lock()

    def _files_signature(self) -> tuple:
        sig = []
        for p in self._paths:
            files = [p] if p.is_file() else sorted(f for f in p.rglob("*") if f.suffix in (".yaml", ".yml")) if p.is_dir() else []
            for f in files:
                try:
                    st = f.stat()
                    sig.append((str(f), st.st_mtime_ns, st.st_size))
                except OSError:
                    pass
        return tuple(sig)

    def routes(self) -> dict[str, Route]:
        if self._fixed is not None:
            return self._fixed
        self._refresh()
        return self._routes

    def slack_routes(self) -> list[SlackRoute]:
        if self._fixed is not None:
            return self._fixed_slack
        self._refresh()
        return self._slack

    def _refresh(self) -> None:
        now = time.monotonic()
        if now - self._checked < self._reload_seconds and self._checked:
            return
        with self._lock:
            if now - self._checked >= self._reload_seconds or not self._checked:
                sig = self._files_signature()
                if sig != self._signature:
                    flows, triggers = _load_paths([p for p in self._paths if p.exists()])
                    self._routes = build_routes(flows, triggers)
                    self._slack = build_slack_routes(flows, triggers)
                    self._signature = sig
                    log.info("relay: webhook routes %s; Slack-triggered flows %s",
                             {p: r.flow.name for p, r in self._routes.items()}, sorted({r.dag_id for r in self._slack}))
                self._checked = now

    def get(self, path: str) -> Route | None:
        return self.routes().get("/" + path.strip("/"))
