"""Child processes started in their own process group, so stopping one leaves no orphan behind.

Airflow's processes fork (task runners, gunicorn/uvicorn workers, the triggerer's runner): signalling the
group, then killing any re-parented descendants, is what makes Ctrl-C leave a clean machine.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import IO, Mapping, Sequence


class ManagedProcesses:
    def __init__(self, log_dir: Path, env: Mapping[str, str], cwd: Path | None = None) -> None:
        self.log_dir = log_dir
        self.env = dict(env)
        self.cwd = cwd
        self._procs: dict[str, subprocess.Popen] = {}
        self._logs: dict[str, IO[bytes]] = {}
        log_dir.mkdir(parents=True, exist_ok=True)

    def log_path(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def start(self, name: str, argv: Sequence[str], env: Mapping[str, str] | None = None) -> subprocess.Popen:
        if self.is_running(name):
            return self._procs[name]
        fh = self._logs.get(name) or open(self.log_path(name), "ab")
        self._logs[name] = fh
        proc = subprocess.Popen(list(argv), env={**self.env, **(env or {})}, stdout=fh, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, cwd=self.cwd, start_new_session=True)
        self._procs[name] = proc
        return proc

    def run(self, name: str, argv: Sequence[str], timeout: float) -> None:
        """Run to completion (e.g. `airflow db migrate`), failing with the log's path."""
        with open(self.log_path(name), "ab") as fh:
            r = subprocess.run(list(argv), env=self.env, stdout=fh, stderr=subprocess.STDOUT, timeout=timeout,
                               cwd=self.cwd, start_new_session=True)
        if r.returncode != 0:
            raise RuntimeError(f"`{' '.join(argv)}` failed with exit code {r.returncode}; see {self.log_path(name)}")

    def is_running(self, name: str) -> bool:
        p = self._procs.get(name)
        return p is not None and p.poll() is None

    def exit_code(self, name: str) -> int | None:
        p = self._procs.get(name)
        return None if p is None else p.poll()

    def wait_http(self, name: str, url: str, timeout: float = 60) -> None:
        """Until `url` answers 200; fails at once with the log's tail if the process exits first."""
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code = self.exit_code(name)
            if code is not None:
                raise RuntimeError(f"{name} exited with {code}:\n{self.log_tail(name, 3000)}")
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"{name} not ready at {url} after {timeout:.0f} s; see {self.log_path(name)}")

    def pid(self, name: str) -> int:
        return self._procs[name].pid

    def names(self) -> list[str]:
        return list(self._procs)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """A crash, for fault tests: the whole group gets `sig`; the entry stays for a later start."""
        proc = self._procs[name]
        _signal_group(proc.pid, sig)
        if sig in (signal.SIGKILL, signal.SIGTERM):
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                pass

    def stop(self, name: str, timeout: float = 15.0) -> None:
        """SIGTERM the group, wait, then SIGKILL the group and every descendant that escaped it."""
        proc = self._procs.pop(name, None)
        if proc is None:
            return
        descendants = _descendants(proc.pid)
        _signal_group(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
        _signal_group(proc.pid, signal.SIGKILL)
        for p in descendants:
            try:
                p.kill()
            except Exception:
                pass
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            pass

    def stop_all(self) -> None:
        for name in reversed(list(self._procs)):
            self.stop(name)
        for fh in self._logs.values():
            fh.close()
        self._logs.clear()

    def log_tail(self, name: str, chars: int = 12000) -> str:
        p = self.log_path(name)
        return p.read_text(errors="replace")[-chars:] if p.exists() else ""


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)  # start_new_session=True: pgid == pid
    except (ProcessLookupError, PermissionError):
        pass


def _descendants(pid: int) -> list:
    try:
        import psutil

        return psutil.Process(pid).children(recursive=True)
    except Exception:
        return []
