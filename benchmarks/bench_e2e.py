"""Webhook -> PagerDuty resolve for the tutorial's TEST001, against Airflow's own scheduling floor.

Both are measured in the same Airflow (SQLite + LocalExecutor, 4 processes) in the same run:
  ours   the tutorial flow on the sandbox (rules diagnostician, 60 s monitoring window set to 0): from the
         webhook POST to the relay until the sandbox PagerDuty receives the resolving PUT;
  floor  a DAG of the same number of chained no-op Python tasks as TEST001 executes up to close-pagerduty,
         triggered over the same REST endpoint the relay uses, until its last task ends.
Each round starts a fresh system (a remediation heals the simulated cluster for good). Goal: ours <= 1.2x floor.

    .venv/bin/python benchmarks/bench_e2e.py [--rounds 2] [--tasks]

--tasks prints each task's queued -> start -> end for both, which is where a gap between them shows.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aof_lab.local.demo import FLOW, DemoSystem

# TEST001's tasks up to the resolve: parse-alert, diagnose, notify-diagnosis, check-severity, auto-approve,
# remediate, verify-fix, remediation-failed, notify-success, close-pagerduty
CHAIN = 10
FLOOR_DAG = f'''
from airflow.sdk import DAG, task, chain

with DAG("aof-bench-floor", schedule=None, catchup=False):
    @task
    def noop():
        return None

    chain(*[noop.override(task_id=f"t{{i}}")() for i in range({CHAIN})])
'''


def dags_with_floor(tmp: Path) -> Path:
    dags = tmp / "dags"
    shutil.copytree(ROOT / "dags", dags, ignore=shutil.ignore_patterns("__pycache__"))
    (dags / "aof_bench_floor.py").write_text(FLOOR_DAG)
    return dags


def iso(ts: str) -> float:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


def print_tasks(label: str, t0: float, tis: list[dict]) -> None:
    """Each task relative to the trigger: queued, started, ended (s), and its own run time."""
    print(f"  {label}: {'task':<20} {'queued':>7} {'start':>7} {'end':>7} {'run':>6}  state")
    rel = lambda ts: f"{iso(ts) - t0:7.2f}" if ts else "      -"
    for ti in sorted(tis, key=lambda t: t.get("start_date") or t.get("end_date") or "~"):
        run = f"{iso(ti['end_date']) - iso(ti['start_date']):6.2f}" if ti.get("start_date") and ti.get("end_date") else "     -"
        print(f"  {'':{len(label)}}  {ti['task_id']:<20} {rel(ti.get('queued_when'))} {rel(ti.get('start_date'))} "
              f"{rel(ti.get('end_date'))} {run}  {ti['state']}")


def measure_floor(system: DemoSystem, n: int, show: bool = False) -> float:
    client = system.airflow.client
    client.wait_for_dag("aof-bench-floor", timeout=180)
    t0 = time.time()
    client.trigger("aof-bench-floor", {}, run_id=f"floor-{n}")
    client.wait_for_run("aof-bench-floor", f"floor-{n}", states=("success",), timeout=600)
    tis = client.task_instances("aof-bench-floor", f"floor-{n}")
    if show:
        print_tasks("floor", t0, tis)
    return max(iso(ti["end_date"]) for ti in tis) - t0


def measure_ours(system: DemoSystem, show: bool = False) -> float:
    body = json.loads((ROOT / "examples" / "payloads" / "test1-noncritical.json").read_text())
    t0 = time.time()
    r = system.send(body)
    assert r.status_code == 202, r.text
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        if any(q.method == "PUT" and q.path == "/incidents/TEST001" for q in system.sandbox.pagerduty.requests):
            took = time.time() - t0
            if show:
                system.airflow.client.wait_for_run(FLOW, "pd-TEST001", timeout=120)
                print_tasks("ours", t0, system.airflow.client.task_instances(FLOW, "pd-TEST001"))
            return took
        time.sleep(0.05)
    raise RuntimeError(f"TEST001 not resolved: {system.airflow.client.task_states(FLOW, 'pd-TEST001')}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--tasks", action="store_true", help="print each task's queued/start/end")
    args = ap.parse_args()
    ours, floor = [], []
    for n in range(args.rounds):
        with tempfile.TemporaryDirectory(prefix="aof-bench-e2e-") as tmp:
            system = DemoSystem(Path(tmp) / "state", dags_with_floor(Path(tmp)), port=0, relay_port=0,
                                extra_env={"AOF_RULES_VERIFY_WINDOW": "0"})
            with system:
                measure_floor(system, 0)  # warm-up: the first run pays for imports and the DAG's first parse
                floor.append(measure_floor(system, n + 1, args.tasks))
                ours.append(measure_ours(system, args.tasks))
        print(f"round {n + 1}: ours {ours[-1]:6.1f} s   floor ({CHAIN} chained no-op tasks) {floor[-1]:6.1f} s   "
              f"{ours[-1] / floor[-1]:.2f}x", flush=True)
    mo, mf = statistics.median(ours), statistics.median(floor)
    print(f"\nwebhook -> PagerDuty resolve (TEST001, sandbox, window 0): median {mo:.1f} s over {len(ours)} round(s)")
    print(f"scheduling floor ({CHAIN} chained no-op tasks, REST trigger): median {mf:.1f} s")
    ratios = [o / f for o, f in zip(ours, floor)]
    print(f"ratio ours / floor = {mo / mf:.2f}x   (goal <= 1.2x; per round {min(ratios):.2f}-{max(ratios):.2f}x: "
          "the machine's load moves both, so quote the range)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
