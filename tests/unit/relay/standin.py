"""A tiny stand-in for the two Airflow REST endpoints the relay calls (/auth/token, dagRuns).

Used where Airflow's own speed or availability is not the subject (unit tests, the benchmark); the
integration tests use a real api-server. It speaks the same protocol: JWT-ish bearer required, 409
on a duplicate dag_run_id, `total_entries` for the queued-runs query.
"""

from __future__ import annotations

import secrets
import socket
import threading
import time
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


class AirflowStandIn:
    def __init__(self, username: str = "admin", password: str = "admin") -> None:
        self.username, self.password = username, password
        self.token = secrets.token_urlsafe(24)
        self.runs: dict[tuple[str, str], dict[str, Any]] = {}
        self.posts = 0  # dagRuns POSTs answered (not counting fail_with answers)
        self.attempts = 0  # every dagRuns POST that got past the token check
        self.queued: dict[str, int] = {}
        self.fail_with: int | None = None  # answer every dagRuns POST with this status (e.g. 503)
        self.fail_after: int | None = None  # ... once this many runs were created (Airflow dies mid-batch)
        self.token_requests = 0
        self._lock = threading.Lock()
        self.app = self._build()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    def _build(self) -> FastAPI:
        app = FastAPI()

        @app.post("/auth/token", status_code=201)
        async def token(req: Request):
            body = await req.json()
            self.token_requests += 1
            if body.get("username") != self.username or body.get("password") != self.password:
                return JSONResponse({"detail": "Invalid credentials"}, status_code=401)
            return {"access_token": self.token}

        def authed(req: Request) -> bool:
            return req.headers.get("authorization") == f"Bearer {self.token}"

        @app.post("/api/v2/dags/{dag_id}/dagRuns")
        async def trigger(dag_id: str, req: Request):
            if not authed(req):
                return JSONResponse({"detail": "Not authenticated"}, status_code=401)
            self.attempts += 1
            if self.fail_after is not None and len(self.runs) >= self.fail_after:
                return JSONResponse({"detail": "unavailable"}, status_code=503)
            if self.fail_with:
                return JSONResponse({"detail": "unavailable"}, status_code=self.fail_with)
            body = await req.json()
            key = (dag_id, body["dag_run_id"])
            with self._lock:
                self.posts += 1
                if key in self.runs:
                    return JSONResponse({"detail": "exists"}, status_code=409)
                assert "logical_date" in body and body["logical_date"] is None
                self.runs[key] = {"conf": body["conf"], "at": time.time()}
            return {"dag_id": dag_id, "dag_run_id": body["dag_run_id"], "state": "queued", "conf": body["conf"]}

        @app.get("/api/v2/dags/{dag_id}/dagRuns")
        async def runs(dag_id: str, req: Request):
            if not authed(req):
                return JSONResponse({"detail": "Not authenticated"}, status_code=401)
            return {"dag_runs": [], "total_entries": self.queued.get(dag_id, 0)}

        return app

    def runs_snapshot(self) -> dict[tuple[str, str], dict[str, Any]]:
        """A copy of `runs`, safe to iterate while the server thread adds to it."""
        with self._lock:
            return dict(self.runs)

    def start(self) -> AirflowStandIn:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            self._thread.join(5)

    def __enter__(self) -> AirflowStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
