"""`aofctl agent logs`: the log lines of every node that runs an agent, across the flows that use it."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Iterable

from aof_airflow.cli import Commands
from aof_airflow.cli.monitor_commands import no_runs, not_found, reason
from aof_airflow.config import flows_folder
from aof_airflow.incidents.airflow_runs import LogUnavailable, source
from aof_airflow.spec.loader import load_paths
from aof_airflow.spec.models import AgentNode


def register(cli: Commands) -> None:
    p = cli.command("agent logs", _agent_logs, help="Logs of the nodes that run an agent, newest run first")
    p.add_argument("name", help="metadata.name of the Agent")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing new lines and new runs")
    p.add_argument("--tail", type=int, default=0, help="only the last N lines (0: all)")
    p.add_argument("--runs", type=int, default=1, help="how many recent runs of each flow to show (default 1)")
    p.add_argument("--flows", action="append", default=[], help="flow YAML files/folders (default: flows folder)")
    p.add_argument("--interval", type=float, default=2.0, help=argparse.SUPPRESS)
    p.add_argument("--source", choices=("auto", "api", "db"), default="auto")
    p.add_argument("--json", action="store_true", help="one JSON object per node log")


def _agent_nodes(agent: str, paths: Iterable[str]) -> tuple[list[tuple[str, str]], str]:
    """(flow, node) pairs running `agent`, and where that was looked up (for the error when none)."""
    where = list(paths) or [str(flows_folder())]
    loaded = load_paths(where, check_graph=False)
    out, agents = [], set()
    for fname, flow in sorted(loaded.flows.items()):
        for n in flow.spec.nodes:
            used = n.config.agent if isinstance(n, AgentNode) else None
            if used:
                agents.add(used)
            if used == agent:
                out.append((fname, n.id))
    return out, not_found("flow node running agent", agent, where, sorted(agents))


def _agent_logs(args: argparse.Namespace) -> int:
    nodes, why = _agent_nodes(args.name, args.flows)
    if not nodes:
        print(f"aofctl agent logs: {why}", file=sys.stderr)
        return 2
    seen: dict[tuple[str, str, str, int], int] = {}  # (flow, run, node, try) -> lines printed
    told: set[str] = set()  # problems already said (follow mode polls again)
    first = True
    while True:
        try:
            src = source(args.source)
            runs = {flow: src.runs(flow, args.runs) for flow in {f for f, _n in nodes}}
        except Exception as e:
            print(f"aofctl agent logs: cannot read the runs of {', '.join(sorted({f for f, _ in nodes}))}: "
                  f"{reason(e)}", file=sys.stderr)
            return 1
        for flow, node in nodes:
            if not runs[flow] and first:
                print(f"aofctl agent logs: {no_runs(src, flow)}", file=sys.stderr)
            for run in reversed(runs[flow]):
                for t in src.task_instances(flow, run.run_id):
                    if t.task_id != node or t.try_number < 1:
                        continue
                    key = (flow, run.run_id, node, t.try_number)
                    try:
                        lines = src.log(flow, run.run_id, node, t.try_number).splitlines()
                    except LogUnavailable as e:
                        msg = f"{flow} / {run.run_id} / {node} try {t.try_number}: no log: {e}"
                        if msg not in told:
                            told.add(msg)
                            print(f"aofctl agent logs: {msg}", file=sys.stderr)
                        continue
                    done = seen.get(key)
                    if done is None:
                        new = lines[-args.tail:] if (args.tail and first) else lines
                        if not args.json:
                            print(f"==> {flow} / {run.run_id} / {node} [{t.state}, try {t.try_number}] <==")
                            if not lines:
                                print("(the log is empty so far)")
                    else:
                        new = lines[done:]
                    seen[key] = len(lines)
                    if args.json and new:
                        print(json.dumps({"flow": flow, "run_id": run.run_id, "node": node, "state": t.state,
                                          "try_number": t.try_number, "lines": new}))
                    elif new:
                        print("\n".join(new))
        sys.stdout.flush()
        if first and not seen and not args.follow:
            return 1  # nothing could be shown: the reasons went to stderr
        first = False
        if not args.follow:
            return 0
        try:
            time.sleep(args.interval)
        except KeyboardInterrupt:
            return 0
