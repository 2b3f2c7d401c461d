"""The one client of the Airflow 3 REST API: a JWT from `/auth/token`, refreshed before it expires and once
when rejected; thread-safe. The relay's delivery, aofctl, incidents, the lab's demo and the tests all use it.

The relay's calls (`trigger_run`, `queued_runs`) turn anything that means "try again later" (connection
refused, timeout, 5xx, no token) into `AirflowUnavailable`, which its dispatcher answers with backoff.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Iterable

import httpx
import jwt


class AirflowAPIError(RuntimeError):
    pass


class AirflowUnavailable(Exception):
    """Connection refused, timeout, 5xx: retry later."""


@dataclass(frozen=True)
class TriggerResult:
    status: int
    created: bool  # True: a new run; False with ok: the run already existed (409)
    ok: bool
    detail: str


TRIGGER_ATTEMPTS = 4  # a 5xx is retried only for a named run: a retried create then answers 409, never a twin


def jwt_expiry(token: str) -> float:
    """The `exp` claim, read without verifying (the server verifies); unknown -> five minutes from now."""
    try:
        return float(jwt.decode(token, options={"verify_signature": False})["exp"])
    except (jwt.PyJWTError, KeyError, TypeError, ValueError):
        return time.time() + 300


class AirflowAPI:
    def __init__(self, base_url: str, username: str, password: str, *, timeout: float = 30) -> None:
        self.base_url = base_url.rstrip("/")
        self.username, self.password = username, password
        self._client = httpx.Client(base_url=self.base_url, timeout=timeout, trust_env=False)  # loopback: no proxy
        self._token: str | None = None
        self._token_exp = 0.0
        self._lock = threading.Lock()

    def close(self) -> None:
        self._client.close()

    def token(self, *, renew: bool = False) -> str:
        """A JWT, cached until a minute before it expires."""
        with self._lock:
            if renew or self._token is None or time.time() > self._token_exp - 60:
                r = self._client.post("/auth/token", json={"username": self.username, "password": self.password})
                if r.status_code >= 300:
                    raise AirflowAPIError(f"POST /auth/token: {r.status_code} {r.text[:300]}")
                self._token = r.json()["access_token"]
                self._token_exp = jwt_expiry(self._token)
            return self._token

    def api(self, method: str, path: str, *, retries: int = 3, **kw: Any) -> httpx.Response:
        """A call with the JWT (`path` like `/api/v2/dags`); a fresh token on 401. Reads are retried on
        transport errors: a busy api-server (one worker on a small machine) is slow, not gone."""
        headers = dict(kw.pop("headers", {}))
        renew, failures = False, 0
        while True:
            try:
                token = self.token(renew=renew)
                r = self._client.request(method, path, headers={**headers, "Authorization": f"Bearer {token}"}, **kw)
            except httpx.TransportError:
                failures += 1
                if method.upper() not in ("GET", "HEAD") or failures > retries:
                    raise
                time.sleep(2)
                continue
            # 403 "Invalid JWT token": the api-server's secret was rotated under a still-unexpired token
            rejected = r.status_code == 401 or (r.status_code == 403 and "Invalid JWT token" in r.text)
            if rejected and not renew:
                renew = True
                continue
            return r

    def healthy(self) -> bool:
        try:
            return self._client.get("/api/v2/monitor/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def trigger(self, dag_id: str, conf: dict | None = None, run_id: str | None = None) -> dict:
        body: dict[str, Any] = {"logical_date": None, "conf": conf or {}}
        if run_id:
            body["dag_run_id"] = run_id
        for attempt in range(TRIGGER_ATTEMPTS):
            r = self.api("POST", f"/api/v2/dags/{dag_id}/dagRuns", json=body)
            if r.status_code == 409 and attempt and run_id:  # an earlier attempt was applied after all
                run = self.get_run(dag_id, run_id)
                if run is not None:
                    return run
            # Airflow on SQLite answers a write that waited out the file lock (a busy start-up) with a 500
            if r.status_code < 500 or not run_id:
                break
            time.sleep(1 + attempt)
        if r.status_code >= 300:
            raise AirflowAPIError(f"trigger {dag_id}: {r.status_code} {r.text[:500]}")
        return r.json()

    def get_dag(self, dag_id: str) -> dict | None:
        r = self.api("GET", f"/api/v2/dags/{dag_id}")
        return r.json() if r.status_code == 200 else None

    def wait_for_dag(self, dag_id: str, timeout: float = 60) -> dict:
        """Until the dag-processor has parsed `dag_id`; fails with the import errors if it never does."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            dag = self.get_dag(dag_id)
            if dag:
                return dag
            time.sleep(0.5)
        raise AirflowAPIError(f"DAG {dag_id!r} not loaded after {timeout}s; import errors: {self.import_errors()}")

    def get_run(self, dag_id: str, run_id: str) -> dict | None:
        r = self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
        return r.json() if r.status_code == 200 else None

    def list_runs(self, dag_id: str, **params: Any) -> list[dict]:
        r = self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns", params={"limit": 1000, **params})
        r.raise_for_status()
        return r.json()["dag_runs"]

    def wait_for_run(self, dag_id: str, run_id: str, states: Iterable[str] = ("success", "failed"),
                     timeout: float = 120) -> str:
        want = set(states)
        deadline = time.monotonic() + timeout
        state = None
        while time.monotonic() < deadline:
            run = self.get_run(dag_id, run_id)
            state = run and run["state"]
            if state in want:
                return state
            time.sleep(0.5)
        tasks = self.task_states(dag_id, run_id) if state else {}
        raise AirflowAPIError(f"run {dag_id}/{run_id} is {state!r}, not in {sorted(want)} after {timeout}s; tasks: {tasks}")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        r = self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 1000})
        r.raise_for_status()
        return r.json()["task_instances"]

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        return {ti["task_id"]: ti["state"] for ti in self.task_instances(dag_id, run_id) if ti.get("map_index", -1) == -1}

    def import_errors(self) -> list[dict]:
        r = self.api("GET", "/api/v2/importErrors")
        r.raise_for_status()
        return r.json()["import_errors"]

    # -- the relay's calls: no retries here, "later" is the caller's decision --

    def call_or_unavailable(self, method: str, path: str, **kw: Any) -> httpx.Response:
        try:
            r = self.api(method, path, retries=0, **kw)
        except (httpx.HTTPError, AirflowAPIError) as exc:
            raise AirflowUnavailable(f"{type(exc).__name__}: {exc}") from None
        if r.status_code >= 500:
            raise AirflowUnavailable(f"{method} {path} answered {r.status_code}")
        return r

    def trigger_run(self, dag_id: str, dag_run_id: str, conf: dict[str, Any]) -> TriggerResult:
        r = self.call_or_unavailable("POST", f"/api/v2/dags/{dag_id}/dagRuns",
                                     json={"dag_run_id": dag_run_id, "logical_date": None, "conf": conf})
        if r.status_code in (200, 201):
            return TriggerResult(r.status_code, True, True, "created")
        if r.status_code == 409:
            return TriggerResult(409, False, True, "run already exists")
        return TriggerResult(r.status_code, False, False, r.text[:500])

    def queued_runs(self, dag_id: str) -> int:
        r = self.call_or_unavailable("GET", f"/api/v2/dags/{dag_id}/dagRuns", params={"state": "queued", "limit": 1})
        if r.status_code != 200:
            raise AirflowUnavailable(f"queued runs of {dag_id}: {r.status_code}")
        return int(r.json().get("total_entries", 0))
