"""200 approvals pending at once in one Slack channel: what does waiting cost?

Mode: the real `SlackApprovalTrigger.run()` coroutines (exactly what the triggerer runs) driven in ONE asyncio
loop, like a triggerer process, with slack_sdk's AsyncWebClient against the Slack Web API stand-in (which
enforces Slack's per-method tiers with 429 + Retry-After). No Airflow scheduler/worker: so "worker slots held"
is 0 by construction here (the sensor defers before waiting; the integration tests show the task `deferred`),
and "reaction -> resume" is reaction -> the trigger's TriggerEvent (the scheduler then needs ~1-3 s more to
hand the task back to a worker).

    .venv/bin/python benchmarks/bench_approvals.py [--pending 200] [--idle 60] [--burst 100] [--isolated 6]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import random
import resource
import statistics
import sys
import time
import tracemalloc
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from slack_sdk import WebClient
from slack_sdk.web.async_client import AsyncWebClient

from aof_airflow.approvals import poller as poller_mod
from aof_airflow.approvals.trigger import SlackApprovalTrigger
from aof_lab.sandbox.ratelimit import SLACK_TIERS
from aof_lab.sandbox.slack import SlackWebAPI


def rss_kb() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


async def main(args: argparse.Namespace) -> dict:
    slack = SlackWebAPI().start()  # tiers switched on after the setup posts
    wc = WebClient(token=slack.token, base_url=slack.base_url)
    tss, cid = [], ""
    for i in range(args.pending):
        r = wc.chat_postMessage(channel="incidents", text=f"approval {i}")
        cid, _ = r["channel"], tss.append(r["ts"])
    for i in range(50):  # other chatter in the channel between approvals
        wc.chat_postMessage(channel="incidents", text=f"chatter {i}")
    for method, per_minute in SLACK_TIERS.items():
        slack.set_rate_limit(method, per_minute)

    async def factory(_c: str):
        return AsyncWebClient(token=slack.token, base_url=slack.base_url)

    shared = poller_mod.poller_for("slack_default", cid, client_factory=factory)
    deadline = (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat()
    resumed: dict[str, float] = {}

    async def one(ts: str) -> None:
        trig = SlackApprovalTrigger(channel=cid, ts=ts, deadline=deadline, slack_conn_id="slack_default",
                                    approvers=["S_ONCALL", "U_SRE_LEAD"], bot_user_id=slack.bot_user_id)
        async for _event in trig.run():
            resumed[ts] = time.monotonic()

    gc.collect()
    tracemalloc.start()
    snap0, rss0 = tracemalloc.take_snapshot(), rss_kb()
    tasks = [asyncio.create_task(one(ts)) for ts in tss]
    await asyncio.sleep(3)  # all registered, first polls done
    gc.collect()
    snap1, rss1 = tracemalloc.take_snapshot(), rss_kb()
    tracemalloc.stop()
    mem_py = sum(s.size_diff for s in snap1.compare_to(snap0, "filename")) / args.pending

    # Phase 1: nobody reacts. Count every Slack call the shared poller makes.
    slack.requests.clear()
    t0 = time.monotonic()
    await asyncio.sleep(args.idle)
    idle_calls = len(slack.requests)
    idle_by_method: dict[str, int] = {}
    for m, _ in slack.requests:
        idle_by_method[m] = idle_by_method.get(m, 0) + 1
    idle_rate = idle_calls / ((time.monotonic() - t0) / 60)

    order = tss[:]
    random.Random(6).shuffle(order)
    reacted: dict[str, float] = {}

    # Phase 2: isolated reactions after long quiet (the poller has backed off to its ceiling).
    for ts in order[: args.isolated]:
        await asyncio.sleep(random.Random(ts).uniform(12, 20))
        slack.react("incidents", ts, "white_check_mark", "U_ONCALL")
        reacted[ts] = time.monotonic()
    # Phase 3: a burst: reactions every 0.5 s.
    slack.requests.clear()
    t1 = time.monotonic()
    for ts in order[args.isolated: args.isolated + args.burst]:
        slack.react("incidents", ts, "white_check_mark", "U_SRE_LEAD")
        reacted[ts] = time.monotonic()
        await asyncio.sleep(0.5)
    await asyncio.sleep(15)
    burst_rate = len(slack.requests) / ((time.monotonic() - t1) / 60)
    lat_iso = [resumed[t] - reacted[t] for t in order[: args.isolated] if t in resumed]
    lat_burst = [resumed[t] - reacted[t] for t in order[args.isolated: args.isolated + args.burst] if t in resumed]
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    slack.stop()
    all_lat = lat_iso + lat_burst
    return {
        "mode": "SlackApprovalTrigger.run() x N in one asyncio loop (triggerer-like), Slack stand-in with Slack tiers",
        "pending": args.pending,
        "worker_slots_held": 0,
        "slack_calls_per_minute_idle": round(idle_rate, 1),
        "slack_calls_idle_by_method": idle_by_method,
        "slack_calls_per_minute_during_burst": round(burst_rate, 1),
        "rate_limited_429s": shared.rate_limited,
        "decided": f"{len(all_lat)}/{args.isolated + args.burst}",
        "reaction_to_event_median_s": round(statistics.median(all_lat), 2) if all_lat else None,
        "reaction_to_event_median_isolated_s": round(statistics.median(lat_iso), 2) if lat_iso else None,
        "reaction_to_event_median_burst_s": round(statistics.median(lat_burst), 2) if lat_burst else None,
        "reaction_to_event_max_s": round(max(all_lat), 2) if all_lat else None,
        "python_heap_bytes_per_pending": int(mem_py),
        "rss_kb_per_pending": round((rss1 - rss0) / args.pending, 1),
    }


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--pending", type=int, default=200)
    ap.add_argument("--idle", type=float, default=60)
    ap.add_argument("--burst", type=int, default=100)
    ap.add_argument("--isolated", type=int, default=6)
    res = asyncio.run(main(ap.parse_args()))
    print(json.dumps(res, indent=2))
    ok = (res["slack_calls_per_minute_idle"] <= 20 and res["slack_calls_per_minute_during_burst"] <= 20
          and (res["reaction_to_event_median_s"] or 99) < 10)
    print("GOALS MET" if ok else "GOALS NOT MET")
    sys.exit(0 if ok else 1)
