"""Headless Chromium for page tests: Playwright's sync API driving Debian's `chromium`.

Playwright never downloads a browser here (`playwright install` is not run): it launches the system
binary through `executable_path`. Where that binary is missing, the `chromium` fixture below says so and
skips, unless the run is as root, where it installs Debian's package once, before the first browser test
(CI machines are fresh; it is the package a person would install; see tests.harness.machine). Test modules
import the fixtures:

    from tests.harness.browser import chromium, page  # noqa: F401  (pytest fixtures)

    def test_page(page):
        page.goto(url)
        page.get_by_text("Approval").wait_for()
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.harness import machine

CHROMIUM = Path(machine.PROGRAMS["chromium"].path)
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def ensure_chromium() -> Path | None:
    """The system Chromium; installed with apt-get when missing and running as root, else None."""
    found, _ = machine.ensure("chromium")
    return None if found is None else Path(found)


def require_chromium() -> Path:
    """The system Chromium, or skip the calling test saying why it is missing and how to get it."""
    return Path(machine.require("chromium"))


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """One Chromium per test module (each test gets its own context and page). Not per session: Playwright's
    sync API runs its own event loop, which must not outlive the module into tests that run asyncio."""
    require_chromium()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: Browser) -> Iterator[Page]:
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    yield context.new_page()
    context.close()
