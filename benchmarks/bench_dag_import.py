"""Import time of a dags folder holding 200 flows of the seed's size plus AOF's own corpus flows (every flow of
tests/corpora/aof that validates), three ways, side by side in one run:

  aof          dags/aof_flows.py building the AgentFlow YAML files (the seed 200 times, renamed, and the corpus
               flows as AOF ships them) -- cold (no parse cache) and warm (the on-disk cache by file content,
               what the dag-processor sees on re-parse);
  dag-factory  dag-factory 1.1 `load_yaml_dags` building the same DAGs from its own YAML;
  hand-written one Python DAG file building the same DAGs with the same operators as dag-factory.

Every variant builds the same DAGs with the same edges and trigger rules (200 x the seed's 14 tasks, then each
corpus flow's nodes). dag-factory and the
hand-written file use the stock operators a Python author would pick (BashOperator for scripts and agent
calls, SlackAPIPostOperator, HttpOperator); aof builds its own node operators. Each measurement is a fresh
process timing `DagBag(dag_folder=...)` only (Airflow itself already imported and its heap frozen, as in a
dag-processor's forked parse); --repeat rounds measure each variant once in turn, medians are reported.
Goals: aof cold <= 0.5x dag-factory and <= 1.5x hand-written; warm <= 1.0x hand-written.

Our package is compiled to bytecode first, as `pip install` does for every installed package (Airflow, the
providers, dag-factory): with an editable install and PYTHONDONTWRITEBYTECODE set (as on these machines)
each measured parse would otherwise also compile our modules from source, ~30 ms the others do not pay.

usage: python benchmarks/bench_dag_import.py [--flows 200] [--repeat 3]
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SEED = REPO / "dags/flows/incident-response-flow.yaml"

MEASURE = textwrap.dedent("""
    import json, sys, time
    import gc
    import airflow.sdk, airflow.providers.standard.operators.bash  # startup cost is not the folder's
    from airflow.dag_processing.dagbag import DagBag
    gc.freeze()  # as the dag-processor's manager does before it forks a parse: its heap is not the parse's to scan
    from pathlib import Path
    folder = Path(sys.argv[1])
    t, c = time.perf_counter(), time.process_time()
    bag = DagBag(dag_folder=folder, bundle_path=folder)
    dt, cpu = time.perf_counter() - t, time.process_time() - c
    tasks = sum(len(d.tasks) for d in bag.dags.values())
    print(json.dumps({"seconds": dt, "cpu": cpu, "dags": len(bag.dags), "tasks": tasks, "errors": len(bag.import_errors)}))
""")


def seed_flow() -> dict:
    """The seed flow as the real loader reads it (the repeated `to:` keys are a fan-out)."""
    from aof_airflow.spec.loader import load_paths

    res = load_paths([SEED], check_graph=False)
    return res.flows["incident-auto-response"].model_dump(by_alias=True, exclude_defaults=True)


CORPUS = REPO / "tests/corpora/aof"
BASH = "airflow.providers.standard.operators.bash.BashOperator"


def corpus_flows() -> list[tuple[Path, dict]]:
    """(file, flow as the loader reads it) for every corpus flow that validates (the files AOF ships, unchanged)."""
    from aof_airflow.spec.loader import load_text

    out = []
    for f in sorted(CORPUS.rglob("*.yaml")):
        parsed = load_text(f.read_text(encoding="utf-8"), str(f))
        if not parsed.problems:
            out.extend((f, d.model.model_dump(by_alias=True, exclude_defaults=True))
                       for d in parsed.documents if d.kind == "AgentFlow")
    return out


def corpus_agent_files(corpus: list[tuple[Path, dict]]) -> list[Path]:
    """The corpus files defining the agents the corpus flows name (the first file per agent name)."""
    from aof_airflow.spec.loader import load_text

    wanted = {n["config"]["agent"] for _, f in corpus for n in f["spec"]["nodes"] if n.get("config", {}).get("agent")}
    files: dict[str, Path] = {}
    for f in sorted(CORPUS.rglob("*.yaml")):
        parsed = load_text(f.read_text(encoding="utf-8"), str(f))
        for d in parsed.documents:
            if d.kind == "Agent" and d.model.metadata.name in wanted and not parsed.problems:
                files.setdefault(d.model.metadata.name, f)
    return sorted(set(files.values()))


def edges(flow: dict) -> list[tuple[str, str]]:
    return [(c["from"], t) for c in flow["spec"].get("connections", []) if c["from"] != "start" for t in c["to"]]


def stock_task(node: dict) -> tuple[str, dict]:
    """(operator class path, kwargs) a Python author would use for the node."""
    cfg = node.get("config", {})
    if node["type"] == "Transform":
        return BASH, {"bash_command": cfg["script"]}
    if node["type"] == "Script":
        sc = cfg["scriptConfig"]
        command = sc.get("command") or f"{sc['tool']} {sc['action']}"
        # a bash_command ending in .sh is read by Airflow as a template file to load: the space says "run it"
        return BASH, {"bash_command": command + " " if command.strip().endswith((".sh", ".bash")) else command}
    if node["type"] == "Agent":
        name = cfg.get("agent") or cfg["inline"]["name"]
        return BASH, {"bash_command": f"aofctl run-agent {name} --timeout {cfg.get('timeout_seconds', 300)}"}
    if node["type"] not in ("Slack", "HTTP"):
        return BASH, {"bash_command": "exit 0"}
    if node["type"] == "Slack":
        return ("airflow.providers.slack.operators.slack.SlackAPIPostOperator",
                {"channel": cfg["channel"], "text": cfg["message"], "slack_conn_id": "slack_default"})
    return ("airflow.providers.http.operators.http.HttpOperator",
            {"endpoint": cfg["url"], "method": cfg.get("method", "GET"), "data": cfg.get("body"),
             "headers": cfg.get("headers", {}), "http_conn_id": "pagerduty_default"})


def joins(flow: dict) -> set[str]:
    ups: dict[str, int] = {}
    for _, b in edges(flow):
        ups[b] = ups.get(b, 0) + 1
    return {n for n, k in ups.items() if k > 1}


def write_aof(folder: Path, n: int, corpus: list[tuple[Path, dict]]) -> None:
    text = SEED.read_text()
    (folder / "flows").mkdir(parents=True)
    shutil.copytree(REPO / "dags/agents", folder / "agents")
    shutil.copy(REPO / "dags/aof_flows.py", folder / "aof_flows.py")
    for i in range(n):
        (folder / "flows" / f"flow-{i:03d}.yaml").write_text(
            text.replace("name: incident-auto-response", f"name: incident-auto-response-{i:03d}"))
    for f, _ in corpus:
        shutil.copy(f, folder / "flows" / ("aof-" + "__".join(f.relative_to(CORPUS).parts)))
    for f in corpus_agent_files(corpus):
        shutil.copy(f, folder / "agents" / ("aof-" + "__".join(f.relative_to(CORPUS).parts)))


def dag_specs(n: int, flow: dict, corpus: list[tuple[Path, dict]]) -> list[tuple[str, dict]]:
    """(DAG id suffix, flow) of every DAG the baselines build: the seed n times, then each corpus flow once."""
    return [(f"incident-{i:03d}", flow) for i in range(n)] + [(f["metadata"]["name"], f) for _, f in corpus]


def write_dag_factory(folder: Path, n: int, flow: dict, corpus: list[tuple[Path, dict]]) -> None:
    (folder / "configs").mkdir(parents=True)
    for i, (dag_id, spec) in enumerate(dag_specs(n, flow, corpus)):
        j = joins(spec)
        ups: dict[str, list[str]] = {}
        for a, b in edges(spec):
            ups.setdefault(b, []).append(a)
        tasks = []
        for node in spec["spec"]["nodes"]:
            op, kw = stock_task(node)
            t = {"task_id": node["id"], "operator": op, **kw}
            if ups.get(node["id"]):
                t["dependencies"] = ups[node["id"]]
            if node["id"] in j:
                t["trigger_rule"] = "none_failed_min_one_success"
            tasks.append(t)
        doc = {f"df-{dag_id}": {"schedule": None, "catchup": False, "start_date": "2024-01-01",
                                "max_active_runs": 5, "tags": ["aof"], "tasks": tasks}}
        (folder / "configs" / f"flow-{i:03d}.yml").write_text(yaml.safe_dump(doc, sort_keys=False))
    (folder / "df_dags.py").write_text(textwrap.dedent("""
        # airflow DAG file: dag-factory builds every YAML in ./configs
        from pathlib import Path
        from dagfactory import load_yaml_dags
        load_yaml_dags(globals_dict=globals(), dags_folder=str(Path(__file__).parent / "configs"), suffix=[".yml"])
    """))


def write_hand(folder: Path, n: int, flow: dict, corpus: list[tuple[Path, dict]]) -> None:
    folder.mkdir(parents=True)

    def shape(spec: dict) -> tuple[list, list, list]:
        nodes = []
        for node in spec["spec"]["nodes"]:
            op, kw = stock_task(node)
            nodes.append((node["id"], op.rsplit(".", 1)[1], kw))
        return nodes, edges(spec), sorted(joins(spec))

    nodes, seed_edges, seed_joins = shape(flow)
    others = [(f["metadata"]["name"], *shape(f)) for _, f in corpus]
    src = [
        "# airflow DAG file written by hand: the same 200 DAGs, the same stock operators",
        "from datetime import datetime, timezone",
        "from airflow.sdk import DAG, TriggerRule",
        "from airflow.providers.standard.operators.bash import BashOperator",
        "from airflow.providers.slack.operators.slack import SlackAPIPostOperator",
        "from airflow.providers.http.operators.http import HttpOperator",
        f"SPECS = [(f'incident-{{i:03d}}', {nodes!r}, {seed_edges!r}, {seed_joins!r}) for i in range({n})]",
        f"SPECS += {others!r}",
        "OPS = {'BashOperator': BashOperator, 'SlackAPIPostOperator': SlackAPIPostOperator, 'HttpOperator': HttpOperator}",
        "for name, NODES, EDGES, JOINS in SPECS:",
        "    with DAG(f'hand-{name}', schedule=None, catchup=False, max_active_runs=5, tags=['aof'],",
        "             start_date=datetime(2024, 1, 1, tzinfo=timezone.utc)) as dag:",
        "        t = {tid: OPS[op](task_id=tid, trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS if tid in JOINS",
        "                          else TriggerRule.ALL_SUCCESS, **kw) for tid, op, kw in NODES}",
        "        for a, b in EDGES:",
        "            t[a] >> t[b]",
        "    globals()[dag.dag_id] = dag",
    ]
    (folder / "hand_dags.py").write_text("\n".join(src) + "\n")


def measure(folder: Path, env: dict[str, str]) -> dict:
    """One fresh process building the folder's DAGs: seconds, CPU seconds, DAGs, tasks, import errors."""
    out = subprocess.run([sys.executable, "-c", MEASURE, str(folder)], env=env, capture_output=True, text=True,
                         timeout=900)
    if out.returncode != 0:
        raise SystemExit(f"measurement failed for {folder}:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--flows", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    compileall.compile_dir(REPO / "aof_airflow", quiet=1)
    flow = seed_flow()
    corpus = corpus_flows()
    print(f"{args.flows} seed flows + {len(corpus)} AOF corpus flows: "
          + ", ".join(f["metadata"]["name"] for _, f in corpus))
    with tempfile.TemporaryDirectory(prefix="aof-bench-") as tmp:
        root = Path(tmp)
        write_aof(root / "aof", args.flows, corpus)
        write_dag_factory(root / "dagfactory", args.flows, flow, corpus)
        write_hand(root / "hand", args.flows, flow, corpus)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AOF_"))}
        env.update({"AIRFLOW_HOME": str(root / "home"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                    "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "0", "PYTHONPATH": str(REPO)})
        cold_env = dict(env, AOF_FLOWS_FOLDER=str(root / "aof/flows"), AOF_AGENTS_FOLDER=str(root / "aof/agents"))
        warm_env = dict(cold_env, AOF_CACHE_FOLDER=str(root / "cache-warm"))
        measure(root / "aof", warm_env)  # fills the warm cache
        variants = {  # name -> (folder, environment of round i); cold: a fresh cache folder each round
            "hand-written": (root / "hand", lambda i: env),
            "dag-factory": (root / "dagfactory", lambda i: env),
            "aof (cold)": (root / "aof", lambda i: dict(cold_env, AOF_CACHE_FOLDER=str(root / f"cache-cold-{i}"))),
            "aof (warm)": (root / "aof", lambda i: warm_env),
        }
        # rounds, each measuring every variant once: the machine's drift over the run falls on all of them alike
        runs: dict[str, list[dict]] = {name: [] for name in variants}
        for i in range(args.repeat):
            for name, (folder, env_of) in variants.items():
                runs[name].append(measure(folder, env_of(i)))
    print(f"{'variant':<14} {'seconds':>8} {'cpu s':>8} {'dags':>5} {'tasks':>6} {'errors':>6}  runs (seconds)")
    results = {name: dict(rs[-1], seconds=statistics.median(r["seconds"] for r in rs),
                          cpu=statistics.median(r["cpu"] for r in rs)) for name, rs in runs.items()}
    for name, r in results.items():
        print(f"{name:<14} {r['seconds']:8.3f} {r['cpu']:8.3f} {r['dags']:5d} {r['tasks']:6d} {r['errors']:6d}  "
              f"{[round(x['seconds'], 3) for x in runs[name]]}")
    # wall clock, and the process's CPU time (what a shared machine's other load does not inflate as much); the
    # ratio of the medians, and the range of each round's own ratio
    for metric in ("seconds", "cpu"):
        df, hand = results["dag-factory"][metric], results["hand-written"][metric]
        for name, goal in (("aof (cold)", 1.5), ("aof (warm)", 1.0)):
            s = results[name][metric]
            per_round = [r[metric] / h[metric] for r, h in zip(runs[name], runs["hand-written"])]
            print(f"{name} [{metric}]: {s / df:.2f}x dag-factory (goal <= 0.5x), {s / hand:.2f}x hand-written "
                  f"(goal <= {goal}x; rounds {min(per_round):.2f}-{max(per_round):.2f}x)")
    expected = args.flows + len(corpus)
    bad = [n for n, r in results.items() if r["dags"] != expected or r["errors"]]
    if bad:
        raise SystemExit(f"variants that did not build {expected} DAGs cleanly: {bad}")


if __name__ == "__main__":
    main()
