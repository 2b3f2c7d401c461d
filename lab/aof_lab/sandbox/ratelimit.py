"""Per-method sliding-window rate limits, the way Slack's Web API tiers answer 429 + Retry-After.

The approval poller must be proven to back off; a stand-in that never says 429 cannot prove it.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque

# Slack's published tiers (requests per minute) for the methods the flow uses.
SLACK_TIERS: dict[str, int] = {
    "auth.test": 100,
    "chat.postMessage": 60,
    "chat.update": 50,
    "chat.getPermalink": 100,
    "conversations.history": 50,
    "conversations.replies": 50,
    "conversations.list": 20,
    "reactions.get": 50,
    "reactions.add": 50,
    "users.info": 100,
    "usergroups.users.list": 50,
}


class RateLimiter:
    """Counts calls per key in a sliding window; `check` returns seconds to wait, or 0 when allowed."""

    def __init__(self, limits: dict[str, int] | None = None, window_seconds: float = 60.0) -> None:
        self.limits: dict[str, int] = dict(limits or {})
        self.window = window_seconds
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def set_limit(self, key: str, per_window: int | None) -> None:
        with self._lock:
            if per_window is None:
                self.limits.pop(key, None)
            else:
                self.limits[key] = per_window
            self._hits.pop(key, None)

    def check(self, key: str) -> int:
        """Record a call if allowed (returns 0); otherwise return the Retry-After seconds (>= 1)."""
        limit = self.limits.get(key)
        if limit is None:
            return 0
        now = time.monotonic()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) < limit:
                hits.append(now)
                return 0
            return max(1, math.ceil(hits[0] + self.window - now))
