"""Headless Chromium for page tests, driven over the DevTools protocol on a pipe.

`--remote-debugging-pipe` (fd 3 in, fd 4 out, NUL-separated JSON) needs no websocket library and no
debugging port, so concurrent test runs cannot collide. Debian's `chromium` is installed on first use
when running as root (CI machines are fresh); otherwise `ensure_chromium` raises ChromiumMissing.

    with Browser() as b:
        page = b.open(url)
        page.wait_for("document.body.innerText.includes('Approval')")
        page.click("#react-white_check_mark-...")
        page.screenshot(path)
"""

from __future__ import annotations

import base64
import fcntl
import itertools
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", "--no-proxy-server",
    "--disable-extensions", "--mute-audio", "--window-size=1280,900",
]
_install_lock = threading.Lock()


class ChromiumMissing(RuntimeError):
    pass


def ensure_chromium() -> str:
    """Path of Debian's chromium; installs it with apt-get when missing and running as root."""
    with _install_lock:
        found = shutil.which("chromium") or shutil.which("chromium-browser")
        if found:
            return found
        if os.geteuid() != 0 or not shutil.which("apt-get"):
            raise ChromiumMissing("chromium is not installed (apt-get install -y chromium)")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, capture_output=True, timeout=600)
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=True, env=env, capture_output=True, timeout=1200)
        found = shutil.which("chromium")
        if not found:
            raise ChromiumMissing("apt-get install chromium did not provide a chromium binary")
        return found


class Browser:
    """One headless Chromium process; `open(url)` gives a `Page`."""

    def __init__(self, timeout: float = 30.0) -> None:
        self.timeout = timeout
        self._ids = itertools.count(1)
        self._pending: dict[int, tuple[threading.Event, list[Any]]] = {}
        self._events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._profile = tempfile.TemporaryDirectory(prefix="aof-chromium-")

    def __enter__(self) -> "Browser":
        binary = ensure_chromium()
        cmd_r, cmd_w = os.pipe()  # we write commands, chromium reads fd 3
        out_r, out_w = os.pipe()  # chromium writes fd 4, we read

        def child_fds() -> None:  # runs in the child before exec; fds 3/4 are kept via pass_fds
            hi_r, hi_w = fcntl.fcntl(cmd_r, fcntl.F_DUPFD, 10), fcntl.fcntl(out_w, fcntl.F_DUPFD, 10)
            os.dup2(hi_r, 3)
            os.dup2(hi_w, 4)

        self._proc = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={self._profile.name}", "--remote-debugging-pipe", "about:blank"],
            preexec_fn=child_fds, pass_fds=(3, 4), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True,
        )
        os.close(cmd_r)
        os.close(out_w)
        self._out = os.fdopen(cmd_w, "wb", buffering=0)
        self._in = os.fdopen(out_r, "rb", buffering=0)
        threading.Thread(target=self._reader, daemon=True, name="cdp-reader").start()
        self.send("Browser.getVersion")
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if not self._proc:
            return
        try:
            self.send("Browser.close", timeout=5)
        except Exception:  # already gone or wedged: the kill below ends it either way
            pass
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(self._proc.pid, 9)
            self._proc.wait(timeout=5)
        for f in (self._out, self._in):
            try:
                f.close()
            except OSError:
                pass
        self._proc = None
        self._profile.cleanup()

    def _reader(self) -> None:
        buf = b""
        while True:
            try:
                chunk = self._in.read(65536)
            except (OSError, ValueError):
                chunk = b""
            if not chunk:
                with self._lock:
                    for ev, box in self._pending.values():
                        box.append({"error": {"message": "chromium exited"}})
                        ev.set()
                return
            buf += chunk
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                msg = json.loads(raw)
                with self._lock:
                    if "id" in msg and msg["id"] in self._pending:
                        ev, box = self._pending.pop(msg["id"])
                        box.append(msg)
                        ev.set()
                    else:
                        self._events.append(msg)

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None,
             timeout: float | None = None) -> dict[str, Any]:
        msg_id = next(self._ids)
        ev, box = threading.Event(), []
        with self._lock:
            self._pending[msg_id] = (ev, box)
        msg: dict[str, Any] = {"id": msg_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        self._out.write(json.dumps(msg).encode() + b"\0")
        if not ev.wait(timeout or self.timeout):
            raise TimeoutError(f"CDP {method} timed out")
        reply = box[0]
        if "error" in reply:
            raise RuntimeError(f"CDP {method}: {reply['error'].get('message')}")
        return reply.get("result", {})

    def open(self, url: str) -> "Page":
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, session)
        page.send("Page.enable")
        page.send("Runtime.enable")
        page.goto(url)
        return page


class Page:
    def __init__(self, browser: Browser, session: str) -> None:
        self.browser = browser
        self.session = session

    def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.browser.send(method, params, self.session)

    def goto(self, url: str) -> None:
        self.send("Page.navigate", {"url": url})
        self.wait_for("document.readyState === 'complete' && location.href !== 'about:blank'")

    def eval(self, expression: str) -> Any:
        res = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if res.get("exceptionDetails"):
            raise RuntimeError(f"page script failed: {res['exceptionDetails'].get('text')} in {expression!r}")
        return res.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float = 20.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            try:
                value = self.eval(expression)
            except RuntimeError:
                value = None
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out waiting for {expression!r}; page text: {self.text()[:500]!r}")
            time.sleep(0.1)

    def text(self) -> str:
        return str(self.eval("document.body ? document.body.innerText : ''") or "")

    def click(self, selector: str) -> None:
        """A real mouse click (press + release) at the element's centre, as a person would."""
        box = self.wait_for(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)}); if (!e) return null;"
            " e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect();"
            " return {x: r.x + r.width / 2, y: r.y + r.height / 2}; })()"
        )
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", {"type": kind, "x": box["x"], "y": box["y"], "button": "left", "clickCount": 1})

    def screenshot(self, path: str | Path) -> Path:
        data = self.send("Page.captureScreenshot", {"format": "png"})["data"]
        path = Path(path)
        path.write_bytes(base64.b64decode(data))
        return path


def screenshot(url: str, path: str | Path, wait_for: str | None = None) -> Path:
    """Screenshot a URL (after `wait_for`, a JS expression, is truthy)."""
    with Browser() as b:
        page = b.open(url)
        if wait_for:
            page.wait_for(wait_for)
        return page.screenshot(path)


def click_and_text(url: str, selector: str, wait_for: str | None = None) -> str:
    """Open a URL, click an element, and return the page text afterwards (`wait_for` then applies)."""
    with Browser() as b:
        page = b.open(url)
        page.click(selector)
        if wait_for:
            page.wait_for(wait_for)
        return page.text()
