"""The sandbox Slack answers the real slack_sdk clients (and the provider's SlackHook) like Slack does."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from aof_lab.sandbox.slack import SlackWebAPI, channel_id_for


@pytest.fixture()
def srv():
    with SlackWebAPI() as s:
        yield s


def client(srv: SlackWebAPI) -> WebClient:
    return WebClient(token=srv.token, base_url=srv.base_url)


def test_post_then_history_shows_reactions_and_thread(srv):
    c = client(srv)
    posted = c.chat_postMessage(channel="#incidents", text="⚠️ *CRITICAL* approve?")
    assert posted["channel"] == channel_id_for("incidents") and posted["message"]["text"].startswith("⚠️")
    c.chat_postMessage(channel=posted["channel"], thread_ts=posted["ts"], text="outcome: approved")
    srv.react("#incidents", posted["ts"], "white_check_mark", "U_ONCALL")
    srv.react("#incidents", posted["ts"], "white_check_mark", "U_DEV")

    hist = c.conversations_history(channel=posted["channel"], oldest=posted["ts"], inclusive=True, limit=5)
    [msg] = hist["messages"]  # the reply is not a top-level message
    assert msg["reactions"] == [{"name": "white_check_mark", "users": ["U_ONCALL", "U_DEV"], "count": 2}]
    assert msg["reply_count"] == 1 and msg["thread_ts"] == posted["ts"]
    assert c.conversations_history(channel=posted["channel"], oldest=posted["ts"])["messages"] == []  # exclusive
    replies = c.conversations_replies(channel=posted["channel"], ts=posted["ts"])["messages"]
    assert [m["text"] for m in replies] == ["⚠️ *CRITICAL* approve?", "outcome: approved"]
    got = c.reactions_get(channel=posted["channel"], timestamp=posted["ts"])
    assert got["message"]["reactions"][0]["count"] == 2
    assert srv.messages("incidents")[0]["ts"] == posted["ts"]
    assert len(srv.thread("#incidents", posted["ts"])) == 2
    assert srv.calls("chat.postMessage")[0]["channel"] == "#incidents"


def test_history_newest_first_with_latest_and_paging(srv):
    c = client(srv)
    ts = [c.chat_postMessage(channel="#incidents", text=f"m{i}")["ts"] for i in range(5)]
    page = c.conversations_history(channel="#incidents", limit=2)
    assert [m["text"] for m in page["messages"]] == ["m4", "m3"] and page["has_more"]
    nxt = c.conversations_history(channel="#incidents", limit=2, cursor=page["response_metadata"]["next_cursor"])
    assert [m["text"] for m in nxt["messages"]] == ["m2", "m1"]
    assert [m["text"] for m in c.conversations_history(channel="#incidents", latest=ts[2], inclusive=True)["messages"]] == ["m2", "m1", "m0"]


def test_update_permalink_users_groups_channels(srv):
    c = client(srv)
    p = c.chat_postMessage(channel="#incidents", text="waiting")
    up = c.chat_update(channel=p["channel"], ts=p["ts"], text="approved by <@U_ONCALL>")
    assert up["message"]["edited"] and srv.messages("#incidents")[0]["text"] == "approved by <@U_ONCALL>"
    link = c.chat_getPermalink(channel=p["channel"], message_ts=p["ts"])["permalink"]
    assert link.startswith(srv.url) and "SANDBOX -- not Slack" in urllib.request.urlopen(link).read().decode()
    assert c.users_info(user="U_ONCALL")["user"]["name"] == "oncall"
    assert c.usergroups_users_list(usergroup="S_ONCALL")["users"] == ["U_ONCALL"]
    assert "incidents" in [ch["name"] for ch in c.conversations_list()["channels"]]
    c.reactions_add(channel=p["channel"], timestamp=p["ts"], name="eyes")
    with pytest.raises(SlackApiError) as e:
        c.reactions_add(channel=p["channel"], timestamp=p["ts"], name="eyes")
    assert e.value.response["error"] == "already_reacted"
    with pytest.raises(SlackApiError) as e:
        c.users_info(user="U_NOBODY")
    assert e.value.response["error"] == "user_not_found"
    with pytest.raises(SlackApiError) as e:
        c.conversations_history(channel="C0000NOPE")
    assert e.value.response["error"] == "channel_not_found"


def test_get_requests_work_too(srv):
    c = client(srv)
    c.chat_postMessage(channel="#incidents", text="x")
    r = c.api_call("conversations.history", http_verb="GET", params={"channel": "#incidents"})
    assert r["messages"][0]["text"] == "x"


def test_other_tokens_are_rejected(srv):
    with pytest.raises(SlackApiError) as e:
        WebClient(token="xoxb-someone-else", base_url=srv.base_url).auth_test()
    assert e.value.response["error"] == "invalid_auth"
    assert client(srv).auth_test()["user_id"] == srv.bot_user_id


def test_rate_limit_answers_429_with_retry_after():
    with SlackWebAPI(rate_limits={"conversations.history": 2}, rate_window_seconds=1.5) as srv:
        c = client(srv)
        c.conversations_history(channel="#incidents")
        c.conversations_history(channel="#incidents")
        with pytest.raises(SlackApiError) as e:
            c.conversations_history(channel="#incidents")
        assert e.value.response.status_code == 429
        assert e.value.response["error"] == "ratelimited"
        assert int(e.value.response.headers["Retry-After"]) >= 1
        c.chat_postMessage(channel="#incidents", text="other methods are not limited")
        time.sleep(1.6)
        c.conversations_history(channel="#incidents")  # the window has moved on


def test_slack_hook_from_connection_env(srv, monkeypatch):
    from airflow.providers.slack.hooks.slack import SlackHook

    conn = {"conn_type": "slack", "password": srv.token, "extra": {"base_url": srv.base_url}}
    monkeypatch.setenv("AIRFLOW_CONN_SANDBOX_SLACK", json.dumps(conn))
    hook = SlackHook(slack_conn_id="sandbox_slack")
    r = hook.client.chat_postMessage(channel="#incidents", text="from the hook")
    assert r["ok"] and srv.messages("#incidents")[-1]["text"] == "from the hook"

    async def read() -> list[dict]:
        ac = await hook.get_async_client()
        return (await ac.conversations_history(channel=r["channel"]))["messages"]

    assert asyncio.run(read())[0]["text"] == "from the hook"


def test_page_shows_messages_and_react_endpoint(srv):
    p = client(srv).chat_postMessage(channel="#incidents", text="*Approval* needed")
    page = urllib.request.urlopen(srv.url + "/channel/incidents").read().decode()
    assert "SANDBOX -- not Slack" in page and "<b>Approval</b> needed" in page
    assert f'data-ts="{p["ts"]}" data-name="white_check_mark"' in page
    req = urllib.request.Request(
        srv.url + "/sandbox/react", method="POST", headers={"Content-Type": "application/json"},
        data=json.dumps({"channel": "incidents", "ts": p["ts"], "name": "white_check_mark", "user": "U_ONCALL"}).encode(),
    )
    assert json.loads(urllib.request.urlopen(req).read())["ok"]
    assert srv.messages("incidents")[0]["reactions"][0]["users"] == ["U_ONCALL"]


def test_stop_is_clean_with_open_keepalive_connection():
    srv = SlackWebAPI().start()
    client(srv).auth_test()
    url = srv.url + "/healthz"
    t0 = time.monotonic()
    srv.stop()
    assert time.monotonic() - t0 < 2
    with pytest.raises(OSError):
        urllib.request.urlopen(url, timeout=1)
