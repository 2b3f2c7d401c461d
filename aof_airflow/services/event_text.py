"""Event values in a form every node can carry: the one place where control characters are handled.

A NUL cannot be an environment variable (the Transform's bash), nor a Postgres JSONB string (Airflow's
dag_run.conf); a lone surrogate cannot be encoded as UTF-8 at all. So at the edge where an event enters,
every such character in a key or a string becomes U+FFFD, and what was received is kept next to it,
JSON-escaped (ASCII only, so it travels anywhere): `conf["aof"]["received"] = {"event.data.title": "\"a\\u0000b\""}`.
Tab, newline and carriage return are ordinary text and stay. Everything else, including right-to-left
overrides, is passed on as received (the Slack renderer isolates bidi controls where it shows them).
"""

from __future__ import annotations

import json
import re
from typing import Any

REPLACEMENT = "\ufffd"
# C0 controls but \t \n \r, DEL, C1 controls, and surrogates (only lone ones survive json.loads)
UNCARRIABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
MAX_RECEIVED = 50  # strings kept as received; an event with more is still passed on, cleaned


def carriable(text: str) -> str:
    return UNCARRIABLE.sub(REPLACEMENT, text)


def clean(value: Any, received: dict[str, str], path: str = "") -> Any:
    """`value` with every uncarriable character replaced; each changed string's original is added to `received`
    under its dotted path (keys too: a changed key is recorded under its cleaned path + ` (key)`)."""
    if isinstance(value, str):
        out = carriable(value)
        if out != value and len(received) < MAX_RECEIVED:
            received[path or "(body)"] = json.dumps(value)  # ensure_ascii: \u0000, \ud800 as escapes
        return out
    if isinstance(value, dict):
        result: dict[str, Any] = {}
        for k, v in value.items():
            key = carriable(k) if isinstance(k, str) else k
            sub = f"{path}.{key}" if path else str(key)
            if key != k and len(received) < MAX_RECEIVED:
                received[sub + " (key)"] = json.dumps(k)
            result[key] = clean(v, received, sub)
        return result
    if isinstance(value, list):
        return [clean(v, received, f"{path}.{i}") for i, v in enumerate(value)]
    return value
