"""builtin:k8s-rules on every `rules-*` and `ext-*` sandbox scenario: accuracy (the `aofctl eval` sheet: cause,
severity, action, evidence, action safety) and cost (kubectl calls and seconds per diagnosis), through the real
stack: sandbox Kubernetes API server, the real kubectl, the guarded Shell tool. No language model, unless
`--agent` names one.

    .venv/bin/python benchmarks/bench_rules_eval.py [--jobs 2] [--all] [--scenario NAME ...] [--scenarios PATH ...]
        [--agent FILE] [--json out.json]

Exit code 1 if any scenario fails (so `make bench` stops).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv: list[str] | None = None) -> int:
    from aof_lab.rules_eval.evaluate import PREFIXES, run

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--all", action="store_true", help="also the sandbox's demo scenarios")
    ap.add_argument("--scenario", action="append")
    ap.add_argument("--scenarios", action="append", help="a scenario file or folder (repeatable)")
    ap.add_argument("--agent", help="Agent YAML with its own model (default: the seed diagnostic agent on builtin:k8s-rules)")
    ap.add_argument("--json", help="write per-scenario results here")
    args = ap.parse_args(argv)
    t0 = time.monotonic()
    outcomes = run(args.scenario, prefix="" if args.all else PREFIXES, paths=args.scenarios, agent_path=args.agent, jobs=args.jobs)
    wall = time.monotonic() - t0
    ok = [o for o in outcomes if o.passed]
    secs = [o.seconds for o in outcomes if not o.error]
    calls = [o.calls for o in outcomes if not o.error]
    by_check: dict[str, list[int]] = {}
    for o in outcomes:
        for k, v in o.checks.items():
            by_check.setdefault(k, []).append(int(v))
    print(f"scenarios {len(outcomes)}, passed {len(ok)}; wall {wall:.1f}s with {args.jobs} job(s)")
    if secs:
        print(f"per diagnosis: median {statistics.median(secs):.1f}s, max {max(secs):.1f}s; "
              f"kubectl calls median {statistics.median(calls):.0f}, max {max(calls)}")
    print("checks passed: " + ", ".join(f"{k} {sum(v)}/{len(v)}" for k, v in by_check.items()))
    if args.json:
        Path(args.json).write_text(json.dumps([{
            "scenario": o.scenario, "passed": o.passed, "class": o.cls, "action": o.action, "checks": o.checks,
            "seconds": round(o.seconds, 2), "kubectl_calls": o.calls, "error": o.error, "output": o.got,
            "evidence_problems": o.problems, "unsafe": o.unsafe, "honest_unknown": o.honest_unknown,
        } for o in outcomes], indent=2))
    return 0 if len(ok) == len(outcomes) and outcomes else 1


if __name__ == "__main__":
    sys.exit(main())
