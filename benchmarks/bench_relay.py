"""Relay benchmark: 1,000 PagerDuty webhooks at 200/s on loopback.

Measures the time to the 202 (p50/p99) of the real relay (`aofctl relay` process: auth, parse,
normalise, durable SQLite outbox insert + dedup) and of a bare FastAPI endpoint that only answers 202,
served the same way (uvicorn, own process) and driven by the same client; then counts runs created and
lost, and when the last one was created. The machine is shared and noisy, so bare, relay and relay with
synchronous=NORMAL take turns, each a sustained 1,000 at 200/s, for `--rounds` rounds; the ratio
reported is the median of the rounds' ratios.

The relay's dispatcher delivers to a small local stand-in of Airflow's `/auth/token` + dagRuns
endpoints (tests/unit/relay/standin.py), so Airflow's own speed is NOT what is measured here.

    .venv/bin/python benchmarks/bench_relay.py [--n 1000] [--rate 200] [--rounds 3]
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

from tests.locations import SEED_FLOW
from tests.unit.relay.standin import AirflowStandIn

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
    iid = f"BENCH{i:07d}"
    return json.dumps({"event": {"incident": {
        "id": iid, "title": "High memory usage on api-deployment", "service": {"name": "API Service"},
        "urgency": "high", "html_url": f"https://yourcompany.pagerduty.com/incidents/{iid}",
        # a target per incident: on one target they would attach to its open run (one remediation per target)
        "custom_details": {"namespace": "production", "resource": f"deployment/api-{i}"}}}}).encode()


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


def start_server(argv: list[str], env: dict, cwd: Path, log, health: str) -> subprocess.Popen:
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    wait_up(health, proc)
    return proc


def wait_delivered(standin: AirflowStandIn, prefix: str, want: int, since: float) -> tuple[int, float]:
    """Runs created for ids starting with `prefix`, and when the last came (seconds after `since`)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        got = [v["at"] for (_, rid), v in standin.runs_snapshot().items() if rid.startswith(prefix)]
        if len(got) >= want:
            break
        time.sleep(0.05)
    got = [v["at"] for (_, rid), v in standin.runs_snapshot().items() if rid.startswith(prefix)]
    return len(got), (max(got) - since) if got else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--rate", type=float, default=200)
    ap.add_argument("--rounds", type=int, default=3, help="bare / relay / relay(NORMAL) in turn, this many times")
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
        env_n = {**env, "AOF_RELAY_SQLITE_SYNCHRONOUS": "NORMAL", "AOF_RELAY_DATABASE_URL": f"sqlite:///{tmp / 'outbox-n.db'}"}
        bin_dir = Path(sys.executable).parent
        log = open(tmp / "servers.log", "ab")
        urls: dict[str, str] = {}
        for name, argv0, e in (("bare", [str(bin_dir / "uvicorn"), "bare:app"], env),
                               ("relay", [str(bin_dir / "aofctl"), "relay", "--flows", str(tmp / "flows")], env),
                               ("relay_normal", [str(bin_dir / "aofctl"), "relay", "--flows", str(tmp / "flows")], env_n)):
            port = free_port()
            procs.append(start_server(argv0 + ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
                                      + (["--no-access-log"] if name == "bare" else []), e, tmp, log,
                                      f"http://127.0.0.1:{port}/" + ("" if name == "bare" else "healthz")))
            urls[name] = f"http://127.0.0.1:{port}/pagerduty/webhook"
            asyncio.run(drive(urls[name], args.warmup, args.rate, 9_000_000 + 10_000 * len(urls)))

        rounds = []
        for r in range(args.rounds):
            row: dict = {}
            for name, url in urls.items():
                offset = (r * 3 + len(row) + 1) * 100_000
                lat, codes = asyncio.run(drive(url, args.n, args.rate, offset))
                row[name] = {"p50_ms": round(pct(lat, 50), 2), "p99_ms": round(pct(lat, 99), 2), "codes": codes}
                if name != "bare":
                    runs, last = wait_delivered(standin, f"pd-BENCH{offset // 100_000:02d}", codes.get(202, 0), time.time())
                    row[name].update(accepted=codes.get(202, 0), runs_created=runs, lost=codes.get(202, 0) - runs,
                                     last_run_s_after_burst=round(last, 2))
            for name in ("relay", "relay_normal"):
                row[name]["ratio_to_bare"] = round(row[name]["p50_ms"] / row["bare"]["p50_ms"], 2)
            rounds.append(row)
            print(f"round {r + 1}: bare p50 {row['bare']['p50_ms']} ms | relay p50 {row['relay']['p50_ms']} ms "
                  f"({row['relay']['ratio_to_bare']}x), p99 {row['relay']['p99_ms']} ms, {row['relay']['runs_created']}/"
                  f"{row['relay']['accepted']} runs, last {row['relay']['last_run_s_after_burst']} s after the burst | "
                  f"relay synchronous=NORMAL p50 {row['relay_normal']['p50_ms']} ms ({row['relay_normal']['ratio_to_bare']}x)",
                  flush=True)
        med = {name: statistics.median(rd[name]["ratio_to_bare"] for rd in rounds) for name in ("relay", "relay_normal")}
        lost = sum(rd[n]["lost"] for rd in rounds for n in ("relay", "relay_normal"))
        accepted_all = all(rd[n]["codes"].get(202, 0) == args.n for rd in rounds for n in urls)
        print(json.dumps({"webhooks_per_round": args.n, "rate_per_s": args.rate, "rounds": rounds,
                          "median_ratio_relay_to_bare": med["relay"], "median_ratio_normal_to_bare": med["relay_normal"],
                          "lost": lost, "load_average": os.getloadavg(),
                          "note": "delivery goes to a local stand-in of Airflow's dagRuns endpoint"}, indent=1))
        print(f"median over {args.rounds} rounds: relay p50 / bare p50 = {med['relay']}x (goal <= 2x); "
              f"with synchronous=NORMAL {med['relay_normal']}x | lost {lost}")
        return 0 if lost == 0 and accepted_all else 1
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
