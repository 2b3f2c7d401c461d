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
    cid = channel_id_for("incidents")
    ts = [c.chat_postMessage(channel="#incidents", text=f"m{i}")["ts"] for i in range(5)]
    page = c.conversations_history(channel=cid, limit=2)
    assert [m["text"] for m in page["messages"]] == ["m4", "m3"] and page["has_more"]
    nxt = c.conversations_history(channel=cid, limit=2, cursor=page["response_metadata"]["next_cursor"])
    assert [m["text"] for m in nxt["messages"]] == ["m2", "m1"]
    assert [m["text"] for m in c.conversations_history(channel=cid, latest=ts[2], inclusive=True)["messages"]] == ["m2", "m1", "m0"]


def test_update_permalink_users_groups_channels():
    with SlackWebAPI(scopes=("chat:write", "channels:history", "channels:read", "reactions:write", "users:read",
                             "usergroups:read")) as srv:
        _update_permalink_users_groups_channels(srv)


def _update_permalink_users_groups_channels(srv):
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
    r = c.api_call("conversations.history", http_verb="GET", params={"channel": channel_id_for("incidents")})
    assert r["messages"][0]["text"] == "x"


def test_other_tokens_are_rejected(srv):
    with pytest.raises(SlackApiError) as e:
        WebClient(token="xoxb-someone-else", base_url=srv.base_url).auth_test()
    assert e.value.response["error"] == "invalid_auth"
    assert client(srv).auth_test()["user_id"] == srv.bot_user_id


def test_rate_limit_answers_429_with_retry_after():
    with SlackWebAPI(rate_limits={"conversations.history": 2}, rate_window_seconds=1.5) as srv:
        c, cid = client(srv), channel_id_for("incidents")
        c.conversations_history(channel=cid)
        c.conversations_history(channel=cid)
        with pytest.raises(SlackApiError) as e:
            c.conversations_history(channel=cid)
        assert e.value.response.status_code == 429
        assert e.value.response["error"] == "ratelimited"
        assert int(e.value.response.headers["Retry-After"]) >= 1
        c.chat_postMessage(channel="#incidents", text="other methods are not limited")
        time.sleep(1.6)
        c.conversations_history(channel=cid)  # the window has moved on


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


def _error(call) -> dict:
    with pytest.raises(SlackApiError) as e:
        call()
    return e.value.response.data


def test_channels_must_exist_and_only_posting_takes_a_name(srv):
    c = client(srv)
    assert _error(lambda: c.chat_postMessage(channel="#no-such-channel", text="x"))["error"] == "channel_not_found"
    assert "no-such-channel" not in srv.channel_names()  # posting creates nothing
    c.chat_postMessage(channel="#incidents", text="x")
    assert _error(lambda: c.conversations_history(channel="#incidents"))["error"] == "channel_not_found"
    assert _error(lambda: c.reactions_get(channel="incidents", timestamp="1.0"))["error"] == "channel_not_found"
    assert c.conversations_history(channel=channel_id_for("incidents"))["messages"][0]["text"] == "x"


def test_a_token_without_the_methods_scope_gets_missing_scope_with_needed_and_provided():
    with SlackWebAPI(scopes=("chat:write",), private_channels=("sre-private",)) as srv:
        c = client(srv)
        err = _error(lambda: c.usergroups_users_list(usergroup="S_ONCALL"))
        assert err == {"ok": False, "error": "missing_scope", "needed": "usergroups:read", "provided": "chat:write"}
        assert _error(lambda: c.conversations_history(channel=channel_id_for("incidents")))["needed"] == "channels:history"
    with SlackWebAPI(scopes=("chat:write", "channels:history"), private_channels=("sre-private",)) as srv:
        c = client(srv)
        c.conversations_history(channel=channel_id_for("incidents"))
        assert _error(lambda: c.conversations_history(channel=channel_id_for("sre-private")))["needed"] == "groups:history"
        p = c.chat_postMessage(channel="#sre-private", text="x")
        assert c.chat_getPermalink(channel=p["channel"], message_ts=p["ts"])["ok"]


def test_block_kit_limits_are_enforced_like_slack():
    with SlackWebAPI() as srv:
        c = client(srv)
        section = {"type": "section", "text": {"type": "mrkdwn", "text": "x"}}
        c.chat_postMessage(channel="#incidents", text="ok", blocks=[section] * 50)
        err = _error(lambda: c.chat_postMessage(channel="#incidents", text="x", blocks=[section] * 51))
        assert err["error"] == "invalid_blocks" and "must be less than 51 items [json-pointer:/blocks]" in err["errors"]
        long = {"type": "section", "text": {"type": "mrkdwn", "text": "y" * 3001}}
        err = _error(lambda: c.chat_postMessage(channel="#incidents", text="x", blocks=[long]))
        assert err["errors"] == ["must be less than 3001 characters [json-pointer:/blocks/0/text/text]"]
        button = {"type": "actions", "elements": [{"type": "button", "action_id": "a", "value": "v",
                                                   "text": {"type": "plain_text", "text": "b" * 76}}]}
        assert _error(lambda: c.chat_postMessage(channel="#incidents", text="x", blocks=[button]))["errors"] == [
            "must be less than 76 characters [json-pointer:/blocks/0/elements/0/text/text]"]
        r = c.chat_postMessage(channel="#incidents", text="z" * 40_500)
        assert r["response_metadata"]["warnings"] == ["message_truncated"]
        assert len(srv.messages("#incidents")[-1]["text"]) == 40_000
