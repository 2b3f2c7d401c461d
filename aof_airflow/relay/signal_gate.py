"""PagerDuty incidents under the same rule as alerts: one remediation per target.

An incident whose details name a workload (`custom_details.namespace` + `resource`, the tutorial's shape) on
which a run is already open attaches to that run instead of starting a second diagnosis; after a run on that
target ended with no action or an escalation, the same target's PagerDuty signal is held back until the
suppression time passes (PagerDuty sends no `resolved` for the alert behind it). A v3 webhook, whose details
are fetched only at delivery, names no target here and starts its run as before.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine

from aof_airflow.incidents import signals as signal_store
from aof_airflow.services.alertmanager import NAME

KIND_ALIASES = {"deploy": "deployment", "deployments": "deployment", "sts": "statefulset", "statefulsets": "statefulset",
                "ds": "daemonset", "daemonsets": "daemonset", "po": "pod", "pods": "pod"}
SUPPRESS_SECONDS = 3600.0
OPEN_SECONDS = 2 * 3600.0


def enabled() -> bool:
    """`[aof] relay_one_run_per_target` (env AOF_RELAY_ONE_RUN_PER_TARGET), on unless set to false."""
    from aof_airflow.config import setting

    return (setting("relay_one_run_per_target") or "true").strip().lower() not in ("0", "false", "no", "off")


def target_of(conf: dict[str, Any]) -> str | None:
    details = (((conf.get("event") or {}).get("incident") or {}).get("custom_details") or {})
    ns, resource = details.get("namespace"), details.get("resource")
    if not isinstance(ns, str) or not isinstance(resource, str) or "/" not in resource:
        return None
    kind, _, name = resource.partition("/")
    kind = KIND_ALIASES.get(kind.lower(), kind.lower())
    if kind not in ("deployment", "statefulset", "daemonset", "pod") or not NAME.match(ns) or not NAME.match(name):
        return None
    return f"{ns}/{kind}/{name}"


def gate(row: dict[str, Any], timeout_seconds: float | None, engine: Engine) -> signal_store.Decision | None:
    """None: start the run as admitted. Else the decision that replaces it (attach / suppress)."""
    target = target_of(row["conf"])
    if target is None or not row.get("dag_run_id"):
        return None
    d = signal_store.admit(f"{target}#pagerduty", target, row["dag_id"], row["dag_run_id"], source="pagerduty",
                           suppress_seconds=SUPPRESS_SECONDS, open_seconds=float(timeout_seconds or OPEN_SECONDS),
                           detail=f"PagerDuty incident {row.get('incident_id')}", engine=engine)
    if d.run_id == row["dag_run_id"] and d.kind in ("start", "attach"):
        return None  # its own run (or a redelivery of it): the outbox answers accepted / duplicate
    return d
