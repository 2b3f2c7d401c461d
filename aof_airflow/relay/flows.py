"""Which flow answers which webhook path: built from each AgentFlow's `trigger` (a Webhook, or a PagerDuty
trigger: any trigger whose config has a `path`).

The trigger's config is read by field name, not by model class, so a trigger model that adds fields (an
`events:` list on a PagerDuty trigger) slots in: `events` (or the Webhook config's `event_types`) say which
event types start a run, `*` and `incident.*` patterns included; default `incident.triggered`.

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
from typing import Any, Iterable, Mapping, Union

from aof_airflow.spec.models import AgentFlow, BearerAuth, HMACAuth

log = logging.getLogger(__name__)

FlowSource = Union[None, str, Path, Iterable[Union[str, Path]], Mapping[str, AgentFlow]]


DEFAULT_EVENTS = ("incident.triggered",)
WEBHOOK_TRIGGERS = ("Webhook", "PagerDuty")


def config_field(config: Any, name: str, default: Any = None) -> Any:
    """A trigger config's field, whether the config is a model or (from a newer spec) a plain mapping."""
    value = config.get(name) if isinstance(config, Mapping) else getattr(config, name, None)
    return default if value is None else value


@dataclass(frozen=True)
class Route:
    flow: AgentFlow
    config: Any  # the trigger's config (spec.models.WebhookConfig, or another trigger's with a `path`)

    @property
    def dag_id(self) -> str:
        return self.flow.name  # the DAG factory names each DAG after its flow

    @property
    def path(self) -> str:
        return "/" + str(config_field(self.config, "path", "")).strip("/")

    @property
    def methods(self) -> list[str]:
        return list(config_field(self.config, "methods", ["POST"]))

    @property
    def bearer(self) -> BearerAuth | None:
        auth = config_field(self.config, "auth")
        return auth if isinstance(auth, BearerAuth) else None

    @property
    def signature(self) -> HMACAuth | None:
        auth = config_field(self.config, "auth")
        return auth if isinstance(auth, HMACAuth) else None

    @property
    def events(self) -> tuple[str, ...]:
        return tuple(config_field(self.config, "events") or config_field(self.config, "event_types") or DEFAULT_EVENTS)

    def starts_run(self, event_type: str) -> bool:
        """Whether the trigger's `events` ask for this event type (exact names or patterns like `incident.*`)."""
        return any(fnmatch.fnmatchcase(event_type, pattern) for pattern in self.events)


def build_routes(flows: Mapping[str, AgentFlow]) -> dict[str, Route]:
    routes: dict[str, Route] = {}
    for name in sorted(flows):
        trig = flows[name].spec.trigger
        if getattr(trig, "type", None) not in WEBHOOK_TRIGGERS or not config_field(getattr(trig, "config", None), "path"):
            continue
        path = Route(flows[name], trig.config).path
        if path in routes:
            log.error("relay: flows %s and %s both claim webhook path %s; keeping %s",
                      routes[path].flow.name, name, path, routes[path].flow.name)
            continue
        routes[path] = Route(flows[name], trig.config)
    return routes


def _load_paths(paths: list[Path]) -> dict[str, AgentFlow]:
    from aof_airflow.spec.loader import load_paths

    result = load_paths(paths, check_graph=False)
    for p in result.problems:
        log.error("relay: flow not loaded: %s", p)
    return dict(result.flows)


class FlowTable:
    """The current path -> Route table; folders are watched, an explicit mapping is fixed."""

    def __init__(self, source: FlowSource, reload_seconds: float = 5.0) -> None:
        self._fixed: dict[str, Route] | None = None
        self._paths: list[Path] = []
        if isinstance(source, Mapping):
            self._fixed = build_routes(source)
        else:
            if source is None:
                from aof_airflow.config import flows_folder

                source = flows_folder()
            self._paths = [Path(source)] if isinstance(source, (str, Path)) else [Path(p) for p in source]
        self._reload_seconds = reload_seconds
        self._routes: dict[str, Route] = {}
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
        now = time.monotonic()
        if now - self._checked < self._reload_seconds and self._checked:
            return self._routes
        with self._lock:
            if now - self._checked >= self._reload_seconds or not self._checked:
                sig = self._files_signature()
                if sig != self._signature:
                    self._routes = build_routes(_load_paths([p for p in self._paths if p.exists()]))
                    self._signature = sig
                    log.info("relay: webhook routes %s", {p: r.flow.name for p, r in self._routes.items()})
                self._checked = now
        return self._routes

    def get(self, path: str) -> Route | None:
        return self.routes().get("/" + path.strip("/"))
