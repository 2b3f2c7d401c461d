"""What the generic HTTP node must know about a particular API, looked up by the URL's host.

The HTTP operator knows no service by name: a profile tells it which Connections serve the host, which
`${NAME}` the Connection's password stands for, which headers the API requires (and whether a request
lacks one it cannot invent), and how long a rate-limited answer asks it to wait. The profiles themselves
live with the service they describe (services/pagerduty.py).
"""

from __future__ import annotations

import email.utils
import importlib
import time
from dataclasses import dataclass
from functools import cache
from typing import Any, Callable, Mapping

PROFILES = ("aof_airflow.services.pagerduty:PROFILE",)  # module:attribute, imported on first use


class ProfileError(ValueError):
    """The request cannot be sent as the API requires; the message says what to set."""


@dataclass(frozen=True)
class ApiProfile:
    name: str
    host: str
    connection_ids: tuple[str, ...]  # tried after the node's own and `aof_http_<host slug>`
    secret_variable: str | None  # the `${NAME}` that the Connection's password stands for
    prepare_headers: Callable[[str, dict[str, str], Any], dict[str, str]]  # (method, headers, connection)
    rate_limit_wait: Callable[[int, Mapping[str, str]], float | None]  # (status, headers) -> seconds or None


@cache
def _registered() -> dict[str, ApiProfile]:
    out: dict[str, ApiProfile] = {}
    for ref in PROFILES:
        module, _, attr = ref.partition(":")
        profile = getattr(importlib.import_module(module), attr)
        out[profile.host] = profile
    return out


def profile_for(host: str | None) -> ApiProfile | None:
    return _registered().get((host or "").lower())


def retry_after(status: int, headers: Mapping[str, str]) -> float | None:
    """RFC 9110 `Retry-After` (seconds or an HTTP date) on a 429 or 503; None when absent or unreadable."""
    if status not in (429, 503):
        return None
    value = (headers.get("retry-after") or "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
