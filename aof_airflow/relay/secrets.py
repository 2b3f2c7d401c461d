"""Resolve `${NAME}` in a trigger's auth settings: env var, else Airflow Variable, else Connection password.

Resolved per request (cached briefly) so a rotated token takes effect without a restart. An unresolved
reference resolves to None, and the caller refuses every request: a missing secret never means "no auth".
"""

from __future__ import annotations

import os
import re
import threading
import time

_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
_TTL = 30.0
_cache: dict[str, tuple[float, str | None]] = {}
_lock = threading.Lock()


def _lookup(name: str) -> str | None:
    v = os.environ.get(name)
    if v:
        return v
    try:
        from airflow.models.variable import Variable

        v = Variable.get(name, default_var=None)
        if v:
            return str(v)
    except Exception:
        pass
    try:
        from airflow.models.connection import Connection

        conn = Connection.get_connection_from_secrets(name.lower())
        return conn.password or None
    except Exception:
        return None


def resolve(value: str) -> str | None:
    """`${NAME}` -> its value (None if unset); any other string is a literal secret."""
    m = _REF.match(value.strip())
    if not m:
        return value or None
    name = m.group(1)
    now = time.monotonic()
    with _lock:
        hit = _cache.get(name)
        if hit and hit[0] > now and os.environ.get(name, hit[1]) == hit[1]:
            return hit[1]
    v = _lookup(name)
    with _lock:
        _cache[name] = (now + _TTL, v)
    return v


def clear_cache() -> None:
    with _lock:
        _cache.clear()
