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
