"""The relay as a plugin app in the Airflow api-server, built lazily.

Plugin classes are imported by every Airflow process (scheduler, workers...); building the relay
there would touch the database and read flows for nothing. `LazyRelayApp` builds it on the first
request the api-server routes to it. Set `[aof] relay_mount = False` to not mount it at all.
"""

from __future__ import annotations

import threading
from typing import Any

from aof_airflow.config import settings

DEFAULT_PREFIX = "/aof/relay"


class LazyRelayApp:
    def __init__(self) -> None:
        self._app: Any = None
        self._lock = threading.Lock()

    def _build(self) -> Any:
        with self._lock:
            if self._app is None:
                from aof_airflow.relay.app import create_app

                self._app = create_app()
        return self._app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":  # not sent to mounted apps, but be a correct ASGI app anyway
            msg = await receive()
            await send({"type": msg["type"] + ".complete"})
            return
        await self._build()(scope, receive, send)


def fastapi_apps() -> list[dict]:
    if not settings().relay_mount:
        return []
    prefix = settings().relay_url_prefix or DEFAULT_PREFIX
    return [{"app": LazyRelayApp(), "url_prefix": prefix, "name": "aof-relay"}]
