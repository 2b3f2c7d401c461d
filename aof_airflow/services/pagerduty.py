"""Everything aof-airflow knows about PagerDuty's REST API v2, in one place.

Used by the generic HTTP node (through `PROFILE`, looked up by host in services/api_profiles.py) and by
the relay's alert lookup. What PagerDuty requires (its OpenAPI spec, PagerDuty/api-schema, marks the headers
`required`): `Accept: application/vnd.pagerduty+json;version=2`, `Content-Type: application/json`,
`Authorization: Token token=KEY`, and on writes a `From` header with a user's email. A 429 carries
`ratelimit-reset` (seconds until the window resets; developer docs, "Rate Limits").
"""

from __future__ import annotations

from typing import Any, Mapping
from urllib.parse import quote

import httpx

from aof_airflow.services.api_profiles import ApiProfile, ProfileError, retry_after
from aof_airflow.config import setting

API_HOST = "api.pagerduty.com"
API_URL = f"https://{API_HOST}"
ACCEPT = "application/vnd.pagerduty+json;version=2"
CONTENT_TYPE = "application/json"
CONNECTION_ID = "pagerduty_default"  # password = API key, login = the `From` email, host = API base (optional)
KEY_VARIABLE = "PAGERDUTY_API_KEY"  # the tutorial's `${PAGERDUTY_API_KEY}`
WRITES = ("POST", "PUT", "PATCH", "DELETE")


def rate_limit_wait(status: int, headers: Mapping[str, str]) -> float | None:
    """Seconds to wait before retrying, for a 429; None for any other answer."""
    if status != 429:
        return None
    reset = headers.get("ratelimit-reset")
    try:
        if reset is not None:
            return max(0.0, float(reset))
    except ValueError:
        pass
    return retry_after(status, headers) or 1.0


def prepare_headers(method: str, headers: dict[str, str], conn: Any) -> dict[str, str]:
    """The node's headers plus what PagerDuty requires and the node did not set."""
    out = dict(headers)
    names = {k.lower() for k in out}
    if "accept" not in names:
        out["Accept"] = ACCEPT
    if "content-type" not in names:
        out["Content-Type"] = CONTENT_TYPE
    if method.upper() in WRITES and "from" not in names:
        sender = (getattr(conn, "login", None) if conn is not None else None) or setting("pagerduty_from")
        if not sender:
            raise ProfileError(
                "PagerDuty requires a `From` header (a user's email) on writes: set the login of connection "
                f"`{CONNECTION_ID}` (or aof_http_api_pagerduty_com), or [aof] pagerduty_from")
        out["From"] = sender
    return out


PROFILE = ApiProfile(name="PagerDuty", host=API_HOST, connection_ids=(CONNECTION_ID,), secret_variable=KEY_VARIABLE,
                     prepare_headers=prepare_headers, rate_limit_wait=rate_limit_wait)


def base_url_of(conn: Any) -> str | None:
    """The API base a Connection points at (a proxy, a stand-in), or None when it names no host."""
    host = getattr(conn, "host", None)
    if not host:
        return None
    if "://" not in host:
        host = f"{conn.schema or 'https'}://{host}"
    return f"{host.rstrip('/')}:{conn.port}" if getattr(conn, "port", None) else host.rstrip("/")


class DetailsUnavailable(Exception):
    """Temporary (network, 429, 5xx): try again, not before `retry_after` seconds."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class DetailsRefused(Exception):
    """Permanent (401, 403, 404...): the run starts without them, and says so."""


def first_alert_details(base_url: str, api_key: str, incident_id: str, timeout: float = 10.0) -> dict[str, Any]:
    """The incident's custom details: v3 webhooks do not carry them, `GET /incidents/{id}/alerts` does
    (`alerts[0].body.details`)."""
    if incident_id.strip() in ("", ".", ".."):  # would name another endpoint: never with the API key
        raise DetailsRefused(f"incident id {incident_id!r} cannot name an incident in a URL")
    url = f"{base_url.rstrip('/')}/incidents/{quote(incident_id, safe='')}/alerts"
    try:
        r = httpx.get(url, params={"limit": 1}, timeout=timeout, trust_env=False,
                      headers={"Authorization": f"Token token={api_key}", "Accept": ACCEPT, "Content-Type": CONTENT_TYPE})
    except httpx.HTTPError as exc:
        raise DetailsUnavailable(f"{type(exc).__name__} calling PagerDuty") from None
    wait = rate_limit_wait(r.status_code, r.headers)
    if wait is not None:
        raise DetailsUnavailable(f"PagerDuty answered 429 (rate limited; resets in {wait:g}s)", wait)
    if r.status_code >= 500:
        raise DetailsUnavailable(f"PagerDuty answered {r.status_code}", retry_after(r.status_code, r.headers))
    if r.status_code != 200:
        raise DetailsRefused(f"PagerDuty answered {r.status_code}: {r.text[:200]}")
    try:
        return details_of(r.json())
    except ValueError:
        raise DetailsRefused("PagerDuty answered 200 with a body that is not JSON") from None


def details_of(alerts_page: Any) -> dict[str, Any]:
    """`alerts[0].body.details` of a `GET /incidents/{id}/alerts` answer; {} when there is none."""
    alerts = (alerts_page or {}).get("alerts") if isinstance(alerts_page, dict) else None
    first = alerts[0] if isinstance(alerts, list) and alerts and isinstance(alerts[0], dict) else {}
    details = (first.get("body") or {}).get("details") if isinstance(first.get("body"), dict) else None
    return details if isinstance(details, dict) else {"details": details} if details else {}
