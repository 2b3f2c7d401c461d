"""A person's view: the sandbox channel page in headless Chromium (Playwright) shows the approval message, and a
click on ✅ (as the chosen sandbox user) adds the reaction the approval poller reads through the API."""

from __future__ import annotations

import time

from playwright.sync_api import Page, expect
from slack_sdk import WebClient

from aof_lab.sandbox.slack import SlackWebAPI
from tests.harness.browser import chromium, page  # noqa: F401  (pytest fixtures)


def wait_until(predicate, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)
    return value


def test_click_approve_on_the_page_adds_the_reaction(page: Page, tmp_path):
    with SlackWebAPI() as srv:
        client = WebClient(token=srv.token, base_url=srv.base_url)
        posted = client.chat_postMessage(channel="#incidents", text="⚠️ *CRITICAL: Human Approval Required*\nReact with ✅ to approve")
        page.goto(srv.page_url("incidents"))
        expect(page.locator("body")).to_contain_text("CRITICAL: Human Approval Required")
        expect(page.locator("body")).to_contain_text("SANDBOX -- not Slack")
        shot = tmp_path / "channel.png"
        page.screenshot(path=shot)
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 5000

        page.click(f"#react-white_check_mark-{posted['ts'].replace('.', '-')}")  # as the default user, U_ONCALL
        wait_until(lambda: srv.messages("#incidents")[0].get("reactions"))
        hist = client.conversations_history(channel=posted["channel"], limit=1)["messages"][0]
        assert hist["reactions"] == [{"name": "white_check_mark", "users": ["U_ONCALL"], "count": 1}]
        expect(page.locator("body")).to_contain_text(":white_check_mark: 1 oncall")

        page.select_option("#user", "U_DEV")
        page.click(f"#react-x-{posted['ts'].replace('.', '-')}")
        wait_until(lambda: len(srv.messages("#incidents")[0].get("reactions", [])) == 2)
        assert srv.messages("#incidents")[0]["reactions"][1] == {"name": "x", "users": ["U_DEV"], "count": 1}


def test_page_refreshes_when_the_flow_posts(page: Page):
    with SlackWebAPI() as srv:
        page.goto(srv.page_url("incidents"))
        expect(page.locator("body")).to_contain_text("No messages yet")
        WebClient(token=srv.token, base_url=srv.base_url).chat_postMessage(channel="#incidents", text="🚨 *Incident Detected*")
        expect(page.locator("body")).to_contain_text("Incident Detected", timeout=10_000)


def test_slack_escapes_show_as_the_characters_slack_shows_and_markup_stays_text(page: Page):
    """Slack carries a literal < > & as &lt; &gt; &amp; and shows < > &; a raw tag is never markup."""
    with SlackWebAPI() as srv:
        client = WebClient(token=srv.token, base_url=srv.base_url)
        client.chat_postMessage(channel="#incidents",
                                text="memory &lt; limit &amp;&amp; restarts &gt; 3; literal &amp;lt; stays\n"
                                     "<img src=x onerror=\"document.title='pwned'\">")
        page.goto(srv.page_url("incidents"))
        expect(page.locator("body")).to_contain_text("memory", timeout=10_000)
        text = page.inner_text("body")
        assert "memory < limit && restarts > 3; literal &lt; stays" in text
        assert "&lt; limit" not in text and "&amp;&amp;" not in text
        assert page.evaluate("document.querySelectorAll('#messages img').length") == 0
        assert page.evaluate("document.title") != "pwned"
