"""Bound what the relay stores and hands to Airflow: no value is refused for its size, none passes unbounded.

A long value (a 300 KB title, 512 KB of custom details fetched from the alert) is cut to
`relay_max_value_bytes` with a visible marker; the original's size and SHA-256 go to `conf["aof"]["truncated"]`
(by the value's path), so a run still starts, a reader sees that something was cut and can match it with
PagerDuty's copy. If the conf is still over `relay_max_conf_bytes` (many small values), the biggest objects
under `event.incident` (custom details first) are replaced by such a record as a whole.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

META = "aof"
MARKER = " …[cut by the aof relay: {size} bytes, sha256 {digest}]"


def _record(raw: bytes) -> dict[str, Any]:
    return {"bytes": len(raw), "sha256": hashlib.sha256(raw).hexdigest()}


def _size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass"))


def _cut_text(text: str, limit: int, path: str, cuts: dict[str, Any]) -> str:
    raw = text.encode("utf-8", "surrogatepass")
    if len(raw) <= limit:
        return text
    rec = cuts[path] = _record(raw)
    head = raw[:limit].decode("utf-8", "ignore")  # never half a character
    return head + MARKER.format(size=rec["bytes"], digest=rec["sha256"][:16])


def _walk(value: Any, limit: int, path: str, cuts: dict[str, Any]) -> Any:
    if isinstance(value, str):
        return _cut_text(value, limit, path, cuts)
    if isinstance(value, dict):
        return {k: _walk(v, limit, f"{path}.{k}" if path else str(k), cuts) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, limit, f"{path}[{i}]", cuts) for i, v in enumerate(value)]
    return value


def _largest_objects(conf: dict[str, Any]) -> list[tuple[int, dict[str, Any], str, str]]:
    """(size, parent, key, path) of the values under event.incident, custom details' entries first, biggest first."""
    inc = (conf.get("event") or {}).get("incident") if isinstance(conf.get("event"), dict) else None
    if not isinstance(inc, dict):
        return []
    found = []
    details = inc.get("custom_details")
    if isinstance(details, dict):
        found += [(_size(v), details, k, f"event.incident.custom_details.{k}") for k, v in details.items()]
    found.sort(key=lambda t: -t[0])
    rest = [(_size(v), inc, k, f"event.incident.{k}") for k, v in inc.items() if k not in ("id", "title")]
    return found + sorted(rest, key=lambda t: -t[0])


def bound(conf: dict[str, Any], max_value_bytes: int, max_conf_bytes: int) -> dict[str, Any]:
    """`conf` with long strings cut and, if still too big, the biggest incident fields replaced (see above)."""
    cuts: dict[str, Any] = {}
    meta = conf.get(META) if isinstance(conf.get(META), dict) else {}
    body = {k: v for k, v in conf.items() if k != META}
    out = _walk(body, max_value_bytes, "", cuts)
    meta_out = _walk({k: v for k, v in meta.items() if k != "truncated"}, max_value_bytes, META, cuts)
    total = _size(out) + _size(meta_out)
    if total > max_conf_bytes:
        for size, parent, key, path in _largest_objects(out):
            if total <= max_conf_bytes:
                break
            raw = json.dumps(parent[key], separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass")
            cuts[path] = {**_record(raw), "replaced": "the whole value"}
            parent[key] = f"[cut by the aof relay: {len(raw)} bytes, sha256 {cuts[path]['sha256'][:16]}]"
            total -= size - _size(parent[key])
    if not cuts:
        return conf
    return {**out, META: {**meta_out, "truncated": {**(meta.get("truncated") or {}), **cuts}}}
