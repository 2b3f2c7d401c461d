"""Parse and normalise a webhook body into the seed's shape `{"event": {"incident": {...}}}`.

Two input shapes: the tutorial's (`event.incident.*`, passed through as received) and the real PagerDuty v3
one (`event.event_type`, `event.data`), mapped onto the tutorial's field names so one flow serves both.

Only a body that is not a JSON object is refused (`BadEvent`, a 400). Any other well-authenticated delivery is
answered 2xx: PagerDuty counts a 4xx as a dropped webhook and disables the subscription after three in a row.
What is no incident -- `pagey.ping`, `service.*`, a body without `event` -- comes back as an `Event` whose
`ignore` says why. An incident the relay cannot run (no id, no title) comes back with `invalid` saying why:
the relay records it as a failure it reports (readiness, metric, Slack), never as silently ignored. Any
non-empty printable id is usable: the run id is made safe from it (run_ids.py), the id itself travels
unchanged in the conf. Sub-events (notes, responders, conference bridge, custom fields, role assignments,
workflows, tasks, ...) name their incident in `data.incident.id` (role assignments: in each assignment), not
`data.id`, and their service, when they carry one, in `data.service`; the trigger's `events:` and
`service_ids` decide whether such an event starts a run.

Control characters are handled here, once (see services/event_text.py): the conf carries cleaned text and
`conf["aof"]["received"]` the strings as they arrived.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aof_airflow.services.event_text import clean

MAX_ID_CHARS = 1000  # a longer id is no PagerDuty id: refused (visibly) rather than carried around
TUTORIAL_EVENT_TYPE = "incident.triggered"
META = "aof"  # conf key of what the relay adds: received text, enrichment status (never a field of the event)


class BadEvent(ValueError):
    """A 400: the body is not a JSON object."""


@dataclass(frozen=True)
class Event:
    event_type: str
    incident_id: str  # "" when the event names no usable incident
    conf: dict[str, Any]  # the DAG run's conf
    source: str  # "tutorial" | "pagerduty.v3"
    needs_details: bool  # v3: custom_details still to be fetched from the incident's first alert
    ignore: str | None = None  # why this delivery starts no run, whatever the trigger's events: not an incident
    invalid: str | None = None  # an incident event that cannot become a run: reported as a failure
    event_id: str | None = None  # PagerDuty's id of this occurrence (v3 `event.id`)


def parse_json(body: bytes, max_depth: int) -> Any:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadEvent("body is not UTF-8") from None
    if _depth_exceeds(text, max_depth):
        raise BadEvent(f"JSON nested deeper than {max_depth} levels")
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise BadEvent(f"malformed JSON: {str(exc)[:120]}") from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _depth_exceeds(text: str, limit: int) -> bool:
    """Bracket depth outside strings, checked before parsing so a hostile body never recurses deep."""
    if text.count("[") + text.count("{") <= limit:
        return False
    depth, in_str, esc = 0, False, False
    for ch in text:
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
            if depth > limit:
                return True
        elif ch in "]}":
            depth -= 1
    return False


def _dict(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def _text(v: Any) -> str | None:
    return v if isinstance(v, str) else None


def normalize(payload: Any) -> Event:
    if not isinstance(payload, dict):
        raise BadEvent("the body must be a JSON object")
    received: dict[str, str] = {}
    root = clean(payload, received)
    event = root.get("event")
    if not isinstance(event, dict):
        return _ignored("(none)", "tutorial", "no `event` object in the body", root, received)
    if "incident" in event:
        ev = _tutorial(root, event)
    elif "data" in event or "event_type" in event:
        ev = _v3(event)
    else:
        return _ignored("(none)", "tutorial", "`event` has neither `incident` (tutorial shape) nor `event_type` + "
                        "`data` (PagerDuty v3)", root, received)
    if received:
        ev.conf[META] = {"received": received}
    return ev


def _ignored(etype: str, source: str, why: str, conf: dict[str, Any], received: dict[str, str]) -> Event:
    if received:
        conf = {**conf, META: {"received": received}}
    return Event(etype, "", conf, source, needs_details=False, ignore=why)


def _usable_id(v: Any) -> str | None:
    return v if isinstance(v, str) and v.strip() and len(v) <= MAX_ID_CHARS and v.isprintable() else None


UNUSABLE_ID = f"missing, empty, not a string, over {MAX_ID_CHARS} characters or not printable"


def _tutorial(root: dict[str, Any], event: dict[str, Any]) -> Event:
    etype = _text(event.get("event_type")) or TUTORIAL_EVENT_TYPE
    inc = event["incident"]
    why = None
    if not isinstance(inc, dict):
        why = "`event.incident` is not an object"
    elif _usable_id(inc.get("id")) is None:
        why = f"`event.incident.id` is {UNUSABLE_ID}"
    elif not (_text(inc.get("title")) or "").strip():
        why = "`event.incident.title` is missing or not a string"
    elif "service" in inc and not isinstance(inc["service"], dict):
        why = "`event.incident.service` is not an object"
    elif "custom_details" in inc and not isinstance(inc["custom_details"], dict):
        why = "`event.incident.custom_details` is not an object"
    if why:
        iid = inc.get("id") if isinstance(inc, dict) and isinstance(inc.get("id"), str) else ""
        return Event(etype, iid, root, "tutorial", needs_details=False, invalid=why)
    return Event(etype, inc["id"], root, "tutorial", needs_details=False)


def _v3(event: dict[str, Any]) -> Event:
    etype = _text(event.get("event_type")) or "(none)"
    data = _dict(event.get("data"))
    meta = {"event_type": etype, "id": event.get("id"), "occurred_at": event.get("occurred_at")}
    event_id = event.get("id") if isinstance(event.get("id"), str) and event.get("id") else None
    incident = _incident_of(event.get("resource_type"), data)
    if incident is None:
        return Event(etype, "", {"event": meta}, "pagerduty.v3", needs_details=False, event_id=event_id,
                     ignore=f"{etype}: names no incident (resource_type {event.get('resource_type')!r})")
    if _usable_id(incident.get("id")) is None:
        iid = incident.get("id") if isinstance(incident.get("id"), str) else ""
        return Event(etype, iid, {"event": {**meta, "incident": incident}}, "pagerduty.v3", needs_details=False,
                     event_id=event_id, invalid=f"{etype}: the incident id is {UNUSABLE_ID}")
    conf = {"event": {"incident": incident, **meta}}
    return Event(etype, incident["id"], conf, "pagerduty.v3", needs_details=True, event_id=event_id)


def _incident_of(resource_type: Any, data: dict[str, Any]) -> dict[str, Any] | None:
    """The tutorial-shaped incident an event is about: `data` itself for incident events, the incident
    reference of a sub-event (`data.incident`, or a role assignment's), None for pings and services."""
    if resource_type not in (None, "incident"):
        return None
    if data.get("type") == "incident" or ("incident" not in data and "incident_role_assignments" not in data
                                          and "id" in data):
        return _full_incident(data)
    ref = data.get("incident")
    if not isinstance(ref, dict):
        refs = [a.get("incident") for a in data.get("incident_role_assignments") or () if isinstance(a, dict)]
        ref = next((r for r in refs if isinstance(r, dict)), None)
    if not isinstance(ref, dict):
        return None
    return _drop_none({"id": ref.get("id"), "title": _text(ref.get("summary")) or "", "html_url": ref.get("html_url"),
                       "service": _service(data.get("service")), "custom_details": {}})


def _service(ref: Any) -> dict[str, Any]:
    """A service reference as the tutorial names it; sub-events (workflows) carry it in `data.service`."""
    service = _dict(ref)
    sid = service.get("id") if isinstance(service.get("id"), str) else None
    return {"name": _text(service.get("summary")) or _text(service.get("name")) or "", "id": sid}


def _full_incident(data: dict[str, Any]) -> dict[str, Any]:
    priority = _dict(data.get("priority"))
    return _drop_none({
        "id": data.get("id"),
        "title": _text(data.get("title")) or "",
        "service": _service(data.get("service")),
        "urgency": data.get("urgency"),
        "html_url": data.get("html_url"),
        "status": data.get("status"),
        "number": data.get("number"),
        "created_at": data.get("created_at"),
        "priority": priority.get("summary"),
        "custom_details": {},
    })


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def merge_details(conf: dict[str, Any], details: dict[str, Any]) -> dict[str, Any]:
    """conf with the first alert's `body.details` as `event.incident.custom_details`, cleaned like the event."""
    out = json.loads(json.dumps(conf))
    received: dict[str, str] = {}
    out["event"]["incident"]["custom_details"] = clean(details, received, "alert.body.details")
    if received:
        out.setdefault(META, {}).setdefault("received", {}).update(received)
    return out


def without_details(conf: dict[str, Any], reason: str) -> dict[str, Any]:
    """conf for a run that starts without its custom_details, saying so (the record and the first Slack
    message read `aof.enrichment`)."""
    out = json.loads(json.dumps(conf))
    out.setdefault(META, {})["enrichment"] = {"status": "unavailable", "what": "custom_details (namespace, resource)",
                                              "from": "the incident's first PagerDuty alert", "reason": reason}
    return out
