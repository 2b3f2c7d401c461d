"""The Shell tool: one allow-listed program, argv without a shell, scrubbed env, process-group kill, capped output.

Guardrails live here, in code, because a prompt can be talked out of anything. The rules, in order:
1. the raw string may not contain shell syntax at all (pipes, `;`, `&`, backticks, `$`, redirects, newlines):
   we never run a shell, so such text is either an injection attempt or a command that would not do what
   the model thinks;
2. `shlex.split` (POSIX) gives argv; the first word must be a bare name listed in `allowed_commands`, not an
   env assignment, not a path, and not a program that runs other programs (env, sudo, xargs, sh, ...);
3. any argument that looks like a filesystem path (absolute, `~`, `..`, or `--flag=/path`) must resolve inside
   `allowed_paths` (none by default);
4. kubectl and helm get their own verb and namespace rules (`kubectl.py`).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from aof_airflow.spec.models import ShellToolConfig
from aof_airflow.subprocesses import kill_group, safe_env

FORBIDDEN_TEXT = {
    "|": "a pipe",
    ";": "a command separator (;)",
    "&": "& / && (background or chaining)",
    "`": "a backtick substitution",
    "$": "a $ expansion or substitution",
    ">": "a redirect (>)",
    "<": "a redirect (<)",
    "\n": "a newline (second command)",
    "\r": "a carriage return",
    "\x00": "a NUL byte",
}
# Programs that exist to run other programs (or a shell): allowing one would void the allow-list.
LAUNCHERS = {
    "env", "sudo", "su", "doas", "xargs", "sh", "bash", "zsh", "dash", "ksh", "fish", "busybox", "nohup", "nice",
    "timeout", "time", "watch", "strace", "exec", "eval", "command", "builtin", "python", "python3", "perl",
    "ruby", "node", "npx", "find", "awk", "sed", "ssh", "chroot", "setsid", "stdbuf", "script",
}
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
TRUNCATION_MARKER = "\n...[output truncated: {dropped} more bytes not shown]"


class Refused(Exception):
    """A guardrail refused the command; the message is the reason shown to the model and in the log."""


@dataclass
class Completed:
    argv: list[str]
    exit_code: int | None  # None: killed at the timeout
    output: str
    truncated: bool
    timed_out: bool

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


def parse(command: str, config: ShellToolConfig) -> list[str]:
    """Check the raw text and the argv of `command`; return argv or raise Refused (nothing has run yet)."""
    if not command or not command.strip():
        raise Refused("empty command")
    for ch, what in FORBIDDEN_TEXT.items():
        if ch in command:
            raise Refused(f"refused: {what} is not allowed; commands run without a shell, one program at a time")
    try:
        argv = shlex.split(command, posix=True)
    except ValueError as e:
        raise Refused(f"refused: cannot parse the command ({e})") from None
    if not argv:
        raise Refused("empty command")
    first = argv[0]
    if _ASSIGNMENT.match(first):
        raise Refused("refused: environment assignments are not allowed")
    if "/" in first or first.startswith(("~", ".")):
        raise Refused(f"refused: {first!r}: give the bare program name, not a path")
    if first in LAUNCHERS:
        raise Refused(f"refused: {first!r} runs other programs and is never allowed")
    if first not in config.allowed_commands:
        raise Refused(f"refused: {first!r} is not in allowed_commands {config.allowed_commands}")
    # kubectl/helm take `deployment/api`-style names; for other programs any slash means a file path.
    check_paths(argv[1:], config.allowed_paths, strict=first not in ("kubectl", "helm"))
    return argv


def check_paths(args: list[str], allowed_paths: list[str], *, strict: bool = False) -> None:
    """Every path-like argument must resolve (from the tool's working dir) inside one of `allowed_paths`."""
    roots = [Path(p).expanduser().resolve() for p in allowed_paths]
    cwd = workdir(allowed_paths)
    for arg in args:
        value = arg.split("=", 1)[1] if arg.startswith("-") and "=" in arg else arg
        if not (_looks_like_path(value) or (strict and "/" in value)):
            continue
        if ".." in Path(value).parts:
            raise Refused(f"refused: {arg!r}: '..' in paths is not allowed")
        target = (cwd / Path(value).expanduser()).resolve()
        if not any(target == r or r in target.parents for r in roots):
            where = ", ".join(map(str, roots)) or "none configured"
            raise Refused(f"refused: {arg!r} is outside the allowed paths ({where})")


def _looks_like_path(value: str) -> bool:
    return value.startswith(("/", "~", "./", "../")) or value == ".." or "/../" in value or value.endswith("/..")


def workdir(allowed_paths: list[str]) -> Path:
    """Where tools run: the first allowed directory, else an empty private one (bare file names find nothing)."""
    for p in allowed_paths:
        path = Path(p).expanduser().resolve()
        if path.is_dir():
            return path
    empty = Path(tempfile.gettempdir()) / f"aof-shell-empty-{os.getuid()}"
    empty.mkdir(mode=0o700, exist_ok=True)
    return empty


def run(
    argv: list[str], *, timeout: float, max_bytes: int, env: dict[str, str] | None = None, cwd: Path | None = None
) -> Completed:
    """Run argv (no shell) in its own process group; kill the whole group at `timeout`; keep `max_bytes` of output."""
    env = env if env is not None else safe_env()
    exe = shutil.which(argv[0], path=env.get("PATH"))
    if exe is None:
        return Completed(argv, 127, f"{argv[0]}: command not found on PATH", False, False)
    proc = subprocess.Popen(
        [exe, *argv[1:]], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        env=env, cwd=cwd, start_new_session=True, close_fds=True,
    )
    buf = bytearray()
    dropped = [0]

    def pump() -> None:
        assert proc.stdout is not None
        for chunk in iter(lambda: proc.stdout.read(65536), b""):
            room = max_bytes - len(buf)
            buf.extend(chunk[:room])
            dropped[0] += max(0, len(chunk) - room)

    def reap() -> None:
        proc.wait()
        exited.set()

    # Waited for on an Event set by a blocking wait: `Popen.wait(timeout)` polls with sleeps up to 50 ms,
    # ~25 ms late on average for every kubectl call of a diagnosis.
    exited = threading.Event()
    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    threading.Thread(target=reap, daemon=True).start()
    timed_out = not exited.wait(max(0.01, timeout))
    if timed_out:
        kill_group(proc)
    reader.join(timeout=5)
    text = buf.decode("utf-8", errors="replace")
    if dropped[0]:
        text += TRUNCATION_MARKER.format(dropped=dropped[0])
    if timed_out:
        text += f"\n[killed: timed out after {timeout:.0f}s]"
    return Completed(argv, None if timed_out else proc.returncode, text, bool(dropped[0]), timed_out)


def quote(argv: list[str]) -> str:
    return shlex.join(argv)
