"""The relay's Alertmanager receiver: a flow's `Alertmanager` trigger path (webhook payload version 4).

Order as for every webhook (ingress.py): authenticate (the receiver's `http_config`: Bearer or basic auth, checked
here), then read the body under the size cap, then parse. Then, per signal (aof_airflow.incidents.signals): `firing` starts a run, attaches
to the target's open run, or is held back after a "no action" / escalation; `resolved` is recorded on the run
and lifts the hold. An alert whose labels name no target still starts a run (the flow escalates it, saying
so), so nothing is dropped. Runs go through the same outbox as PagerDuty's, so one accepted is never lost.

Answers: 401 on missing or wrong credentials, 400 on a body that is not JSON, 422 on JSON that is not a
version-4 notification (Alertmanager does not retry a 4xx), else 200 with what became of each signal.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
from typing import TYPE_CHECKING, Any

from fastapi import HTTPException
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from aof_airflow.incidents import signals as signal_store
from aof_airflow.relay import secrets
from aof_airflow.relay.normalize import BadEvent, parse_json
from aof_airflow.relay.resolved_notice import tell_pending_approvals
from aof_airflow.services import alertmanager as am
from aof_airflow.spec.triggers import AlertmanagerConfig, BasicAuth

if TYPE_CHECKING:
    from aof_airflow.relay.flows import Route
    from aof_airflow.relay.service import Relay

log = logging.getLogger(__name__)
SOURCE = "alertmanager"
DEFAULT_OPEN_SECONDS = 2 * 3600.0  # a run with no flow timeout holds its target at most this long


def is_alertmanager(route: Route) -> bool:
    return isinstance(route.config, AlertmanagerConfig)


def check_auth(config: AlertmanagerConfig, authorization: str | None) -> HTTPException | None:
    """None when the request carries the configured credentials; else the 401 (or 503 when they are not set).

    The one place this receiver authenticates (ingress.webhook_headers calls it for Alertmanager routes)."""
    auth = config.auth
    if isinstance(auth, BasicAuth):
        expected = secrets.resolve(auth.password)
        scheme, want = "Basic", f"{auth.username}:{expected}" if expected else ""
    else:
        expected = secrets.resolve(auth.token)
        scheme, want = "Bearer", expected or ""
    if not want:
        return HTTPException(503, "relay misconfigured: the Alertmanager receiver's credentials are not set")
    given_scheme, _, value = (authorization or "").strip().partition(" ")
    value = value.strip()
    if scheme == "Basic" and given_scheme.lower() == "basic":
        try:
            value = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            value = ""
    if given_scheme.lower() != scheme.lower() or not hmac.compare_digest(value.encode(), want.encode()):
        return HTTPException(401, f"missing or wrong {scheme} credentials", headers={"WWW-Authenticate": scheme})
    return None


async def receive(relay: Relay, route: Route, body: bytes) -> Response:
    """The answer for one authenticated delivery whose body is within the cap."""
    try:
        notification = am.parse(parse_json(body, relay.settings.max_json_depth))
    except BadEvent as exc:
        return JSONResponse({"detail": str(exc)}, status_code=400)
    except am.NotVersion4 as exc:
        return JSONResponse({"detail": f"not an Alertmanager webhook notification (version 4): {exc}"}, status_code=422)
    results = await run_in_threadpool(handle, relay, route, notification)
    if any(r["decision"] == "start" for r in results):
        relay.dispatcher.notify()
    return JSONResponse({"status": "ok", "signals": results})


def handle(relay: Relay, route: Route, n: am.Notification) -> list[dict[str, Any]]:
    """Each signal of the notification: started, attached, suppressed or resolved (blocking: the database)."""
    config: AlertmanagerConfig = route.config
    timeout = route.flow.spec.rate_limit.timeout_seconds
    open_seconds = float(timeout) if timeout else DEFAULT_OPEN_SECONDS
    out: list[dict[str, Any]] = []
    db = relay.signal_db()
    for status in ("resolved", "firing"):
        for target, alerts in am.signals([a for a in n.alerts if a.status == status], config.run_per):
            name = alerts[0].name
            signal = am.signal_key(target, name, alerts[0].fingerprint)
            entry: dict[str, Any] = {"signal": signal, "status": status, "alerts": len(alerts)}
            if status == "resolved":
                d = signal_store.resolve(signal, target.key if target else None, source=SOURCE,
                                         detail=f"{len(alerts)} alert(s) resolved", engine=db)
                entry.update(decision="resolved", run_id=d.run_id if d else None)
                if d is not None and d.dag_id:
                    entry["approvals_told"] = tell_pending_approvals(
                        d.dag_id, d.run_id, f"ℹ️ The alert behind this approval resolved at the source: {name} "
                                            f"({signal}), {len(alerts)} alert(s). Approve or skip as you judge.")
                out.append(entry)
                continue
            missing = None if target else (f"no label names a workload (labels: {', '.join(sorted(alerts[0].labels))}); "
                                           "escalated for a human to look")
            incident_id, run_id, conf = am.incident_conf(n, alerts, target, missing_target=missing)
            d = signal_store.admit(signal, target.key if target else None, route.dag_id, run_id, source=SOURCE,
                                   suppress_seconds=config.suppress_seconds, open_seconds=open_seconds,
                                   detail=f"{len(alerts)} alert(s) {name} firing ({n.group_key[:200]})", engine=db)
            entry.update(decision=d.kind, dag_id=d.dag_id, run_id=d.run_id, detail=d.detail)
            if d.kind == "start":
                row_id = relay.outbox.add(flow=route.flow.name, dag_id=route.dag_id, webhook_id=None,
                                          incident_id=incident_id, source=SOURCE, conf=conf, dag_run_id=run_id,
                                          event_type=f"alertmanager.{status}", needs_details=False)
                entry["duplicate"] = row_id is None
                if missing:
                    log.error("relay: %s: alert %s names no target: %s", route.flow.name, name, missing)
            log.info("relay: %s: %s %s -> %s %s", route.flow.name, status, signal, d.kind, d.run_id)
            out.append(entry)
    return out
