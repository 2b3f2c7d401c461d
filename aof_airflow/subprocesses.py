"""What a program started for a node or a tool gets from the worker, and how it is stopped.

Transform scripts and the Shell tool's programs run with `safe_env()` (only what a CLI needs to find its
binaries and speak the locale: no API keys, no tokens) in a process group of their own, so that
`kill_group` ends every child with them at the timeout.
"""

from __future__ import annotations

import os
import signal
import subprocess

# The one allow-list of the worker's variables a child process inherits; everything else stays out.
SAFE_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "USER", "LOGNAME")
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"


def safe_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: os.environ[k] for k in SAFE_ENV if k in os.environ}
    env.setdefault("PATH", DEFAULT_PATH)
    env.update(extra or {})
    return env


def kill_group(proc: subprocess.Popen, grace: float = 2.0) -> None:
    """SIGTERM the process group of `proc` (started with start_new_session), then SIGKILL what is left."""
    try:
        pgid = os.getpgid(proc.pid)
    except ProcessLookupError:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):  # KILL the group even if the leader left on TERM
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
