"""Hostile and broken webhook requests with the status each must get (shared by unit and integration tests).

Each case: (name, method, headers, body, expected status). `{TOKEN}` in a header is replaced by the
valid webhook token; the path is the seed flow's `/pagerduty/webhook`. Only bad auth, a body that is not
a JSON object and an oversized body get a 4xx (besides a wrong method or content type): a well-authenticated
JSON object that is no incident to act on gets a 202 "ignored" and starts nothing, and an incident no run can
be made of (no usable id or title) a 202 "failed" that the relay reports -- PagerDuty disables a subscription
after three 4xx in a row. HOSTILE_IDS are ids that look like attacks but name an incident: each is a run.
"""

from __future__ import annotations

import json

TOKEN = "test-webhook-token-0123456789"


def tutorial(iid: str = "HOSTILE1", **over) -> dict:
    inc = {"id": iid, "title": "High memory usage on api-deployment", "service": {"name": "API Service"},
           "urgency": "high", "html_url": f"https://yourcompany.pagerduty.com/incidents/{iid}",
           # a workload per incident: incidents on one workload with an open run attach to it (one remediation
           # per target, relay/signal_gate.py), and these tests are about runs, one each
           "custom_details": {"namespace": "production", "resource": f"deployment/api-{str(iid).lower()}"}}
    inc.update(over)
    return {"event": {"incident": inc}}


def v3(iid: str = "Q0V3HOSTILE", event_type: str = "incident.triggered", **over) -> dict:
    data = {"id": iid, "type": "incident", "title": "Disk full on db-1", "status": "triggered", "urgency": "high",
            "html_url": f"https://acme.pagerduty.com/incidents/{iid}", "number": 7,
            "service": {"id": "PSVC1", "type": "service_reference", "summary": "PostgreSQL"}}
    data.update(over)
    return {"event": {"id": "01EVT" + str(iid), "event_type": event_type, "resource_type": "incident",
                      "occurred_at": "2026-11-27T10:00:00Z", "agent": None, "client": None, "data": data}}


def _j(obj) -> bytes:
    return json.dumps(obj).encode()


AUTH = {"Authorization": "Bearer {TOKEN}", "Content-Type": "application/json"}
GOOD = _j(tutorial())
DEEP = b'{"event": {"incident": {"id": "DEEP1", "title": "t", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}}}"

# (name, method, headers, body, status)
HOSTILE: list[tuple[str, str, dict, bytes, int]] = [
    ("no auth header", "POST", {"Content-Type": "application/json"}, GOOD, 401),
    ("wrong token", "POST", {**AUTH, "Authorization": "Bearer wrong-token"}, GOOD, 403),
    ("token prefix", "POST", {**AUTH, "Authorization": "Bearer " + TOKEN[:-1]}, GOOD, 403),
    ("token plus char", "POST", {**AUTH, "Authorization": "Bearer " + TOKEN + "x"}, GOOD, 403),
    ("basic scheme", "POST", {**AUTH, "Authorization": "Basic " + TOKEN}, GOOD, 401),
    ("bare token", "POST", {**AUTH, "Authorization": TOKEN}, GOOD, 401),
    ("empty bearer", "POST", {**AUTH, "Authorization": "Bearer"}, GOOD, 401),
    ("GET method", "GET", AUTH, b"", 405),
    ("PUT method", "PUT", AUTH, GOOD, 405),
    ("DELETE method", "DELETE", AUTH, GOOD, 405),
    ("PATCH method", "PATCH", AUTH, GOOD, 405),
    ("text/plain", "POST", {**AUTH, "Content-Type": "text/plain"}, GOOD, 415),
    ("form encoded", "POST", {**AUTH, "Content-Type": "application/x-www-form-urlencoded"}, GOOD, 415),
    ("no content type", "POST", {"Authorization": AUTH["Authorization"]}, GOOD, 415),
    ("xml", "POST", {**AUTH, "Content-Type": "application/xml"}, b"<event/>", 415),
    ("oversize body", "POST", AUTH, _j(tutorial(pad="x" * 400_000)), 413),
    ("invalid json", "POST", AUTH, b'{"event": {"incident": ', 400),
    ("empty body", "POST", AUTH, b"", 400),
    ("json array", "POST", AUTH, b"[1, 2, 3]", 400),
    ("json string", "POST", AUTH, b'"event"', 400),
    ("NaN constant", "POST", AUTH, b'{"event": {"incident": {"id": "N1", "title": "t", "x": NaN}}}', 400),
    ("not utf-8", "POST", AUTH, b'{"event": {"incident": {"id": "U1", "title": "\xff\xfe"}}}', 400),
    ("deep nesting", "POST", AUTH, DEEP, 400),
    # accepted (2xx) but must not start a flow
    ("no event", "POST", AUTH, _j({"incident": tutorial()["event"]["incident"]}), 202),
    ("event not object", "POST", AUTH, _j({"event": "incident.triggered"}), 202),
    ("incident is list", "POST", AUTH, _j({"event": {"incident": [1]}}), 202),
    ("missing incident id", "POST", AUTH, _j({"event": {"incident": {"title": "x"}}}), 202),
    ("empty incident id", "POST", AUTH, _j(tutorial("")), 202),
    ("numeric incident id", "POST", AUTH, _j(tutorial(12345)), 202),
    ("missing title", "POST", AUTH, _j({"event": {"incident": {"id": "NOTITLE"}}}), 202),
    ("title not string", "POST", AUTH, _j(tutorial("BADTITLE", title={"a": 1})), 202),
    ("service not object", "POST", AUTH, _j(tutorial("BADSVC", service="API")), 202),
    ("v3 missing data id", "POST", AUTH, _j(v3(iid=None)), 202),
    ("v3 data not object", "POST", AUTH, _j({"event": {"event_type": "incident.triggered", "data": []}}), 202),
    ("v3 wrong resource", "POST", AUTH, _j({**v3(), "event": {**v3()["event"], "resource_type": "service"}}), 202),
    ("v3 acknowledged event", "POST", AUTH, _j(v3("Q0ACK", event_type="incident.acknowledged")), 202),
    ("v3 unknown event type", "POST", AUTH, _j(v3("Q0UNK", event_type="incident.exploded")), 202),
    ("tutorial resolved type", "POST", AUTH, _j({"event": {**tutorial("RESOLVED1")["event"],
                                                           "event_type": "incident.resolved"}}), 202),
]
# the 202s above that are incidents no run can be made of: stored as failed and reported, not ignored
FAILED_NOT_IGNORED = {"incident is list", "missing incident id", "empty incident id", "numeric incident id",
                      "missing title", "title not string", "service not object", "v3 missing data id"}
# ids an incident may carry that Airflow's run-id rules, a URL path or a shell would choke on: each is a run
HOSTILE_IDS = ["..", ".", "../../dags", "INC-2024..1", "X; rm -rf /", "a b", "$(reboot)", "manual__2024", "a/b/c",
               "ü-ünïcode-☃", "<!channel>", "*bold*", "%2e%2e", "x" * 1000, "-", "_", "~", "a:b", "a+b"]
UNKNOWN_PATH = ("unknown path", "POST", "/pagerduty/other", AUTH, GOOD, 404)


def headers_for(h: dict, token: str = TOKEN) -> dict:
    return {k: v.replace("{TOKEN}", token) for k, v in h.items()}
