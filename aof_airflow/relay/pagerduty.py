"""Fetch an incident's custom details (namespace, resource...) from its first alert.

PagerDuty v3 webhooks do not carry them; the REST API v2 does:
`GET /incidents/{id}/alerts` -> `alerts[0].body.details`.
"""

from __future__ import annotations

from typing import Any

import httpx

ACCEPT = "application/vnd.pagerduty+json;version=2"


class DetailsUnavailable(Exception):
    """Temporary (network, 429, 5xx): retry."""


def first_alert_details(base_url: str, api_key: str, incident_id: str, timeout: float = 10.0) -> dict[str, Any]:
    url = f"{base_url.rstrip('/')}/incidents/{incident_id}/alerts"
    try:
        r = httpx.get(url, params={"limit": 1}, timeout=timeout, trust_env=False,
                      headers={"Authorization": f"Token token={api_key}", "Accept": ACCEPT})
    except httpx.HTTPError as exc:
        raise DetailsUnavailable(f"{type(exc).__name__}") from None
    if r.status_code == 429 or r.status_code >= 500:
        raise DetailsUnavailable(f"PagerDuty answered {r.status_code}")
    if r.status_code != 200:
        return {}  # 401/404: a permanent answer; the flow still runs, with its defaults
    alerts = (r.json() or {}).get("alerts") or []
    if not alerts:
        return {}
    details = ((alerts[0] or {}).get("body") or {}).get("details")
    return details if isinstance(details, dict) else {"details": details} if details else {}
