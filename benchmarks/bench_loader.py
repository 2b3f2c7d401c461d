"""Load + validate 500 generated flows of the seed's size; compare with PyYAML's pure-Python loader.

    .venv/bin/python benchmarks/bench_loader.py [--flows 500] [--repeat 3]

Baseline, measured in the same run on the same files: `yaml.load(text, Loader=yaml.SafeLoader)`
(parse only, no validation). Ours does more (positions, duplicate keys, pydantic, graph and
`${...}` reference checks), so a ratio below 1 means ours is faster despite that. Also shown:
libyaml's `CSafeLoader` alone (the floor for parsing), and a re-load of unchanged files (the
Airflow dag-processor case, served from the content-hash cache).
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from pathlib import Path

import yaml

from aof_airflow.spec.loader import clear_cache, load_paths
from aof_airflow.spec.marked_yaml import USING_LIBYAML

REPO = Path(__file__).resolve().parents[1]
SEED_FLOW = REPO / "dags" / "flows" / "incident-response-flow.yaml"
SEED_AGENTS = sorted((REPO / "dags" / "agents").glob("*.yaml"))


def generate(folder: Path, count: int) -> list[Path]:
    """`count` copies of the seed flow, each with its own flow name and node ids (and references to them)."""
    seed = SEED_FLOW.read_text()
    ids = re.findall(r"^\s*- id: (\S+)$", seed, re.MULTILINE)
    pattern = re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, sorted(ids, key=len, reverse=True))) + r")(?![\w-])")
    files = []
    for i in range(count):
        text = pattern.sub(lambda m: f"{m.group(1)}-{i}", seed)
        text = text.replace("name: incident-auto-response", f"name: incident-auto-response-{i}", 1)
        p = folder / f"flow-{i:04d}.yaml"
        p.write_text(text)
        files.append(p)
    for a in SEED_AGENTS:
        (folder / a.name).write_text(a.read_text())
    return files


def timed(fn) -> float:
    """CPU seconds of this process: other load on a shared machine does not skew the ratios."""
    t0 = time.process_time()
    fn()
    return time.process_time() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--flows", type=int, default=500)
    ap.add_argument("--repeat", type=int, default=1, help="best of N runs for each measurement")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        files = generate(folder, args.flows)
        texts = [f.read_text() for f in files]

        def ours() -> None:
            clear_cache()
            r = load_paths([folder])
            assert r.ok and len(r.flows) == args.flows, r.problems[:3]

        def cached() -> None:
            r = load_paths([folder])
            assert r.ok and len(r.flows) == args.flows

        def pure() -> None:
            for t in texts:
                yaml.load(t, Loader=yaml.SafeLoader)

        def libyaml() -> None:
            for t in texts:
                yaml.load(t, Loader=yaml.CSafeLoader)

        ours()  # warm imports and pydantic
        t_ours = min(timed(ours) for _ in range(args.repeat))
        t_pure = min(timed(pure) for _ in range(args.repeat))
        t_c = min(timed(libyaml) for _ in range(args.repeat)) if USING_LIBYAML else float("nan")
        cached()
        t_cached = min(timed(cached) for _ in range(args.repeat))
        n = args.flows
        nodes = statistics.mean(len(re.findall(r"^\s*- id: ", t, re.MULTILINE)) for t in texts)
    print(f"{n} flows of {nodes:.0f} nodes (+3 agents), libyaml: {USING_LIBYAML}; CPU seconds, best of {args.repeat}")
    print(f"ours  load+validate (positions, pydantic, graph, refs): {t_ours:7.3f} s  {1000 * t_ours / n:6.2f} ms/flow")
    print(f"baseline yaml.load SafeLoader (pure Python, parse only): {t_pure:7.3f} s  {1000 * t_pure / n:6.2f} ms/flow")
    print(f"yaml.load CSafeLoader (libyaml, parse only):             {t_c:7.3f} s  {1000 * t_c / n:6.2f} ms/flow")
    print(f"ours, unchanged files again (content-hash cache):         {t_cached:7.3f} s  {1000 * t_cached / n:6.2f} ms/flow")
    print(f"ratio ours / SafeLoader: {t_ours / t_pure:.2f}  (below 1 = ours faster)")
    print(f"ratio ours / CSafeLoader: {t_ours / t_c:.2f}")
    print(f"ratio cached / SafeLoader: {t_cached / t_pure:.3f}")


if __name__ == "__main__":
    main()
