"""`aofctl flow status|logs|metrics|describe NAME` and `aofctl agent logs NAME [-f] [--tail N]`.

The tutorial's Step 8 mapped onto Airflow: a flow is the DAG of the same name, its runs are dag runs
(REST API or metadata DB, see incidents.airflow_runs), and what each run meant (auto-resolved,
escalated, ...) comes from our incident records. Every command prints a table, or JSON with --json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timezone
from typing import Any, Iterable, Sequence


def register(cli) -> None:
    def common(p: argparse.ArgumentParser, source: bool = True) -> None:
        p.add_argument("name", help="flow name (metadata.name; the DAG id)")
        p.add_argument("--json", action="store_true", help="machine-readable output")
        if source:
            p.add_argument("--source", choices=("auto", "api", "db"), default="auto",
                           help="where runs and logs come from (auto: REST API when airflow_api_url is set)")

    p = cli.command("flow status", _status, help="Recent runs of a flow: state, duration, outcome")
    common(p)
    p.add_argument("--limit", type=int, default=10)
    p = cli.command("flow logs", _flow_logs, help="Incident responses of a flow; with --run, the log of each node")
    common(p)
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--run", help="a run id: print the log of every node of that run")
    p.add_argument("--tail", type=int, default=0, help="with --run: only the last N lines of each node")
    p = cli.command("flow metrics", _metrics, help="Runs, success/auto-resolved/escalation rates, approval waits, MTTR")
    common(p, source=False)
    p.add_argument("--window", default="7d", help="how far back: 24h, 7d, 30d ... (default 7d)")
    p.add_argument("--until", help="end of the window, ISO time (default: now)")
    p = cli.command("flow describe", _describe, help="A flow's definition, state and success_rate")
    common(p)
    p.add_argument("--window", default="30d", help="window of the rates shown (default 30d)")
    p = cli.command("agent logs", _agent_logs, help="Logs of the nodes that run an agent, newest run first")
    p.add_argument("name", help="metadata.name of the Agent")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing new lines and new runs")
    p.add_argument("--tail", type=int, default=0, help="only the last N lines (0: all)")
    p.add_argument("--runs", type=int, default=1, help="how many recent runs of each flow to show (default 1)")
    p.add_argument("--flows", action="append", default=[], help="flow YAML files/folders (default: flows folder)")
    p.add_argument("--interval", type=float, default=2.0, help=argparse.SUPPRESS)
    p.add_argument("--source", choices=("auto", "api", "db"), default="auto")
    p.add_argument("--json", action="store_true", help="one JSON object per node log")


# ------------------------------------------------------------------------------------------ helpers


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> str:
    cells = [[("-" if v is None else str(v)) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    line = lambda r: "  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip()  # noqa: E731
    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in cells)])


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v * 100:.1f}%"


def _secs(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:.0f}s" if v < 120 else f"{v / 60:.1f}m"


def _print_json(obj: Any) -> None:
    print(json.dumps(obj, indent=2, default=str))


def _records_by_run(name: str, limit: int = 1000) -> dict[str, Any]:
    from aof_airflow.incidents import records

    return {r.run_id: r for r in records.query(dag_id=name, limit=limit)}


def _window(text: str, until: str | None = None) -> tuple[datetime, datetime]:
    from aof_airflow.incidents.metrics import parse_window

    now = datetime.fromisoformat(until.replace("Z", "+00:00")) if until else datetime.now(timezone.utc)
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    return now - parse_window(text), now


# ------------------------------------------------------------------------------------------ commands


def _status(args: argparse.Namespace) -> int:
    from aof_airflow.incidents.airflow_runs import source

    src = source(args.source)
    runs = src.runs(args.name, args.limit)
    recs = _records_by_run(args.name)
    out = []
    for r in runs:
        rec = recs.get(r.run_id)
        tis = src.task_instances(args.name, r.run_id)
        active = [t.task_id for t in tis if t.state in ("running", "deferred", "queued", "up_for_retry")]
        failed = [t.task_id for t in tis if t.state == "failed"]
        inc = (r.conf.get("event") or {}).get("incident") or {} if isinstance(r.conf.get("event"), dict) else {}
        out.append({
            "run_id": r.run_id, "state": r.state, "started": r.start, "ended": r.end,
            "incident": inc.get("id"), "title": inc.get("title"),
            "result": rec.result if rec else None, "now": active, "failed": failed,
        })
    if args.json:
        _print_json({"flow": args.name, "runs": out})
        return 0
    if not out:
        print(f"{args.name}: no runs")
        return 0
    print(table([[o["run_id"], o["state"], o["incident"], (o["title"] or "")[:40], o["result"],
                  ",".join(o["now"] or o["failed"]) or None, (o["started"] or "")[:19]] for o in out],
                ["RUN", "STATE", "INCIDENT", "TITLE", "RESULT", "NODE", "STARTED"]))
    return 0


def _flow_logs(args: argparse.Namespace) -> int:
    if args.run:
        from aof_airflow.incidents.airflow_runs import source

        src = source(args.source)
        logs = []
        for t in src.task_instances(args.name, args.run):
            if t.try_number < 1:
                continue
            text = _tail(src.log(args.name, args.run, t.task_id, t.try_number), args.tail)
            logs.append({"node": t.task_id, "state": t.state, "try_number": t.try_number, "log": text})
        if args.json:
            _print_json({"flow": args.name, "run_id": args.run, "nodes": logs})
        else:
            for entry in logs:
                print(f"==> {entry['node']} [{entry['state']}, try {entry['try_number']}]")
                print(entry["log"] or "(no log)")
        return 0
    from aof_airflow.incidents import records

    recs = records.query(dag_id=args.name, limit=args.limit)
    if args.json:
        _print_json({"flow": args.name, "incidents": [r.to_json() for r in recs]})
        return 0
    if not recs:
        print(f"{args.name}: no incident records")
        return 0
    print(table([[(r.ended_at or r.recorded_at).isoformat()[:19] if (r.ended_at or r.recorded_at) else None,
                  r.incident_id, (r.title or "")[:40], r.severity, r.result,
                  (r.approval or {}).get("outcome"), (r.approval or {}).get("by"), r.failed_node,
                  _secs(r.duration_seconds), r.usage.get("input_tokens", 0) + r.usage.get("output_tokens", 0),
                  r.run_id] for r in recs],
                ["ENDED", "INCIDENT", "TITLE", "SEVERITY", "RESULT", "APPROVAL", "BY", "FAILED_NODE",
                 "DURATION", "TOKENS", "RUN"]))
    return 0


def _metrics(args: argparse.Namespace) -> int:
    from aof_airflow.incidents import metrics, records

    since, until = _window(args.window, args.until)
    m = metrics.compute(records.query(dag_id=args.name, since=since, until=until), flow=args.name,
                        since=since, until=until)
    if args.json:
        _print_json(m)
        return 0
    print(f"flow: {args.name}   window: {args.window} ({since.isoformat()[:19]} .. {until.isoformat()[:19]})")
    print(table([
        ["runs", m["runs"]],
        ["success_rate", _pct(m["success_rate"])],
        ["auto_resolved_rate", _pct(m["auto_resolved_rate"])],
        ["escalation_rate", _pct(m["escalation_rate"])],
        ["approval_wait_median", _secs(m["approvals"]["wait_seconds"]["median"])],
        ["approval_wait_p90", _secs(m["approvals"]["wait_seconds"]["p90"])],
        ["mttr_median", _secs(m["mttr_seconds"]["all"]["median"])],
        ["mttr_p90", _secs(m["mttr_seconds"]["all"]["p90"])],
        ["tokens_in/out", f"{m['tokens']['input']}/{m['tokens']['output']}"],
        ["changes_applied", m["changes_applied"]],
        ["shadow_would_have_run", f"{m['shadow']['would_have_run']} in {m['shadow']['runs']} run(s)"],
    ], ["METRIC", "VALUE"]))
    if m["results"]:
        print()
        print(table(sorted(m["results"].items()), ["RESULT", "RUNS"]))
    if m["shadow"]["latest"]:
        print()
        print("shadow mode: what would have run (server dry runs, nothing applied)")
        print(table([[x["when"][:19] if x["when"] else None, x["incident_id"], x["node"], x["command"],
                      (x["dry_run"].strip().splitlines() or [""])[-1][:60]] for x in m["shadow"]["latest"]],
                    ["WHEN", "INCIDENT", "NODE", "WOULD HAVE RUN", "DRY RUN ANSWER"]))
    if m["mttr_seconds"]["by_severity"]:
        print()
        print(table([[sev, s["count"], _secs(s["median"]), _secs(s["p90"])]
                     for sev, s in m["mttr_seconds"]["by_severity"].items()],
                    ["SEVERITY", "RESOLVED", "MTTR_MEDIAN", "MTTR_P90"]))
    return 0


def _describe(args: argparse.Namespace) -> int:
    from aof_airflow.incidents import metrics, records
    from aof_airflow.incidents.airflow_runs import source

    flow = _load_flow(args.name)
    try:
        dag = source(args.source).dag(args.name)
    except Exception as e:  # Airflow unreachable: the definition and the records still describe the flow
        dag, err = None, str(e)
    else:
        err = None
    since, until = _window(args.window)
    m = metrics.compute(records.query(dag_id=args.name, since=since, until=until), flow=args.name)
    last = records.query(dag_id=args.name, limit=1)
    info: dict[str, Any] = {
        "name": args.name,
        "dag_loaded": dag is not None,
        "paused": (dag or {}).get("is_paused"),
        "trigger": flow["trigger"] if flow else None,
        "nodes": flow["nodes"] if flow else None,
        "window": args.window,
        "runs": m["runs"],
        "success_rate": m["success_rate"],
        "auto_resolved_rate": m["auto_resolved_rate"],
        "escalation_rate": m["escalation_rate"],
        "mttr_median_seconds": m["mttr_seconds"]["all"]["median"],
        "last_incident": last[0].incident_id if last else None,
        "last_result": last[0].result if last else None,
    }
    if err:
        info["airflow_error"] = err
    if args.json:
        _print_json(info)
        return 0
    for k, v in info.items():
        if k == "nodes" and v:
            v = ", ".join(f"{n['id']}({n['type']})" for n in v)
        elif k.endswith("_rate"):
            v = "-" if v is None else f"{v:.4f}"
        print(f"{k}: {'-' if v is None else v}")
    return 0


def _load_flow(name: str, paths: Iterable[str] = ()) -> dict[str, Any] | None:
    """The flow's nodes (id, type, agent) from its YAML, or None when the flows folder does not have it."""
    try:
        from aof_airflow.config import flows_folder
        from aof_airflow.spec.loader import load_paths

        loaded = load_paths(list(paths) or [flows_folder()], check_graph=False)
    except Exception:
        return None
    flow = loaded.flows.get(name)
    if flow is None:
        return None
    return {
        "trigger": getattr(flow.spec.trigger, "type", None),
        "nodes": [{"id": n.id, "type": n.type, "agent": getattr(getattr(n, "config", None), "agent", None)}
                  for n in flow.spec.nodes],
    }


def _agent_nodes(agent: str, paths: Iterable[str]) -> list[tuple[str, str]]:
    from aof_airflow.config import flows_folder
    from aof_airflow.spec.loader import load_paths

    loaded = load_paths(list(paths) or [flows_folder()], check_graph=False)
    out = []
    for fname, flow in sorted(loaded.flows.items()):
        for n in flow.spec.nodes:
            if n.type == "Agent" and getattr(n.config, "agent", None) == agent:
                out.append((fname, n.id))
    return out


def _tail(text: str, n: int) -> str:
    if n <= 0:
        return text
    return "\n".join(text.splitlines()[-n:])


def _agent_logs(args: argparse.Namespace) -> int:
    from aof_airflow.incidents.airflow_runs import source

    nodes = _agent_nodes(args.name, args.flows)
    if not nodes:
        print(f"error: no flow node runs agent {args.name!r}", file=sys.stderr)
        return 2
    src = source(args.source)
    seen: dict[tuple[str, str, str, int], int] = {}  # (flow, run, node, try) -> lines printed
    first = True
    while True:
        for flow, node in nodes:
            for run in reversed(src.runs(flow, args.runs)):
                for t in src.task_instances(flow, run.run_id):
                    if t.task_id != node or t.try_number < 1:
                        continue
                    key = (flow, run.run_id, node, t.try_number)
                    lines = src.log(flow, run.run_id, node, t.try_number).splitlines()
                    done = seen.get(key)
                    if done is None:
                        new = lines[-args.tail:] if (args.tail and first) else lines
                        if not args.json:
                            print(f"==> {flow} / {run.run_id} / {node} [{t.state}, try {t.try_number}] <==")
                    else:
                        new = lines[done:]
                    seen[key] = len(lines)
                    if args.json and new:
                        print(json.dumps({"flow": flow, "run_id": run.run_id, "node": node, "state": t.state,
                                          "try_number": t.try_number, "lines": new}))
                    elif new:
                        print("\n".join(new))
        sys.stdout.flush()
        first = False
        if not args.follow:
            return 0
        try:
            time.sleep(args.interval)
        except KeyboardInterrupt:
            return 0
