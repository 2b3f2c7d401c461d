"""Relay benchmark: 1,000 PagerDuty webhooks at 200/s on loopback.

Measures the time to the 202 (p50/p99) of the real relay (`aofctl relay` process: auth, parse,
normalise, durable SQLite outbox insert + dedup) and of a bare FastAPI endpoint that only answers 202,
served the same way (uvicorn, own process) and driven by the same client in the same run; then counts
runs created and lost.

The relay's dispatcher delivers to a small local stand-in of Airflow's `/auth/token` + dagRuns
endpoints (tests/unit/relay/standin.py), so Airflow's own speed is NOT what is measured here.

    .venv/bin/python benchmarks/bench_relay.py [--n 1000] [--rate 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.unit.relay.standin import AirflowStandIn  # noqa: E402

SEED_FLOW = Path("/work/shared/seed/yaml/incident-response-flow.yaml")
TOKEN = "bench-token-" + os.urandom(8).hex()
BARE_APP = '''
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
app = FastAPI()
@app.post("/pagerduty/webhook")
async def hook(request: Request):
    await request.body()
    return JSONResponse({"status": "accepted"}, status_code=202)
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(url: str, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url} exited with {proc.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} not up")


def payload(i: int) -> bytes:
    iid = f"BENCH{i:05d}"
    return json.dumps({"event": {"incident": {
        "id": iid, "title": "High memory usage on api-deployment", "service": {"name": "API Service"},
        "urgency": "high", "html_url": f"https://yourcompany.pagerduty.com/incidents/{iid}",
        "custom_details": {"namespace": "production", "resource": "deployment/api"}}}}).encode()


async def drive(url: str, n: int, rate: float, offset: int) -> tuple[list[float], dict]:
    """Open-loop load: request i leaves at t0 + i/rate whatever the previous answers did."""
    lat: list[float] = []
    codes: dict = {}
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    timeout = httpx.Timeout(60, pool=None)  # wait for a free connection: that wait is part of the latency
    async with httpx.AsyncClient(timeout=timeout, limits=limits, trust_env=False) as client:
        async def one(i: int, at: float) -> None:
            await asyncio.sleep(max(0.0, at - time.perf_counter()))
            # latency from the scheduled send time, so a slow server cannot hide queueing (coordinated omission)
            try:
                r = await client.post(url, content=payload(offset + i), headers={**headers, "X-Webhook-Id": f"wh-{offset + i}"})
                key: int | str = r.status_code
            except httpx.HTTPError as exc:
                key = f"error:{type(exc).__name__}"
            lat.append(time.perf_counter() - at)
            codes[key] = codes.get(key, 0) + 1
        t0 = time.perf_counter() + 0.2
        await asyncio.gather(*(one(i, t0 + i / rate) for i in range(n)))
    return lat, codes


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] * 1000


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--rate", type=float, default=200)
    ap.add_argument("--warmup", type=int, default=50)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-relay-"))
    procs: list[subprocess.Popen] = []
    standin = AirflowStandIn().start()
    try:
        (tmp / "flows").mkdir()
        shutil.copy(SEED_FLOW, tmp / "flows")
        (tmp / "bare.py").write_text(BARE_APP)
        env = {**{k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW__", "AOF_"))},
               "AIRFLOW_HOME": str(tmp / "airflow-home"), "PAGERDUTY_WEBHOOK_TOKEN": TOKEN,
               "AOF_AIRFLOW_API_URL": standin.url, "AOF_AIRFLOW_USERNAME": "admin", "AOF_AIRFLOW_PASSWORD": "admin",
               "AOF_RELAY_DATABASE_URL": f"sqlite:///{tmp / 'outbox.db'}", "AOF_DATABASE_URL": f"sqlite:///{tmp / 'outbox.db'}"}
        bin_dir = Path(sys.executable).parent
        bare_port, relay_port, relay_port_n = free_port(), free_port(), free_port()
        log = open(tmp / "servers.log", "ab")
        procs.append(subprocess.Popen([str(bin_dir / "uvicorn"), "bare:app", "--host", "127.0.0.1", "--port", str(bare_port),
                                       "--log-level", "warning", "--no-access-log"], cwd=tmp, env=env,
                                      stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        procs.append(subprocess.Popen([str(bin_dir / "aofctl"), "relay", "--host", "127.0.0.1", "--port", str(relay_port),
                                       "--flows", str(tmp / "flows"), "--log-level", "warning"], env=env,
                                      stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        env_n = {**env, "AOF_RELAY_SQLITE_SYNCHRONOUS": "NORMAL",
                 "AOF_RELAY_DATABASE_URL": f"sqlite:///{tmp / 'outbox-normal.db'}"}
        procs.append(subprocess.Popen([str(bin_dir / "aofctl"), "relay", "--host", "127.0.0.1", "--port", str(relay_port_n),
                                       "--flows", str(tmp / "flows"), "--log-level", "warning"], env=env_n,
                                      stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        bare = f"http://127.0.0.1:{bare_port}/pagerduty/webhook"
        relay = f"http://127.0.0.1:{relay_port}/pagerduty/webhook"
        wait_up(f"http://127.0.0.1:{bare_port}/", procs[0])
        wait_up(f"http://127.0.0.1:{relay_port}/healthz", procs[1])
        wait_up(f"http://127.0.0.1:{relay_port_n}/healthz", procs[2])
        relay_n = f"http://127.0.0.1:{relay_port_n}/pagerduty/webhook"

        asyncio.run(drive(bare, args.warmup, args.rate, 900_000))
        asyncio.run(drive(relay, args.warmup, args.rate, 900_000))
        bare_lat, bare_codes = asyncio.run(drive(bare, args.n, args.rate, 0))
        relay_lat, relay_codes = asyncio.run(drive(relay, args.n, args.rate, 0))
        accepted = relay_codes.get(202, 0)
        burst_end = time.time()
        deadline = time.monotonic() + 120
        while len(standin.runs) < accepted + args.warmup and time.monotonic() < deadline:
            time.sleep(0.05)
        all_runs_after = max(v["at"] for v in standin.runs.values()) - burst_end
        runs = sum(1 for (_, rid) in standin.runs if rid.startswith("pd-BENCH0"))
        posts_full = standin.posts
        # the same load against a relay whose outbox skips the per-commit fsync (synchronous=NORMAL)
        standin.runs.clear()
        standin.posts = 0
        normal_lat, normal_codes = asyncio.run(drive(relay_n, args.n, args.rate, 0))
        accepted_n = normal_codes.get(202, 0)
        deadline = time.monotonic() + 120
        while len(standin.runs) < accepted_n and time.monotonic() < deadline:
            time.sleep(0.2)
        runs_n = sum(1 for (_, rid) in standin.runs if rid.startswith("pd-BENCH0"))
        result = {
            "webhooks": args.n, "rate_per_s": args.rate,
            "relay_p50_ms": round(pct(relay_lat, 50), 2), "relay_p99_ms": round(pct(relay_lat, 99), 2),
            "bare_p50_ms": round(pct(bare_lat, 50), 2), "bare_p99_ms": round(pct(bare_lat, 99), 2),
            "p50_ratio_relay_to_bare": round(pct(relay_lat, 50) / pct(bare_lat, 50), 2),
            "relay_status_codes": relay_codes, "bare_status_codes": bare_codes,
            "runs_created": runs, "lost": accepted - runs, "dagruns_posts": posts_full,
            "last_run_created_s_after_burst": round(all_runs_after, 2),
            "fsync_normal": {"p50_ms": round(pct(normal_lat, 50), 2), "p99_ms": round(pct(normal_lat, 99), 2),
                             "p50_ratio_to_bare": round(pct(normal_lat, 50) / pct(bare_lat, 50), 2),
                             "status_codes": normal_codes, "runs_created": runs_n, "lost": accepted_n - runs_n},
            "mean_relay_ms": round(statistics.mean(relay_lat) * 1000, 2),
            "note": "dispatcher delivers to a local stand-in of Airflow's dagRuns endpoint; Airflow's own speed is not measured",
            "load_average": os.getloadavg(),
        }
        print(json.dumps(result, indent=2))
        print(f"relay: p50 {result['relay_p50_ms']} ms, p99 {result['relay_p99_ms']} ms | bare FastAPI: p50 "
              f"{result['bare_p50_ms']} ms, p99 {result['bare_p99_ms']} ms | ratio {result['p50_ratio_relay_to_bare']}x "
              f"(goal <= 2x) | runs {runs}/{accepted} accepted, lost {result['lost']}, the last created "
              f"{all_runs_after:.1f} s after the burst (delivery is paced while webhooks arrive)")
        fn = result["fsync_normal"]
        print(f"relay with synchronous=NORMAL: p50 {fn['p50_ms']} ms, p99 {fn['p99_ms']} ms, ratio "
              f"{fn['p50_ratio_to_bare']}x | runs {runs_n}/{accepted_n}, lost {fn['lost']}")
        return 0 if result["lost"] == 0 and accepted == args.n and accepted_n == args.n and runs_n == accepted_n else 1
    finally:
        for p in procs:
            try:
                os.killpg(p.pid, signal.SIGTERM)
                p.wait(10)
            except Exception:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        standin.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
