"""The Airflow REST API as the relay uses it: a JWT from /auth/token, dagRuns create, queued count.

Thread-safe (one httpx.Client, token behind a lock). A rejected token (401, or 403 "Invalid JWT
token" after a secret rotation) is replaced once per call.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx


class AirflowUnavailable(Exception):
    """Connection refused, timeout, 5xx: retry later."""


@dataclass(frozen=True)
class TriggerResult:
    status: int
    created: bool  # True: a new run; False with ok: the run already existed (409)
    ok: bool
    detail: str


class AirflowClient:
    def __init__(self, base_url: str, username: str, password: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._username, self._password = username, password
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, trust_env=False)
        self._token: str | None = None
        self._lock = threading.Lock()

    def close(self) -> None:
        self._http.close()

    def _get_token(self, force: bool = False) -> str:
        with self._lock:
            if self._token is None or force:
                r = self._send("POST", "/auth/token", json={"username": self._username, "password": self._password},
                               auth=False)
                if r.status_code not in (200, 201):
                    raise AirflowUnavailable(f"/auth/token answered {r.status_code}")
                self._token = r.json()["access_token"]
            return self._token

    def _send(self, method: str, path: str, auth: bool = True, **kw: Any) -> httpx.Response:
        try:
            return self._http.request(method, path, **kw)
        except httpx.HTTPError as exc:
            raise AirflowUnavailable(f"{type(exc).__name__}: {exc}") from None

    def request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        for attempt in range(2):
            token = self._get_token(force=attempt > 0)
            r = self._send(method, path, headers={"Authorization": f"Bearer {token}"}, **kw)
            rejected = r.status_code == 401 or (r.status_code == 403 and "Invalid JWT token" in r.text)
            if not rejected:
                break
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
