"""`aofctl flow status|logs|metrics|describe NAME` and `aofctl agent logs NAME [-f] [--tail N]`.

The tutorial's Step 8 mapped onto Airflow: a flow is the DAG of the same name, its runs are dag runs
(REST API or metadata DB, see incidents.airflow_runs), and what each run meant (auto-resolved,
escalated, ...) comes from our incident records. Every command prints a table, or JSON with --json.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone
from typing import Any, Iterable, Sequence

from aof_airflow.cli import Commands
from aof_airflow.config import flows_folder, settings
from aof_airflow.incidents import metrics, records
from aof_airflow.incidents.airflow_runs import LogUnavailable, Source, source
from aof_airflow.incidents.metrics import parse_window
from aof_airflow.spec.loader import load_paths


def register(cli: Commands) -> None:
    def common(p: argparse.ArgumentParser, source: bool = True) -> None:
        p.add_argument("name", help="flow name (metadata.name; the DAG id)")
        p.add_argument("--json", action="store_true", help="machine-readable output")
        if source:
            p.add_argument("--source", choices=("auto", "api", "db"), default="auto",
                           help="where runs and logs come from (auto: REST API when airflow_api_url is set)")

    p = cli.command("flow status", _status, help="Recent runs of a flow: state, duration, outcome")
    common(p)
    p.add_argument("--limit", type=int, default=10)
    p = cli.command("flow logs", _flow_logs,
                    help="Incident responses of a flow, then the log lines of the nodes of its recent runs")
    common(p)
    p.add_argument("--limit", type=int, default=20, help="incident responses listed (default 20)")
    p.add_argument("--run", help="only this run id")
    p.add_argument("--runs", type=int, default=3, help="node logs of the N most recent runs (default 3)")
    p.add_argument("--node", action="append", default=[], help="only this node's log (repeatable)")
    p.add_argument("--grep", metavar="TEXT", help="only log lines containing TEXT (case-insensitive)")
    p.add_argument("--tail", type=int, default=0, help="only the last N lines of each node")
    p.add_argument("--incidents", action="store_true", help="only the incident responses, no node logs")
    p = cli.command("flow metrics", _metrics, help="Runs, success/auto-resolved/escalation rates, approval waits, MTTR")
    common(p, source=False)
    p.add_argument("--window", default="7d", help="how far back: 24h, 7d, 30d ... (default 7d)")
    p.add_argument("--until", help="end of the window, ISO time (default: now)")
    p = cli.command("flow describe", _describe, help="A flow's definition, state and success_rate")
    common(p)
    p.add_argument("--window", default="30d", help="window of the rates shown (default 30d)")


# ------------------------------------------------------------------------------------------ helpers


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> str:
    cells = [[("-" if v is None else str(v)) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    line = lambda r: "  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip()
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
    return {r.run_id: r for r in records.query(dag_id=name, limit=limit)}


def _window(text: str, until: str | None = None) -> tuple[datetime, datetime]:
    now = datetime.fromisoformat(until.replace("Z", "+00:00")) if until else datetime.now(timezone.utc)
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    return now - parse_window(text), now


# ------------------------------------------------------------------------------------------ commands


def _status(args: argparse.Namespace) -> int:
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
    """The tutorial's "view all incident responses", and what `| grep slack` needs: every line says its run
    and node. With --run/--node/--grep only the log lines are printed."""
    filtered = bool(args.run or args.node or args.grep)
    recs = [] if filtered else records.query(dag_id=args.name, limit=args.limit)
    out: dict[str, Any] = {"flow": args.name}
    if not filtered:
        out["incidents"] = [r.to_json() for r in recs]
        if not args.json:
            print(_incident_table(recs) if recs else f"{args.name}: no incident records yet")
        out["signals"] = _signals(args.name, args.json)
    if args.incidents:
        if args.json:
            _print_json(out)
        return 0
    logs, problems = _node_logs(args)
    out["logs"] = logs
    if args.json:
        _print_json({**out, "problems": problems})
    else:
        if not filtered and recs:
            print()
        for entry in logs:
            if not args.grep:
                print(f"==> {entry['run_id']} / {entry['node']} [{entry['state']}, try {entry['try_number']}]")
            for line in entry["lines"]:
                print(f"{entry['run_id']} {entry['node']}: {line}")
    for p in problems:
        print(f"aofctl flow logs: {p}", file=sys.stderr)
    if problems and not logs:
        return 1
    if args.grep and not any(e["lines"] for e in logs):
        print(f"aofctl flow logs: no log line of {args.name} contains {args.grep!r}", file=sys.stderr)
        return 1
    return 0


def _signals(flow: str, as_json: bool) -> list[dict[str, Any]]:
    """Alerts attached to a run or held back (one remediation per target), printed under the incidents."""
    from dataclasses import asdict

    from aof_airflow.incidents import signals

    runs = signals.recent_runs(flow)
    if runs and not as_json:
        print("\nSignals (one remediation per target):")
        print(table([[datetime.fromtimestamp(r.last_at, timezone.utc).isoformat()[:19], r.target or "no target",
                      r.summary, r.outcome, r.run_id] for r in runs], ["LAST", "TARGET", "SIGNALS", "OUTCOME", "RUN"]))
    return [asdict(r) for r in runs]


def _incident_table(recs: Sequence[records.IncidentRecord]) -> str:
    return table([[(r.ended_at or r.recorded_at).isoformat()[:19] if (r.ended_at or r.recorded_at) else None,
                   r.incident_id, (r.title or "")[:40], r.severity, r.result,
                   (r.approval or {}).get("outcome"), (r.approval or {}).get("by"), r.failed_node,
                   _secs(r.duration_seconds), r.usage.get("input_tokens", 0) + r.usage.get("output_tokens", 0),
                   r.run_id] for r in recs],
                 ["ENDED", "INCIDENT", "TITLE", "SEVERITY", "RESULT", "APPROVAL", "BY", "FAILED_NODE",
                  "DURATION", "TOKENS", "RUN"])


def _node_logs(args: argparse.Namespace) -> tuple[list[dict[str, Any]], list[str]]:
    """Log lines of the selected runs' nodes (oldest run first, so the newest ends next to the prompt), and
    what could not be read and why."""
    problems: list[str] = []
    try:
        src = source(args.source)
        if args.run:
            run_ids = [args.run]
        else:
            runs = src.runs(args.name, args.runs)
            if not runs:
                return [], [no_runs(src, args.name)]
            run_ids = [r.run_id for r in reversed(runs)]
        logs = []
        needle = (args.grep or "").lower()
        for run_id in run_ids:
            tis = [t for t in src.task_instances(args.name, run_id) if t.try_number >= 1
                   and (not args.node or t.task_id in args.node)]
            if not tis:
                problems.append(f"run {run_id}: no node {'named ' + ', '.join(args.node) + ' ' if args.node else ''}"
                                "has started")
            for t in tis:
                try:
                    lines = _tail(src.log(args.name, run_id, t.task_id, t.try_number), args.tail).splitlines()
                except LogUnavailable as e:
                    problems.append(f"{run_id} {t.task_id}: no log: {e}")
                    continue
                if needle:
                    lines = [ln for ln in lines if needle in ln.lower()]
                if lines or not needle:
                    logs.append({"run_id": run_id, "node": t.task_id, "state": t.state,
                                 "try_number": t.try_number, "lines": lines or ["(the log is empty)"]})
        return logs, problems
    except Exception as e:  # Airflow unreachable, refused, or its tables missing: say which and how to fix it
        return [], [f"cannot read the runs of {args.name}: {reason(e)}"]


def no_runs(src: Source, name: str) -> str:
    if src.dag(name) is None:
        return f"Airflow has no DAG {name!r} ({where()}); is this the right Airflow?"
    return f"{name} has no runs yet"


def where() -> str:
    url = settings().airflow_api_url
    return f"REST API {url}" if url else "metadata DB; set airflow_api_url or AIRFLOW_HOME"


# Where a second terminal finds the deployment: named by what the user started, not by a folder of the demo's.
ENVIRONMENT_HINT = "a local stack (`make demo`) prints the environment file to source in this terminal first"


def reason(e: Exception) -> str:
    return f"{type(e).__name__}: {str(e)[:300]} ({where()}); {ENVIRONMENT_HINT}."


def _metrics(args: argparse.Namespace) -> int:
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
    flow, why = _load_flow(args.name)
    if flow is None:
        print(f"aofctl flow describe: cannot show the trigger and nodes of {args.name}: {why}", file=sys.stderr)
        return 1
    try:
        dag = source(args.source).dag(args.name)
    except Exception as e:  # Airflow unreachable: the definition and the records still describe the flow
        dag, err = None, reason(e)
    else:
        err = None if dag is not None else f"Airflow has no DAG {args.name!r} ({where()})"
    since, until = _window(args.window)
    m = metrics.compute(records.query(dag_id=args.name, since=since, until=until), flow=args.name)
    last = records.query(dag_id=args.name, limit=1)
    info: dict[str, Any] = {
        "name": args.name,
        "dag_loaded": dag is not None,
        "paused": (dag or {}).get("is_paused"),
        "trigger": flow["trigger"],
        "nodes": flow["nodes"],
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
    else:
        for k, v in info.items():
            if k == "nodes" and v:
                v = ", ".join(f"{n['id']}({n['type']})" for n in v)
            elif k.endswith("_rate"):
                v = "-" if v is None else f"{v:.4f}"
            print(f"{k}: {'-' if v is None else v}")
    if err:
        print(f"aofctl flow describe: {err}", file=sys.stderr)
        return 1
    return 0


def _load_flow(name: str, paths: Iterable[str] = ()) -> tuple[dict[str, Any] | None, str | None]:
    """The flow's trigger and nodes (id, type, agent) from its YAML, or None and why not."""
    where = list(paths) or [str(flows_folder())]
    try:
        loaded = load_paths(where, check_graph=False)
    except Exception as e:
        return None, f"the flows in {', '.join(where)} do not load: {e}"
    flow = loaded.flows.get(name)
    if flow is None:
        return None, not_found("flow", name, where, sorted(loaded.flows))
    return {
        "trigger": getattr(flow.spec.trigger, "type", None),
        "nodes": [{"id": n.id, "type": n.type, "agent": getattr(getattr(n, "config", None), "agent", None)}
                  for n in flow.spec.nodes],
    }, None


def not_found(kind: str, name: str, where: list[str], found: list[str]) -> str:
    return (f"no {kind} {name!r} in {', '.join(where)} (found: {', '.join(found) or 'none'}). Set [aof] "
            f"flows_folder / AOF_FLOWS_FOLDER or AIRFLOW_HOME to the deployment's; {ENVIRONMENT_HINT}")


def _tail(text: str, n: int) -> str:
    if n <= 0:
        return text
    return "\n".join(text.splitlines()[-n:])
