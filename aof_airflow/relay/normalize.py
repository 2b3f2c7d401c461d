"""Parse and normalise a webhook body into the seed's shape `{"event": {"incident": {...}}}`.

Two input shapes: the tutorial's (`event.incident.*`, passed through exactly as received) and the
real PagerDuty v3 one (`event.event_type`, `event.data`), mapped onto the tutorial's field names so
one flow serves both. Anything malformed raises `BadEvent` with a reason the sender can act on.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

# Becomes part of the Airflow dag_run_id: keep to characters Airflow accepts and no path tricks.
INCIDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")
TUTORIAL_EVENT_TYPE = "incident.triggered"


class BadEvent(ValueError):
    """A 400: the body is not a usable incident event."""


@dataclass(frozen=True)
class Event:
    event_type: str
    incident_id: str
    conf: dict[str, Any]  # the DAG run's conf
    source: str  # "tutorial" | "pagerduty.v3"
    needs_details: bool  # v3: custom_details still to be fetched from the incident's first alert


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


def _obj(v: Any, where: str) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise BadEvent(f"`{where}` must be an object")
    return v


def _str(d: dict[str, Any], key: str, where: str, required: bool = True) -> str | None:
    v = d.get(key)
    if v is None and not required:
        return None
    if not isinstance(v, str) or not v.strip():
        raise BadEvent(f"`{where}.{key}` is required and must be a non-empty string")
    return v


def _incident_id(v: str, where: str) -> str:
    if not INCIDENT_ID.match(v):
        raise BadEvent(f"`{where}` must match {INCIDENT_ID.pattern}")
    return v


def normalize(payload: Any) -> Event:
    root = _obj(payload, "(body)")
    event = _obj(root.get("event"), "event")
    if "incident" in event:
        return _tutorial(root, event)
    if "data" in event or "event_type" in event:
        return _v3(event)
    raise BadEvent("`event` must contain `incident` (tutorial shape) or `event_type` + `data` (PagerDuty v3)")


def _tutorial(root: dict[str, Any], event: dict[str, Any]) -> Event:
    inc = _obj(event["incident"], "event.incident")
    iid = _incident_id(_str(inc, "id", "event.incident"), "event.incident.id")
    _str(inc, "title", "event.incident")
    if "service" in inc:
        _obj(inc["service"], "event.incident.service")
    if "custom_details" in inc:
        _obj(inc["custom_details"], "event.incident.custom_details")
    etype = event.get("event_type", TUTORIAL_EVENT_TYPE)
    if not isinstance(etype, str):
        raise BadEvent("`event.event_type` must be a string")
    return Event(etype, iid, root, "tutorial", needs_details=False)


def _v3(event: dict[str, Any]) -> Event:
    etype = _str(event, "event_type", "event")
    data = _obj(event.get("data"), "event.data")
    rtype = event.get("resource_type", "incident")
    if rtype != "incident":
        raise BadEvent(f"`event.resource_type` {rtype!r} is not supported (only incident)")
    iid = _incident_id(_str(data, "id", "event.data"), "event.data.id")
    title = _str(data, "title", "event.data", required=etype == TUTORIAL_EVENT_TYPE)
    service = data.get("service") if isinstance(data.get("service"), dict) else {}
    incident: dict[str, Any] = {
        "id": iid,
        "title": title or "",
        "service": {"name": service.get("summary") or service.get("name") or "", "id": service.get("id")},
        "urgency": data.get("urgency"),
        "html_url": data.get("html_url"),
        "status": data.get("status"),
        "number": data.get("number"),
        "created_at": data.get("created_at"),
        "priority": (data.get("priority") or {}).get("summary") if isinstance(data.get("priority"), dict) else None,
        "custom_details": {},
    }
    incident = {k: v for k, v in incident.items() if v is not None}
    conf = {"event": {"incident": incident, "event_type": etype, "id": event.get("id"),
                      "occurred_at": event.get("occurred_at")}}
    return Event(etype, iid, conf, "pagerduty.v3", needs_details=True)


def merge_details(conf: dict[str, Any], details: dict[str, Any]) -> dict[str, Any]:
    """conf with the first alert's `body.details` as `event.incident.custom_details`."""
    out = json.loads(json.dumps(conf))
    out["event"]["incident"]["custom_details"] = details
    return out
