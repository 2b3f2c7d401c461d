"""A person's view: the sandbox channel page in headless Chromium shows the approval message, and a
click on ✅ (as the chosen sandbox user) adds the reaction the approval poller reads through the API."""

from __future__ import annotations

import time

import pytest
from slack_sdk import WebClient

from aof_lab.sandbox.slack import SlackWebAPI
from tests.harness.browser import Browser, ChromiumMissing, ensure_chromium


@pytest.fixture(scope="module", autouse=True)
def chromium():
    try:
        ensure_chromium()
    except ChromiumMissing as e:  # not root and not installed: say so instead of failing obscurely
        pytest.skip(str(e))


def wait_until(predicate, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)
    return value


def test_click_approve_on_the_page_adds_the_reaction(tmp_path):
    with SlackWebAPI() as srv, Browser() as browser:
        client = WebClient(token=srv.token, base_url=srv.base_url)
        posted = client.chat_postMessage(channel="#incidents", text="⚠️ *CRITICAL: Human Approval Required*\nReact with ✅ to approve")
        page = browser.open(srv.page_url("incidents"))
        page.wait_for("document.body.innerText.includes('CRITICAL: Human Approval Required')")
        assert "SANDBOX -- not Slack" in page.text()
        shot = page.screenshot(tmp_path / "channel.png")
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 5000

        button = f"#react-white_check_mark-{posted['ts'].replace('.', '-')}"
        page.click(button)  # as the default user, U_ONCALL
        wait_until(lambda: srv.messages("#incidents")[0].get("reactions"))
        hist = client.conversations_history(channel=posted["channel"], limit=1)["messages"][0]
        assert hist["reactions"] == [{"name": "white_check_mark", "users": ["U_ONCALL"], "count": 1}]
        page.wait_for("document.body.innerText.includes(':white_check_mark: 1 oncall')")

        page.eval("(() => { const s = document.getElementById('user'); s.value = 'U_DEV';"
                  " s.dispatchEvent(new Event('change')); return true; })()")
        page.click(f"#react-x-{posted['ts'].replace('.', '-')}")
        wait_until(lambda: len(srv.messages("#incidents")[0].get("reactions", [])) == 2)
        assert srv.messages("#incidents")[0]["reactions"][1] == {"name": "x", "users": ["U_DEV"], "count": 1}


def test_page_refreshes_when_the_flow_posts(tmp_path):
    with SlackWebAPI() as srv, Browser() as browser:
        page = browser.open(srv.page_url("incidents"))
        page.wait_for("document.body.innerText.includes('No messages yet')")
        WebClient(token=srv.token, base_url=srv.base_url).chat_postMessage(channel="#incidents", text="🚨 *Incident Detected*")
        page.wait_for("document.body.innerText.includes('Incident Detected')", timeout=10)


def test_slack_escapes_show_as_the_characters_slack_shows_and_markup_stays_text(tmp_path):
    """Slack carries a literal < > & as &lt; &gt; &amp; and shows < > &; a raw tag is never markup."""
    with SlackWebAPI() as srv, Browser() as browser:
        client = WebClient(token=srv.token, base_url=srv.base_url)
        client.chat_postMessage(channel="#incidents",
                                text="memory &lt; limit &amp;&amp; restarts &gt; 3; literal &amp;lt; stays\n"
                                     "<img src=x onerror=\"document.title='pwned'\">")
        page = browser.open(srv.page_url("incidents"))
        page.wait_for("document.body.innerText.includes('memory')")
        text = page.text()
        assert "memory < limit && restarts > 3; literal &lt; stays" in text
        assert "&lt; limit" not in text and "&amp;&amp;" not in text
        assert page.eval("document.querySelectorAll('#messages img').length") == 0
        assert page.eval("document.title") != "pwned"
