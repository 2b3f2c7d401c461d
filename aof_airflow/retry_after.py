"""The one reader of `Retry-After` (RFC 9110: seconds or an HTTP date), and of OpenAI/Anthropic's `retry-after-ms`."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping


def retry_after_seconds(headers: Mapping[str, object] | None, now: float | None = None) -> float | None:
    """Seconds the server asks us to wait (>= 0), or None when it says nothing readable."""
    found = {str(k).lower(): v for k, v in (headers or {}).items()}
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        raw = found.get(name)
        if isinstance(raw, (list, tuple)):  # some clients keep every value of a header
            raw = raw[0] if raw else None
        if raw in (None, ""):
            continue
        text = str(raw).strip()
        try:
            return max(0.0, float(text) / scale)
        except ValueError:
            pass
        if scale == 1.0:
            parsed = email.utils.parsedate_tz(text)
            if parsed:
                return max(0.0, email.utils.mktime_tz(parsed) - (time.time() if now is None else now))
    return None
