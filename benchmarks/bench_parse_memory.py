"""Memory of a dag-processor parse of 200 flows, for each way the DAG file can treat the cyclic GC.

Airflow's dag-processor manager imports Airflow, calls `gc.freeze()` ("to prevent COW in forked process
parsing dag file") and forks one process per parse. This bench does the same: a parent imports Airflow and
the DagBag, freezes, forks; the child parses a folder of 200 seed flows (the scan cache warm, as on every
re-parse), then runs one full collection (what the child's later allocations trigger anyway), and reports
its time (wall and CPU), `gc.get_freeze_count()` before and after the parse, its peak RSS, and its Private_Dirty
memory after the parse and after the collection (pages it had to copy from the parent or allocate: the real
cost of the parse on the machine).

Variants of `aof_airflow.factory.scan.cyclic_gc_paused`:
  unfreeze     gc off during the parse, then `gc.freeze(); gc.unfreeze()` (the earlier code: the parent's
               frozen heap goes back to the oldest generation, and the next full collection writes to it)
  freeze       gc off during the parse, then `gc.freeze()`: the parse's survivors join the frozen heap
  plain        gc off during the parse, then back on: nothing frozen or unfrozen

usage: python benchmarks/bench_parse_memory.py [--flows 200] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.bench_dag_import import write_aof

CHILD = textwrap.dedent("""
    import contextlib, gc, json, os, sys, time
    import airflow.sdk, airflow.providers.standard.operators.bash
    from airflow.dag_processing.dagbag import DagBag
    import aof_airflow.factory.scan as scan

    mode, folder = sys.argv[1], sys.argv[2]

    @contextlib.contextmanager
    def variant():
        was = gc.isenabled()
        gc.disable()
        try:
            yield
        finally:
            if mode == "unfreeze":
                gc.freeze(); gc.unfreeze()
            elif mode == "freeze":
                gc.freeze()
            if was:
                gc.enable()

    if mode != "product":
        scan.cyclic_gc_paused = variant
    gc.freeze()  # the dag-processor manager, before it forks a parse
    parent = gc.get_freeze_count()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        before = gc.get_freeze_count()
        t, c = time.perf_counter(), time.process_time()
        bag = DagBag(dag_folder=folder, bundle_path=folder)
        parse, parse_cpu = time.perf_counter() - t, time.process_time() - c
        after = gc.get_freeze_count()

        def rollup():
            return {k: int(v.split()[0]) for k, v in (l.split(":", 1) for l in open("/proc/self/smaps_rollup")
                    if ":" in l and l.split(":", 1)[1].strip().endswith("kB"))}

        parsed = rollup()
        t = time.perf_counter()
        gc.collect()
        collect = time.perf_counter() - t
        rollup = rollup()
        hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))
        os.write(w, json.dumps({"dags": len(bag.dags), "errors": len(bag.import_errors), "parse_s": parse, "parse_cpu_s": parse_cpu,
                                "full_collect_s": collect, "frozen_parent": parent, "frozen_before": before,
                                "frozen_after": after, "peak_rss_mb": hwm / 1024,
                                "private_dirty_parsed_mb": parsed["Private_Dirty"] / 1024,
                                "private_dirty_mb": rollup["Private_Dirty"] / 1024,
                                "pss_mb": rollup["Pss"] / 1024}).encode())
        os._exit(0)
    os.close(w)
    data = b""
    while chunk := os.read(r, 65536):
        data += chunk
    os.waitpid(pid, 0)
    print(data.decode())
""")


def run(mode: str, folder: Path, env: dict[str, str]) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, mode, str(folder)], env=env, capture_output=True, text=True,
                         timeout=900, cwd=folder)
    if out.returncode != 0 or not out.stdout.strip():
        raise SystemExit(f"{mode}: {out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--flows", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--modes", default="unfreeze,freeze,plain,product")
    args = ap.parse_args()
    modes = args.modes.split(",")
    with tempfile.TemporaryDirectory(prefix="aof-bench-mem-") as tmp:
        folder = Path(tmp) / "dags"
        write_aof(folder, args.flows, [])
        home = Path(tmp) / "home"
        home.mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AOF_"))}
        env.update({"AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                    "AIRFLOW__CORE__DAGS_FOLDER": str(folder), "AOF_CACHE_FOLDER": str(Path(tmp) / "cache"),
                    "AOF_FLOWS_FOLDER": str(folder / "flows"), "AOF_AGENTS_FOLDER": str(folder / "agents"),
                    "PYTHONPATH": str(REPO)})
        run("plain", folder, env)  # warm the scan cache: every re-parse of the dag-processor finds it
        rounds: dict[str, list[dict]] = {m: [] for m in modes}
        for _ in range(args.repeat):  # interleaved, so the machine's load touches every mode alike
            for m in modes:
                rounds[m].append(run(m, folder, env))
        report = {}
        for m, rs in rounds.items():
            report[m] = {k: round(statistics.median(r[k] for r in rs), 3) for k in rs[0]}
            report[m]["parse_cpu_s_range"] = [round(min(r["parse_cpu_s"] for r in rs), 3),
                                              round(max(r["parse_cpu_s"] for r in rs), 3)]
            report[m]["private_dirty_mb_range"] = [round(min(r["private_dirty_mb"] for r in rs), 1),
                                                   round(max(r["private_dirty_mb"] for r in rs), 1)]
        print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
