"""N incidents at once through the distributed topology (Postgres, Redis, CeleryExecutor, two relays), on
2 Celery workers vs on 1: throughput ratio and p50/p90 webhook -> PagerDuty-resolve time.

Incidents are the sandbox's `high-memory-api` scenario under distinct ids (the first remediation heals the
simulated cluster; later runs diagnose, find it healthy and resolve). The 60 s monitoring window is set to 0.
Each worker runs 4 task slots (`--concurrency 4`) and Airflow's parallelism is 4 per worker. Each topology is
fresh (its own Postgres database and Redis). On a 2-core machine CPU, not worker slots, is the ceiling.

    .venv/bin/python benchmarks/bench_distributed.py [--incidents 50] [--workers 1 2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.distributed.topology import Topology, fresh_incident, resolves


def quantile(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


def measure(workers: int, n: int, timeout: float) -> dict:
    """Start a topology with `workers` Celery workers, fire n incidents at once, time each to its resolve."""
    with tempfile.TemporaryDirectory(prefix=f"aof-bench-dist-{workers}w-") as tmp:
        with Topology(Path(tmp), workers=workers, relays=2, extra_env={"AOF_RULES_VERIFY_WINDOW": "0"}) as topo:
            system = topo.system
            ids = [f"BENCH-{workers}W-{i:03d}" for i in range(n)]
            bodies = {inc: fresh_incident(system, "high-memory-api", inc) for inc in ids}
            sent: dict[str, float] = {}

            def send(i_inc: tuple[int, str]) -> None:
                i, inc = i_inc
                sent[inc] = time.monotonic()
                r = system.send(bodies[inc], relay=i % len(system.relay_urls))  # spread over both relays
                assert r.status_code == 202, r.text

            t0 = time.monotonic()
            with ThreadPoolExecutor(16) as pool:
                list(pool.map(send, enumerate(ids)))
            done: dict[str, float] = {}
            deadline = t0 + timeout
            while len(done) < n and time.monotonic() < deadline:
                for inc in ids:
                    if inc not in done and resolves(system, inc):
                        done[inc] = time.monotonic()
                time.sleep(0.5)
            wall = (max(done.values()) - t0) if done else float("nan")
            lat = [done[i] - sent[i] for i in done]
            return {"workers": workers, "incidents": n, "resolved": len(done), "wall_s": wall,
                    "throughput_per_min": 60 * len(done) / wall if done else 0.0,
                    "p50_s": quantile(lat, 0.5) if lat else float("nan"),
                    "p90_s": quantile(lat, 0.9) if lat else float("nan"),
                    "startup_s": system.airflow.startup_seconds}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--incidents", type=int, default=50)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--timeout", type=float, default=3600)
    args = ap.parse_args()
    results = []
    for w in args.workers:
        r = measure(w, args.incidents, args.timeout)
        results.append(r)
        print(f"{w} worker(s): {r['resolved']}/{r['incidents']} resolved in {r['wall_s']:.0f} s "
              f"({r['throughput_per_min']:.2f}/min); webhook->resolve p50 {r['p50_s']:.0f} s, p90 {r['p90_s']:.0f} s "
              f"(topology up in {r['startup_s']:.0f} s)", flush=True)
    by = {r["workers"]: r for r in results}
    if 1 in by and 2 in by and by[1]["throughput_per_min"]:
        print(f"throughput ratio 2 workers / 1 worker: {by[2]['throughput_per_min'] / by[1]['throughput_per_min']:.2f}x")
    return 0 if all(r["resolved"] == r["incidents"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
