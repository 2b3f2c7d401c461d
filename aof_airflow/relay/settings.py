"""Relay settings: `[aof]` / `AOF_<NAME>` settings, else the Airflow Connections `aof_airflow_api` and
`pagerduty_default` (the same PagerDuty Connection the flow's HTTP nodes use: password = API key, host = API).

One frozen object per app, so a test (or two relays in one process) can run with different settings.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from aof_airflow.config import setting
from aof_airflow.services import pagerduty

log = logging.getLogger(__name__)

AIRFLOW_CONN_ID = "aof_airflow_api"


def _connection(conn_id: str):
    """An Airflow Connection (env `AIRFLOW_CONN_*`, secrets backend or DB), or None outside Airflow."""
    try:
        from airflow.models.connection import Connection

        return Connection.get_connection_from_secrets(conn_id)
    except Exception:  # not defined, or Airflow not configured: settings/env still apply
        return None


def _float(name: str, default: float) -> float:
    v = setting(name)
    return float(v) if v not in (None, "") else default


@dataclass(frozen=True)
class RelaySettings:
    airflow_api_url: str = "http://127.0.0.1:8080"
    airflow_username: str = ""
    airflow_password: str = field(default="", repr=False)
    database_url: str | None = None  # None: aof_airflow.db's URL (the Airflow metadata DB)
    pagerduty_api_url: str = pagerduty.API_URL
    pagerduty_api_key: str = field(default="", repr=False)
    pagerduty_signing_secrets: tuple[str, ...] = field(default=(), repr=False)
    max_body_bytes: int = 256 * 1024  # webhooks: PagerDuty drops deliveries over 256 KB
    slack_max_body_bytes: int = 1024 * 1024  # /slack/*: a block_actions form carries the whole message, url-encoded
    max_value_bytes: int = 16 * 1024  # one value in a run's conf; longer ones are cut (bounds.py)
    max_conf_bytes: int = 256 * 1024  # a run's whole conf
    stuck_after_seconds: float = 300.0  # a row still not handed over after this long is reported (reports.py)
    report_window_seconds: float = 86400.0  # failed rows count as "degraded" this long after they arrived
    max_json_depth: int = 32
    queued_cache_seconds: float = 1.0
    retry_after_seconds: int = 30
    dispatch_poll_seconds: float = 1.0
    backoff_initial_seconds: float = 0.5
    backoff_max_seconds: float = 5.0
    dispatch_workers: int = 1  # concurrent dagRuns POSTs per relay (an api-server on a small machine is slow, not idle)
    dispatch_rate_while_receiving: float = 20.0  # rows/s delivered while webhooks arrive; 0 = no pacing
    request_timeout_seconds: float = 10.0
    details_wait_seconds: float = 90.0  # how long a v3 run waits for its custom details (429s, outages)
    start_dispatcher: bool = True
    sqlite_synchronous: str = "FULL"  # relay-only SQLite outbox: FULL = fsync per webhook (see outbox.py)

    @classmethod
    def load(cls, **overrides) -> "RelaySettings":
        """Settings from `[aof]`/`AOF_*`, the `aof_airflow_api` / `pagerduty_default` connections, env."""
        import os

        kw: dict = {}
        try:  # mounted in the api-server (or on an Airflow host): its own base URL is the default
            from airflow.configuration import conf as airflow_conf

            base = airflow_conf.get("api", "base_url", fallback=None)
            if base:
                kw["airflow_api_url"] = base
        except Exception:
            pass
        conn = _connection(AIRFLOW_CONN_ID)
        if conn is not None:
            scheme = "https" if (conn.conn_type or "").endswith("s") or conn.schema == "https" else "http"
            if conn.host:
                host = conn.host if "://" in conn.host else f"{scheme}://{conn.host}"
                kw["airflow_api_url"] = f"{host}:{conn.port}" if conn.port else host
            kw["airflow_username"] = conn.login or ""
            kw["airflow_password"] = conn.password or ""
        pd = _connection(pagerduty.CONNECTION_ID)
        if pd is not None and pagerduty.base_url_of(pd):
            kw["pagerduty_api_url"] = pagerduty.base_url_of(pd)
        for name in ("airflow_api_url", "airflow_username", "airflow_password", "pagerduty_api_url"):
            v = setting(name)
            if v:
                kw[name] = v
        kw["database_url"] = setting("relay_database_url") or None
        key = setting("pagerduty_api_key") or os.environ.get(pagerduty.KEY_VARIABLE) or (pd.password if pd else None)
        kw["pagerduty_api_key"] = key or ""
        secrets = setting("pagerduty_signing_secret") or os.environ.get("PAGERDUTY_SIGNING_SECRET") or ""
        kw["pagerduty_signing_secrets"] = tuple(s.strip() for s in secrets.split(",") if s.strip())
        kw["sqlite_synchronous"] = setting("relay_sqlite_synchronous") or "FULL"
        kw["max_body_bytes"] = int(_float("relay_max_body_bytes", cls.max_body_bytes))
        kw["slack_max_body_bytes"] = int(_float("relay_slack_max_body_bytes", cls.slack_max_body_bytes))
        kw["max_value_bytes"] = int(_float("relay_max_value_bytes", cls.max_value_bytes))
        kw["max_conf_bytes"] = int(_float("relay_max_conf_bytes", cls.max_conf_bytes))
        kw["stuck_after_seconds"] = _float("relay_stuck_after_seconds", cls.stuck_after_seconds)
        kw["report_window_seconds"] = _float("relay_report_window_seconds", cls.report_window_seconds)
        kw["backoff_max_seconds"] = _float("relay_backoff_max_seconds", cls.backoff_max_seconds)
        kw["details_wait_seconds"] = _float("relay_details_wait_seconds", cls.details_wait_seconds)
        kw["dispatch_workers"] = max(1, int(_float("relay_dispatch_workers", cls.dispatch_workers)))
        kw["dispatch_rate_while_receiving"] = _float("relay_dispatch_rate_while_receiving",
                                                     cls.dispatch_rate_while_receiving)
        kw.update(overrides)
        return cls(**kw)
