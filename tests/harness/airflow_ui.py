"""Airflow's own UI in headless Chromium, through Playwright's sync API.

Debian's chromium (installed on first use as root, else the test is skipped saying how to get it: see
tests.harness.machine) is driven through `executable_path`: Playwright never downloads a browser here.

    with airflow_page(af.base_url, af.username, af.password) as page:
        page.goto(f"{af.base_url}/required_actions")
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator

from tests.harness.browser import require_chromium

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-proxy-server"]


@contextlib.contextmanager
def airflow_page(base_url: str, username: str, password: str, *, shots: Path | None = None) -> Iterator[object]:
    """A logged-in page of Airflow's UI (the simple auth manager's login form, as a person fills it)."""
    from playwright.sync_api import sync_playwright

    binary = require_chromium()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(binary), headless=True, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(60_000)  # a shared 2-core box: the UI's first render can be slow
            login(page, base_url, username, password)
            yield page
        except BaseException:
            if shots is not None:
                with contextlib.suppress(Exception):
                    page.screenshot(path=str(shots / "failure.png"), full_page=True)
            raise
        finally:
            browser.close()


def login(page, base_url: str, username: str, password: str) -> None:
    page.goto(f"{base_url}/auth/login/")
    page.locator("input[name='username']").fill(username)
    page.locator("input[name='password']").fill(password)
    page.locator("button[type='submit']").click()
    page.wait_for_url(lambda url: "/auth/login" not in url)
