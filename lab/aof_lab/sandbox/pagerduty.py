"""`PagerDutyAPI`: a local server speaking PagerDuty's REST API v2 for incidents, so the flow's HTTP
node (and the relay's alert lookup) run unchanged when no PagerDuty account is configured.

It enforces what PagerDuty's OpenAPI spec (PagerDuty/api-schema, reference/REST/openapiv3.json) marks
`required` on the calls the flow makes -- `Authorization: Token token=KEY`, `Accept:
application/vnd.pagerduty+json;version=2`, `Content-Type: application/json` (the spec's only allowed value,
GET included), and a `From` email on writes -- and PagerDuty's rate limit: past `rate_limit` requests per
window a 429 with `ratelimit-limit`, `ratelimit-remaining`, `ratelimit-reset` and the documented body
(developer docs, "Rate Limits"). A request that would fail for real fails here. (PagerDuty itself falls
back to the token's API version without `Accept`; the stand-in holds callers to what the spec requires.)
"""

from __future__ import annotations

import html
import re
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from aof_lab.sandbox.httpserver import HTTPService, Request, Response
from aof_lab.sandbox.ratelimit import RateLimiter

STATUSES = ("triggered", "acknowledged", "resolved")
_LOG_TYPES = {"triggered": "trigger_log_entry", "acknowledged": "acknowledge_log_entry", "resolved": "resolve_log_entry"}
BANNER = "SANDBOX -- not PagerDuty"
ACCEPT = "application/vnd.pagerduty+json;version=2"
RATE_LIMIT = (960, 60.0)  # PagerDuty's REST API: 960 requests per minute per user token


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    status: int = 0


@dataclass
class _Incident:
    id: str
    number: int
    title: str
    service: str
    urgency: str
    details: dict[str, Any]
    status: str = "triggered"
    created_at: str = field(default_factory=_now)
    updated_at: str = field(default_factory=_now)
    resolution: str | None = None
    changed_by: str | None = None
    log: list[dict[str, Any]] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)


def _service_id(name: str) -> str:
    return "PSVC" + re.sub(r"[^A-Z0-9]", "", name.upper())[:8]


class PagerDutyAPI(HTTPService):
    """PagerDuty REST API v2 stand-in; `base_url` stands for https://api.pagerduty.com."""

    def __init__(self, *, api_key: str | None = None, rate_limit: tuple[int, float] = RATE_LIMIT,
                 host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        self.api_key = api_key or "sandbox-pd-" + secrets.token_hex(10)
        self.rate_limit = rate_limit
        self.limiter = RateLimiter({"rest": rate_limit[0]}, rate_limit[1])
        self._throttled: tuple[int, int] = (0, 1)  # (requests still to refuse, their ratelimit-reset)
        self.requests: list[RecordedRequest] = []
        self._incidents: dict[str, _Incident] = {}
        self._lock = threading.RLock()

    @property
    def base_url(self) -> str:
        return self.url

    def add_incident(
        self, id: str, title: str, service: str = "API Service", urgency: str = "high",
        details: dict[str, Any] | None = None,
    ) -> None:
        """Seed an open (triggered) incident with one alert carrying `details` as its custom details
        (works before `start()`)."""
        with self._lock:
            inc = _Incident(id, len(self._incidents) + 1, title, service, urgency, dict(details or {}))
            inc.log.append({"type": "trigger_log_entry", "created_at": inc.created_at, "summary": "Triggered (sandbox seed)"})
            self._incidents[id] = inc

    def throttle(self, requests: int, reset_seconds: int = 1) -> None:
        """Answer the next `requests` API calls with 429 (`ratelimit-reset: reset_seconds`), as when another
        client of the same token used up its minute."""
        with self._lock:
            self._throttled = (requests, reset_seconds)

    def incident(self, id: str) -> dict[str, Any]:
        """The incident as GET /incidents/{id} shows it (for tests and the demo timeline)."""
        with self._lock:
            return self._incident_api(self._incidents[id])

    # ----- representation ---------------------------------------------------------------------
    def _incident_api(self, inc: _Incident) -> dict[str, Any]:
        svc = {"id": _service_id(inc.service), "type": "service_reference", "summary": inc.service,
               "self": f"{self.url}/services/{_service_id(inc.service)}", "html_url": f"{self.url}/services/{_service_id(inc.service)}"}
        d: dict[str, Any] = {
            "id": inc.id, "type": "incident", "summary": f"[#{inc.number}] {inc.title}", "title": inc.title,
            "incident_number": inc.number, "status": inc.status, "urgency": inc.urgency,
            "incident_key": inc.id.lower(), "service": svc, "assignments": [], "acknowledgements": [],
            "created_at": inc.created_at, "updated_at": inc.updated_at, "last_status_change_at": inc.updated_at,
            "self": f"{self.url}/incidents/{inc.id}", "html_url": f"{self.url}/incidents/{inc.id}",
            "alert_counts": {"all": 1, "triggered": int(inc.status != "resolved"), "resolved": int(inc.status == "resolved")},
            "body": {"type": "incident_body", "details": "SANDBOX incident (not PagerDuty)"},
        }
        if inc.changed_by:
            d["last_status_change_by"] = {"type": "user_reference", "summary": inc.changed_by}
        if inc.resolution is not None:
            d["resolve_reason"] = {"type": "resolve_reason", "summary": inc.resolution}
        return d

    def _alert_api(self, inc: _Incident) -> dict[str, Any]:
        return {
            "id": f"A{inc.id}", "type": "alert", "summary": inc.title, "status": "resolved" if inc.status == "resolved" else "triggered",
            "created_at": inc.created_at, "severity": "critical" if inc.urgency == "high" else "warning",
            "alert_key": inc.id.lower(), "self": f"{self.url}/alerts/A{inc.id}", "html_url": f"{self.url}/incidents/{inc.id}",
            "incident": {"id": inc.id, "type": "incident_reference"},
            "service": {"id": _service_id(inc.service), "type": "service_reference", "summary": inc.service},
            "body": {"type": "alert_body", "contexts": [], "details": dict(inc.details),
                     "cef_details": {"details": dict(inc.details), "description": inc.title}},
        }

    # ----- HTTP -------------------------------------------------------------------------------
    def handle(self, req: Request) -> Response:
        if req.path in ("/", "/index.html") or (req.path.startswith("/incidents/") and "text/html" in (req.headers.get("Accept") or "")):
            return Response.html(self._page(req.path))
        if req.path == "/healthz":
            return Response.json({"ok": True, "sandbox": "pagerduty"})
        try:
            body = req.json() if req.body else None
        except ValueError:
            body = req.body.decode(errors="replace")
        rec = RecordedRequest(req.method, req.path + (("?" + "&".join(f"{k}={v}" for k, vs in req.query.items() for v in vs)) if req.query else ""),
                              {k: v for k, v in req.headers.items()}, body)
        self.requests.append(rec)
        resp = self._api(req, body)
        rec.status = resp.status
        return resp

    def _api(self, req: Request, body: Any) -> Response:
        auth = req.headers.get("Authorization") or ""
        m = re.fullmatch(r"Token token=(\S+)", auth.strip())
        if not m or m.group(1) != self.api_key:
            return _error(401, 2006, "Authentication failed" if m else "Unauthorized")
        limited = self._rate_limited()
        if limited is not None:
            return limited
        if (req.headers.get("Accept") or "").replace(" ", "") != ACCEPT:
            return _error(400, 2001, "Invalid Input Provided", [f"Accept header must be {ACCEPT}"])
        if req.content_type != "application/json":
            return _error(400, 2001, "Invalid Input Provided", ["Content-Type header must be application/json"])
        parts = [p for p in req.path.split("/") if p]
        with self._lock:
            if parts == ["incidents"] and req.method == "GET":
                return self._list(req)
            if len(parts) >= 2 and parts[0] == "incidents":
                inc = self._incidents.get(parts[1])
                if not inc:
                    return _error(404, 2100, "Not Found")
                if len(parts) == 2 and req.method == "GET":
                    return Response.json({"incident": self._incident_api(inc)})
                if len(parts) == 2 and req.method == "PUT":
                    return self._update(req, inc, body)
                if parts[2:] == ["alerts"] and req.method == "GET":
                    return Response.json({"alerts": [self._alert_api(inc)], "limit": 25, "offset": 0, "more": False, "total": None})
                if parts[2:] == ["log_entries"] and req.method == "GET":
                    return Response.json({"log_entries": inc.log, "limit": 25, "offset": 0, "more": False, "total": None})
                if parts[2:] == ["notes"] and req.method == "POST":
                    return self._note(req, inc, body)
        return _error(404, 2100, "Not Found")

    def _list(self, req: Request) -> Response:
        wanted = req.query.get("statuses[]") or req.query.get("statuses") or []
        incs = [i for i in self._incidents.values() if not wanted or i.status in wanted]
        offset, limit = int(req.q("offset", "0") or 0), int(req.q("limit", "25") or 25)
        page = incs[offset:offset + limit]
        return Response.json({"incidents": [self._incident_api(i) for i in page], "limit": limit, "offset": offset,
                              "more": offset + limit < len(incs), "total": len(incs) if req.q("total") == "true" else None})

    def _update(self, req: Request, inc: _Incident, body: Any) -> Response:
        sender = (req.headers.get("From") or "").strip()
        if not re.fullmatch(r"[^@\s]+@[^@\s]+", sender):
            return _error(400, 2001, "Invalid Input Provided",
                          ['You must specify a user\'s email address in the "From" header to perform this action'])
        data = body.get("incident") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            return _error(400, 2001, "Invalid Input Provided", ["incident is required"])
        if data.get("type") not in ("incident", "incident_reference"):
            return _error(400, 2001, "Invalid Input Provided", ["Incident type must be 'incident_reference'"])
        status = data.get("status")
        if status is not None and status not in STATUSES:
            return _error(400, 2001, "Invalid Input Provided", [f"Status must be one of {', '.join(STATUSES)}"])
        if status and status != inc.status:
            inc.status = status
            inc.changed_by = sender
            inc.log.append({"type": _LOG_TYPES[status],
                            "created_at": _now(), "summary": f"{status.capitalize()} by {sender}"})
        if status == "resolved" and data.get("resolution") is not None:
            inc.resolution = str(data["resolution"])
        if data.get("title"):
            inc.title = str(data["title"])
        if data.get("urgency") in ("high", "low"):
            inc.urgency = data["urgency"]
        inc.updated_at = _now()
        return Response.json({"incident": self._incident_api(inc)})

    def _note(self, req: Request, inc: _Incident, body: Any) -> Response:
        if not (req.headers.get("From") or "").strip():
            return _error(400, 2001, "Invalid Input Provided", ['"From" header is required'])
        content = ((body or {}).get("note") or {}).get("content") if isinstance(body, dict) else None
        if not content:
            return _error(400, 2001, "Invalid Input Provided", ["note content is required"])
        note = {"id": f"N{len(inc.notes) + 1}", "content": content, "created_at": _now(),
                "user": {"type": "user_reference", "summary": req.headers.get("From")}}
        inc.notes.append(note)
        return Response.json({"note": note}, 201)

    def _page(self, path: str) -> str:
        with self._lock:
            rows = "".join(
                f'<tr id="{html.escape(i.id)}" class="{i.status}"><td>{html.escape(i.id)}</td><td>{html.escape(i.title)}</td>'
                f"<td>{html.escape(i.service)}</td><td>{i.urgency}</td><td><b>{i.status}</b></td>"
                f"<td>{html.escape(i.changed_by or '')}</td><td>{html.escape(i.resolution or '')}</td>"
                f"<td>{html.escape(i.updated_at)}</td></tr>"
                for i in self._incidents.values()
            )
        return _PAGE.format(banner=BANNER, rows=rows or '<tr><td colspan="8">No incidents.</td></tr>')


    def _rate_limited(self) -> Response | None:
        with self._lock:
            left, reset = self._throttled
            self._throttled = (max(0, left - 1), reset)
        wait = reset if left > 0 else self.limiter.check("rest")
        if not wait:
            return None
        return Response.json({"error": {"message": "Rate Limit Exceeded", "code": 2020}}, 429,
                             {"ratelimit-limit": str(self.rate_limit[0]), "ratelimit-remaining": "0",
                              "ratelimit-reset": str(wait)})


def _error(status: int, code: int, message: str, errors: list[str] | None = None) -> Response:
    return Response.json({"error": {"message": message, "code": code, "errors": errors or []}}, status)


_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><meta http-equiv="refresh" content="3"><title>Incidents -- {banner}</title>
<style>
body {{ font-family: Helvetica, Arial, sans-serif; margin: 0; }}
header {{ background: #b00020; color: #fff; padding: 8px 16px; font-weight: bold; }}
header small {{ font-weight: normal; }}
table {{ border-collapse: collapse; margin: 16px; }} td, th {{ border: 1px solid #ddd; padding: 6px 10px; text-align: left; }}
tr.triggered td {{ background: #fdecea; }} tr.acknowledged td {{ background: #fff8e1; }} tr.resolved td {{ background: #e8f5e9; }}
</style></head><body>
<header>{banner} <small>· local stand-in for PagerDuty run by aof-airflow's sandbox; no real pages are sent</small></header>
<table><tr><th>ID</th><th>Title</th><th>Service</th><th>Urgency</th><th>Status</th><th>Changed by</th><th>Resolution</th><th>Updated</th></tr>
{rows}</table>
</body></html>
"""
