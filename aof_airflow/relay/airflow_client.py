"""The Airflow REST API as the relay uses it: dagRuns create and the queued count, on the shared client.

Anything that means "try again later" (connection refused, timeout, 5xx, no token) becomes
`AirflowUnavailable`, which the dispatcher answers with backoff; it retries nothing itself.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx

from aof_airflow.local.airflow_api import AirflowAPI, AirflowAPIError


class AirflowUnavailable(Exception):
    """Connection refused, timeout, 5xx: retry later."""


@dataclass(frozen=True)
class TriggerResult:
    status: int
    created: bool  # True: a new run; False with ok: the run already existed (409)
    ok: bool
    detail: str


class AirflowClient(AirflowAPI):
    def __init__(self, base_url: str, username: str, password: str, timeout: float = 10.0) -> None:
        super().__init__(base_url, username, password, timeout=timeout)

    def request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        try:
            r = self.api(method, path, retries=0, **kw)
        except (httpx.HTTPError, AirflowAPIError) as exc:
            raise AirflowUnavailable(f"{type(exc).__name__}: {exc}") from None
        if r.status_code >= 500:
            raise AirflowUnavailable(f"{method} {path} answered {r.status_code}")
        return r

    def trigger_run(self, dag_id: str, dag_run_id: str, conf: dict[str, Any]) -> TriggerResult:
        r = self.request("POST", f"/api/v2/dags/{dag_id}/dagRuns",
                         json={"dag_run_id": dag_run_id, "logical_date": None, "conf": conf})
        if r.status_code in (200, 201):
            return TriggerResult(r.status_code, True, True, "created")
        if r.status_code == 409:
            return TriggerResult(409, False, True, "run already exists")
        return TriggerResult(r.status_code, False, False, r.text[:500])

    def queued_runs(self, dag_id: str) -> int:
        r = self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns", params={"state": "queued", "limit": 1})
        if r.status_code != 200:
            raise AirflowUnavailable(f"queued runs of {dag_id}: {r.status_code}")
        return int(r.json().get("total_entries", 0))


class QueuedCache:
    """Queued-run counts per DAG, cached ~1 s so a burst of webhooks costs one API call a second."""

    def __init__(self, client: AirflowClient, ttl: float) -> None:
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
