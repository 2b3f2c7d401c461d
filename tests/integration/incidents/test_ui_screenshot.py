"""Headless Chromium (Playwright) renders the Incidents page (served by uvicorn on an ephemeral port): table and charts."""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page

from tests.harness.browser import chromium, page  # noqa: F401  (pytest fixtures)

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path, monkeypatch):
    import uvicorn

    from aof_airflow.db import ensure_tables
    from aof_airflow.incidents import records, ui
    from tests.unit.incidents.test_ui import shifted

    url = f"sqlite:///{tmp_path / 'aof.db'}"
    monkeypatch.setenv("AOF_DATABASE_URL", url)
    monkeypatch.setenv("AOF_INCIDENTS_UI_AUTH", "false")
    records.save_many(shifted(), ensure_tables(url))
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(ui.create_app(), host="127.0.0.1", port=port, log_level="warning"))
    t = threading.Thread(target=srv.run, daemon=True)
    t.start()
    deadline = time.monotonic() + 30
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    t.join(10)


def test_screenshot_shows_table_and_charts(server, tmp_path, page: Page):
    shot = Path(os.environ.get("AOF_SCREENSHOT_DIR", tmp_path)) / "incidents-page.png"
    page.goto(f"{server}/?flow=incident-auto-response&days=7")
    page.wait_for_function("document.querySelectorAll('#incidents tbody tr').length > 0")
    assert page.locator("#incidents tbody a.run").count() == 8
    # the charts are laid out and visible (non-zero boxes), with drawn bars and points
    boxes = page.evaluate("[...document.querySelectorAll('svg.chart')].map(s => {const r = s.getBoundingClientRect();"
                          " return [r.width, r.height, s.querySelectorAll('rect.bar, circle.pt').length]})")
    assert len(boxes) == 2 and all(w > 300 and h > 100 and n >= 2 for w, h, n in boxes)
    text = page.inner_text("body")
    assert "MTTR (median, auto-resolved) per day" in text and "Auto-resolution rate per day" in text
    assert "skipped_at_approval" in text and "INC005" in text
    page.screenshot(path=shot)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000  # a real, non-blank render
