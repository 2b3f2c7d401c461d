"""Debian's `prometheus` and `prometheus-alertmanager`: found on PATH, or installed with apt-get when running as
root (the way tests/harness/browser.py installs Chromium), else a reason to skip with."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from dataclasses import dataclass

PACKAGES = ("prometheus", "prometheus-alertmanager")
_lock = threading.Lock()


@dataclass(frozen=True)
class Binaries:
    prometheus: str
    promtool: str
    alertmanager: str


def find() -> Binaries | None:
    paths = [shutil.which(n) for n in ("prometheus", "promtool", "prometheus-alertmanager")]
    if not paths[2]:
        paths[2] = shutil.which("alertmanager")  # upstream's tarball name
    return Binaries(*paths) if all(paths) else None  # type: ignore[arg-type]


def ensure_monitoring() -> Binaries | str:
    """The three binaries, or why they are not here (a string a test can skip with)."""
    with _lock:
        found = find()
        if found:
            return found
        if os.geteuid() != 0 or not shutil.which("apt-get"):
            return ("Prometheus/Alertmanager missing and not root to install them: "
                    f"apt-get install -y {' '.join(PACKAGES)}")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        try:
            subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, capture_output=True, timeout=600)
            # no recommends: node-exporter and the web UI assets are not needed, and the packages' services
            # are never started (no init system here; the stack runs its own processes)
            subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *PACKAGES], check=True,
                           env=env, capture_output=True, timeout=1200)
        except (subprocess.SubprocessError, OSError) as exc:
            return f"apt-get install {' '.join(PACKAGES)} failed: {exc}"
        return find() or f"{' '.join(PACKAGES)} installed but prometheus/promtool/prometheus-alertmanager not on PATH"
