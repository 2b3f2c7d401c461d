"""Queued-run counts per DAG for the relay's `queue_size` limit (429 with Retry-After)."""

from __future__ import annotations

import threading
import time

from aof_airflow.airflow_rest import AirflowAPI, AirflowUnavailable


class QueuedCache:
    """Queued-run counts per DAG, cached ~1 s so a burst of webhooks costs one API call a second."""

    def __init__(self, client: AirflowAPI, ttl: float) -> None:
        self._client, self._ttl = client, ttl
        self._cache: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def get(self, dag_id: str) -> int:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(dag_id)
            if hit and hit[0] > now:
                return hit[1]
        try:
            n = self._client.queued_runs(dag_id)
        except AirflowUnavailable:
            n = 0  # Airflow down: the relay's own undelivered rows still count against the limit
        with self._lock:
            self._cache[dag_id] = (now + self._ttl, n)
        return n
