"""The shared channel poller against the Slack stand-in through slack_sdk's real AsyncWebClient."""

from __future__ import annotations

import asyncio

from slack_sdk import WebClient

from aof_airflow.approvals.poller import ChannelPoller, PollSettings

from .conftest import client_factory


def post(api, n: int, channel: str = "incidents") -> tuple[str, list[str]]:
    wc = WebClient(token=api.token, base_url=api.base_url)
    tss, cid = [], ""
    for i in range(n):
        r = wc.chat_postMessage(channel=channel, text=f"approval {i}")
        cid = r["channel"]
        tss.append(r["ts"])
    return cid, tss


def make_poller(api, cid, db_reader=None, **settings) -> ChannelPoller:
    return ChannelPoller("slack_default", cid, settings=PollSettings(**settings), client_factory=client_factory(api),
                         db_reader=db_reader)


def test_one_history_call_serves_all_pending_and_only_approvers_count(slack):
    cid, tss = post(slack, 30)
    post(slack, 5, "general")  # noise elsewhere

    async def scenario():
        p = make_poller(slack, cid)
        watches = [p.watch(ts, ["U_ONCALL", "S_SRE_LEAD"], slack.bot_user_id) for ts in tss]
        p._task.cancel()  # drive polls by hand
        slack.react("incidents", tss[0], "white_check_mark", "U_ONCALL")
        slack.react("incidents", tss[1], "x", "U_SRE_LEAD")  # member of the S_SRE_LEAD group
        slack.react("incidents", tss[2], "white_check_mark", "U_DEV")  # not an approver
        slack.react("incidents", tss[3], "white_check_mark", slack.bot_user_id)  # the bot itself
        slack.react("incidents", tss[4], "double_vertical_bar", "U_ONCALL")
        slack.react("incidents", tss[4], "white_check_mark", "U_SRE_LEAD")  # conservative one wins
        slack.react("incidents", tss[5], "eyes", "U_ONCALL")  # not a decision
        await p.poll_slack()
        return p, watches

    p, watches = asyncio.run(scenario())
    assert p.calls["conversations.history"] == 1
    assert p.calls["reactions.get"] == 0
    assert p.calls["usergroups.users.list"] == 1  # cached for every other watch
    done = {w.ts: w.future.result() for w in watches if w.future.done() and not w.future.cancelled()}
    assert {ts: (d.reaction, d.user) for ts, d in done.items()} == {
        tss[0]: ("white_check_mark", "U_ONCALL"),
        tss[1]: ("x", "U_SRE_LEAD"),
        tss[4]: ("double_vertical_bar", "U_ONCALL"),
    }
    assert done[tss[1]].outcome == "skipped"
    assert ("white_check_mark", "U_DEV", "not an approver") in watches[2]._logged
    assert ("white_check_mark", slack.bot_user_id, "bot") in watches[3]._logged


def test_retry_after_is_honoured(slack):
    cid, tss = post(slack, 3)
    slack.set_rate_limit("conversations.history", 1)  # one per 60 s window, then 429 + Retry-After

    async def scenario():
        p = make_poller(slack, cid)
        for ts in tss:
            p.watch(ts, ["U_ONCALL"], slack.bot_user_id)
        p._task.cancel()
        await p.poll_slack()
        assert p.rate_limited == 0
        await p.poll_slack()  # 429
        return p

    p = asyncio.run(scenario())
    assert p.rate_limited == 1
    wait = p._next_slack - p._clock()
    assert 50 <= wait <= 61, wait
    statuses = slack.calls("conversations.history")
    assert len(statuses) == 2  # no hammering after the 429


def test_interval_backs_off_while_nothing_changes_and_resets_on_change(slack):
    cid, tss = post(slack, 2)

    async def scenario():
        p = make_poller(slack, cid, min_interval=2, max_interval=10, backoff=2, max_calls_per_minute=1000)
        for ts in tss:
            p.watch(ts, ["U_ONCALL"], slack.bot_user_id)
        p._task.cancel()
        seen = []
        for _ in range(5):
            await p.poll_slack()
            seen.append(p.interval)
        slack.react("incidents", tss[0], "eyes", "U_DEV")  # a change, though not a decision
        await p.poll_slack()
        seen.append(p.interval)
        return seen

    # first poll establishes the digest (a change), then 2 -> 4 -> 8 -> 10 (ceiling), then reset on change
    assert asyncio.run(scenario()) == [2, 4, 8, 10, 10, 2]


def test_calls_per_minute_budget_holds_whatever_the_number_pending(slack):
    cid, tss = post(slack, 40)

    async def scenario():
        p = make_poller(slack, cid, page_limit=10, max_calls_per_minute=20, min_interval=1)
        for ts in tss:
            p.watch(ts, None, slack.bot_user_id)
        p._task.cancel()
        await p.poll_slack()
        return p

    p = asyncio.run(scenario())
    assert p.calls["conversations.history"] == 4  # 40 pending / 10 per page
    assert p._next_slack - p._clock() >= 4 * 60 / 20 - 0.5  # 4 calls spend 12 s of a 20/min budget


def test_recorded_decisions_arrive_without_slack_and_obey_approvers(slack):
    """aofctl / Slack-button decisions (read from the task instance's XCom in the triggerer; here the reader
    is handed the records directly) resolve without any Slack call, and only an approver's counts."""
    cid, tss = post(slack, 2)
    records = {tss[0]: [
        {"reaction": "white_check_mark", "user": "U_DEV", "source": "cli", "decided_at": "t1"},
        {"reaction": "double_vertical_bar", "user": "U_ONCALL", "source": "cli", "decided_at": "t2"},
    ]}
    asked = []

    async def reader(ref):
        asked.append(ref)
        return records.get(ref, [])

    async def scenario():
        p = make_poller(slack, cid, db_reader=reader)
        ws = [p.watch(ts, ["U_ONCALL"], slack.bot_user_id, ref=ts) for ts in tss]
        p._task.cancel()
        await p.check_db()
        return p, ws

    p, ws = asyncio.run(scenario())
    assert sum(p.calls.values()) == 0
    assert sorted(asked) == sorted(tss)
    d = ws[0].future.result()
    assert (d.reaction, d.user, d.source) == ("double_vertical_bar", "U_ONCALL", "cli")
    assert not ws[1].future.done()
    assert ("white_check_mark", "U_DEV", "not an approver") in ws[0]._logged


def test_message_missing_from_history_falls_back_to_reactions_get(slack):
    cid, tss = post(slack, 1)
    wc = WebClient(token=slack.token, base_url=slack.base_url)
    reply = wc.chat_postMessage(channel=cid, text="in a thread", thread_ts=tss[0])["ts"]  # not in history
    slack.react("incidents", reply, "white_check_mark", "U_ONCALL")

    async def scenario():
        p = make_poller(slack, cid)
        w = p.watch(reply, ["U_ONCALL"], slack.bot_user_id)
        p._task.cancel()
        await p.poll_slack()
        return p, w

    p, w = asyncio.run(scenario())
    assert p.calls["conversations.history"] == 1 and p.calls["reactions.get"] == 1
    assert w.future.result().reaction == "white_check_mark"
