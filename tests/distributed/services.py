"""The two stateful services of the distributed topology, owned by one test session: a fresh Postgres
database (on the machine's server) and a private redis-server (so restarting it disturbs nobody else)."""

from __future__ import annotations

import secrets
import shutil
import subprocess
import time
from pathlib import Path

import redis

from aof_lab.local.stack import free_port

PG_HOST = "127.0.0.1"
PG_USER = "postgres"


class PostgresDatabase:
    """`createdb` on start, `dropdb --force` on stop: every session gets an empty metadata DB."""

    def __init__(self, prefix: str = "aof_dist") -> None:
        self.name = f"{prefix}_{secrets.token_hex(4)}"
        self.url = f"postgresql+psycopg2://{PG_USER}@{PG_HOST}:5432/{self.name}"

    def start(self) -> PostgresDatabase:
        subprocess.run(["createdb", "-h", PG_HOST, "-U", PG_USER, self.name], check=True, timeout=60)
        return self

    def stop(self) -> None:
        subprocess.run(["dropdb", "-h", PG_HOST, "-U", PG_USER, "--force", "--if-exists", self.name],
                       check=False, timeout=60)


class RedisServer:
    """A redis-server of our own on a free port, keeping nothing on disk (like the machine's): a restart
    loses every queued Celery message, which is the fault the tests must survive."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = Path(workdir)
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.binary = shutil.which("redis-server") or "/usr/bin/redis-server"

    def start(self) -> RedisServer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        subprocess.run([self.binary, "--daemonize", "yes", "--bind", "127.0.0.1", "--port", str(self.port),
                        "--save", "", "--appendonly", "no", "--dir", str(self.workdir),
                        "--pidfile", str(self.workdir / "redis.pid"),
                        "--logfile", str(self.workdir / "redis.log")], check=True, timeout=30)
        self._wait(up=True)
        return self

    def stop(self) -> None:
        try:
            redis.Redis(port=self.port, socket_timeout=5).shutdown(nosave=True)
        except redis.exceptions.ConnectionError:
            pass  # a shutdown closes the connection: that is success
        self._wait(up=False)

    def restart(self, down_seconds: float = 2.0) -> None:
        self.stop()
        time.sleep(down_seconds)
        self.start()

    def ping(self) -> bool:
        try:
            return bool(redis.Redis(port=self.port, socket_timeout=1).ping())
        except redis.exceptions.ConnectionError:
            return False

    def _wait(self, *, up: bool, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while self.ping() != up:
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis on {self.port} not {'up' if up else 'down'} after {timeout}s")
            time.sleep(0.1)
