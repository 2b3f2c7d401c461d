"""Fixtures for the real Prometheus and Alertmanager: the binaries (installed when missing, as root), the
sandbox's metrics exporter, and a receiver that records what Alertmanager posts."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from aof_lab.monitoring.install import Binaries, ensure_monitoring
from aof_lab.sandbox.httpserver import HTTPService, Request, Response


@pytest.fixture(scope="session")
def monitoring_binaries() -> Binaries:
    found = ensure_monitoring()
    if isinstance(found, str):
        pytest.skip(found)
    return found


class RecordingReceiver(HTTPService):
    """An Alertmanager webhook receiver that keeps each delivery (its Authorization header and JSON body)."""

    def __init__(self) -> None:
        super().__init__()
        self.deliveries: list[tuple[str | None, dict]] = []
        self._lock = threading.Lock()

    def handle(self, req: Request) -> Response:
        with self._lock:
            self.deliveries.append((req.headers.get("Authorization"), req.json()))
        return Response.json({"ok": True})

    def alerts(self, alertname: str, status: str = "firing") -> list[dict]:
        with self._lock:
            return [a for _, body in self.deliveries for a in body["alerts"]
                    if a["labels"].get("alertname") == alertname and a["status"] == status]


@pytest.fixture
def receiver() -> Iterator[RecordingReceiver]:
    with RecordingReceiver() as r:
        yield r


class ServedApp:
    """An ASGI app (the relay) served by uvicorn on a loopback port in a thread, as Alertmanager reaches it."""

    def __init__(self, app) -> None:
        import socket

        import uvicorn

        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True)

    def __enter__(self) -> ServedApp:
        import time

        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(10)
