"""Ending the demo on anything that ends a terminal session: Ctrl-C, `kill`, a closed terminal, a dead pipe.

Why: the demo's Airflow processes run in their own sessions (so a Ctrl-C reaches only the demo, which then
stops them in order). That makes their clean-up the demo's job in every case: SIGINT, SIGTERM, SIGHUP, and
a stdout whose reader died (`make demo | tee demo.log`, then Ctrl-C: tee dies with the same Ctrl-C, and
every later print would fail). A signal interrupts whatever the main thread is doing (waiting for Airflow
to start included) by raising `Interrupted`; a closed stdout is noticed by a watcher thread, which turns it
into the same SIGTERM. Clean-up itself is then shielded: further signals are ignored and output that
cannot be written is dropped, so nothing stops it halfway.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import threading
from typing import Callable

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(BaseException):
    """Raised in the main thread by a signal (BaseException, like KeyboardInterrupt: no `except Exception`
    on the way may swallow it)."""


class Shutdown:
    def __init__(self, poll_seconds: float = 0.5) -> None:
        self.reason: str | None = None
        self.requested = threading.Event()
        self._poll_seconds = poll_seconds

    def install(self) -> Shutdown:
        for sig in SIGNALS:
            signal.signal(sig, self._on_signal)
        threading.Thread(target=self._watch_stdout, name="aof-demo-stdout-watch", daemon=True).start()
        return self

    def _on_signal(self, signum: int, _frame: object) -> None:
        if self.reason is None:
            self.reason = signal.Signals(signum).name
        self.requested.set()
        raise Interrupted(self.reason)

    def _watch_stdout(self) -> None:
        """A pipe whose reader is gone polls POLLERR (a hung-up terminal POLLHUP): stop as for a signal."""
        try:
            fd = sys.stdout.fileno()
        except (AttributeError, OSError, ValueError):
            return
        poller = select.poll()
        poller.register(fd, select.POLLERR | select.POLLHUP)
        while not self.requested.is_set():
            if any(ev & (select.POLLERR | select.POLLHUP | select.POLLNVAL) for _fd, ev in poller.poll(0)):
                self.output_lost("stdout closed")
                return
            self.requested.wait(self._poll_seconds)

    def output_lost(self, why: str) -> None:
        """Output can no longer reach anyone: drop it from now on, and stop the demo."""
        mute_stdout()
        if self.reason is None:
            self.reason = why
        if not self.requested.is_set():
            self.requested.set()
            os.kill(os.getpid(), signal.SIGTERM)  # handled in the main thread: it raises Interrupted there

    def shield(self) -> None:
        """From here on (the clean-up) nothing may interrupt: further signals are ignored."""
        self.requested.set()
        for sig in SIGNALS:
            signal.signal(sig, signal.SIG_IGN)


def mute_stdout() -> None:
    """Point fd 1 at /dev/null: prints (and the interpreter's final flush) stop failing with EPIPE."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (AttributeError, OSError, ValueError):
        pass


def say(text: str, *, err: bool = False, on_lost: Callable[[], None] | None = None) -> None:
    """Print that never raises: a broken stdout is muted (and reported through `on_lost`)."""
    stream = sys.stderr if err else sys.stdout
    try:
        print(text, file=stream, flush=True)
    except (BrokenPipeError, OSError, ValueError):
        if not err:
            mute_stdout()
            if on_lost is not None:
                on_lost()


def end_children(timeout: float = 10.0) -> list[int]:
    """Whatever child of this process is still alive after the orderly stop (one forked in the instant a
    signal arrived, before it was registered): SIGTERM to its group, then SIGKILL. Returns their pids."""
    import psutil

    children = psutil.Process().children(recursive=True)
    for child in children:
        for kill in (lambda: os.killpg(child.pid, signal.SIGTERM), child.terminate):
            try:
                kill()
            except (ProcessLookupError, PermissionError, psutil.Error):
                pass
    _gone, alive = psutil.wait_procs(children, timeout=timeout)
    for child in alive:
        try:
            os.killpg(child.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            child.kill()
        except psutil.Error:
            pass
    return [c.pid for c in children]
