"""What some tests need from the machine beyond `.venv`, and how the suite gets it or says why not.

Programs Debian packages (chromium, redis-server, npm) are installed once with apt-get when the run is root,
as on a fresh CI machine; otherwise, or when apt-get fails (no network, no such package), the test needing one
is skipped saying what is missing and how to get it. kubectl (a prerequisite the README names; Debian has no
current package) and a PostgreSQL server (the machine's is used, never started here) are only checked.

    from tests.harness import machine

    def test_x():
        kubectl = machine.require("kubectl")
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class Program:
    name: str
    package: str  # Debian's package providing it
    why: str  # what the tests use it for
    how: str  # how a person gets it
    path: str | None = None  # the only place it counts (chromium: Playwright is given this exact binary)


PROGRAMS = {p.name: p for p in (
    Program("chromium", "chromium", "the browser tests drive Debian's Chromium with Playwright",
            "apt-get install -y chromium", path="/usr/bin/chromium"),
    Program("redis-server", "redis-server", "the distributed tests start a private Redis on a free port",
            "apt-get install -y redis-server"),
    Program("kubectl", "kubectl", "the agents' Shell tool runs the real kubectl against the sandbox's API server",
            "install kubectl: https://kubernetes.io/docs/tasks/tools/install-kubectl-linux/"),
    Program("npm", "npm", "the MCP test installs mcp-server-kubernetes from npm and runs it with node",
            "apt-get install -y npm (or Node.js from https://nodejs.org/)"),
)}

PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"


def _found(p: Program) -> str | None:
    if p.path is not None:
        return p.path if os.access(p.path, os.X_OK) else None
    return shutil.which(p.name)


@functools.cache
def _apt_install(package: str) -> str | None:
    """Install Debian's package once per session (root only); None when done, else why it was not."""
    if os.geteuid() != 0:
        return "not running as root, so the suite cannot install it"
    if not shutil.which("apt-get"):
        return "no apt-get on this machine"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, capture_output=True, timeout=600)
        subprocess.run(["apt-get", "install", "-y", "-qq", package], check=True, env=env, capture_output=True,
                       text=True, timeout=1200)
    except subprocess.CalledProcessError as e:
        return f"apt-get install {package} failed: {(e.stderr or '').strip()[-300:]}"
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"apt-get install {package} failed: {e}"
    return None


def ensure(name: str) -> tuple[str | None, str]:
    """(path of the program, "") when present or installed now; else (None, why it is missing and how to get it)."""
    p = PROGRAMS[name]
    found = _found(p)
    if found:
        return found, ""
    failed = _apt_install(p.package)
    found = _found(p)
    if found:
        return found, ""
    return None, _absent(p, failed or "apt-get did not provide it")


def require(name: str) -> str:
    """The program's path, or skip the calling test saying what is missing and how to get it."""
    found, why = ensure(name)
    if found is None:
        pytest.skip(why)
    return found


def missing(name: str) -> str | None:
    """Why the program is absent (for `skipif` marks at collection: never installs anything), else None."""
    p = PROGRAMS[name]
    return None if _found(p) else _absent(p)


def _absent(p: Program, install_failed: str = "") -> str:
    tried = f"{install_failed}; " if install_failed else ""
    return f"{p.path or p.name + ' on the PATH'} is missing ({p.why}); {tried}to get it: {p.how}"


def postgres_missing() -> str | None:
    """Why the machine's PostgreSQL cannot host a test database (server on 127.0.0.1:5432, user postgres, no
    password, `createdb`/`dropdb` on the PATH), else None."""
    how = (f"to get it: apt-get install -y postgresql, and let user {PG_USER} connect over TCP from {PG_HOST} "
           "without a password (pg_hba.conf: `host all all 127.0.0.1/32 trust`); the tests create and drop "
           "their own database")
    tools = [t for t in ("createdb", "dropdb", "psql") if not shutil.which(t)]
    if tools:
        return f"PostgreSQL's client programs ({', '.join(tools)}) are not on the PATH; {how}"
    try:
        r = subprocess.run(["psql", "-w", "-h", PG_HOST, "-p", str(PG_PORT), "-U", PG_USER, "-d", "postgres",
                            "-Atc", "select 1"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"no PostgreSQL server answered on {PG_HOST}:{PG_PORT} ({e}); {how}"
    if r.returncode != 0 or r.stdout.strip() != "1":
        return (f"no PostgreSQL server lets user {PG_USER} in on {PG_HOST}:{PG_PORT} "
                f"({r.stderr.strip()[-200:] or 'no answer'}); {how}")
    return None


def require_postgres() -> None:
    why = postgres_missing()
    if why:
        pytest.skip(why)


def docker_daemon() -> bool:
    """Whether `docker` reaches a running daemon (some AOF flows' Script nodes call it)."""
    if not shutil.which("docker"):
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def skip_mark(name: str) -> pytest.MarkDecorator:
    """`pytestmark = machine.skip_mark("kubectl")`: skip the module's tests where the program is absent."""
    why = missing(name)
    return pytest.mark.skipif(why is not None, reason=why or "")


def incident_files_of_another_user(folder: Path = Path("/tmp"), uid: int | None = None) -> str | None:
    """Why this user's runs of the tutorial's flow would fail here, else None: its `log-incident` node writes
    `/tmp/incident-<id>.json` (the tutorial is run as written), and such a file left by another user in the shared,
    sticky /tmp cannot be replaced, so the incident escalates instead of resolving. Root replaces such a file
    unless the kernel's `fs.protected_regular` forbids it (systemd's default turns it on)."""
    uid = os.getuid() if uid is None else uid
    if uid == 0 and not protected_regular():
        return None
    foreign = sorted(str(p) for p in folder.glob("incident-*.json") if _owner(p) not in (uid, None))
    if not foreign:
        return None
    return (f"{len(foreign)} file(s) the tutorial's log-incident node writes are owned by another user "
            f"({', '.join(foreign[:3])}{', ...' if len(foreign) > 3 else ''}); this user cannot replace them, so its "
            "runs of the flow would escalate: remove them (`sudo rm /tmp/incident-*.json`) to run these tests")


def protected_regular() -> bool:
    """Whether the kernel refuses an O_CREAT open of another user's file in a sticky, world-writable folder."""
    try:
        return Path("/proc/sys/fs/protected_regular").read_text().strip() not in ("", "0")
    except OSError:
        return False


def _owner(path: Path) -> int | None:
    try:
        return path.stat().st_uid
    except OSError:
        return None
