"""Metrics of a flow over a window, computed from incident records (not from Airflow's run table).

Why from records: only they know what a run *meant* (auto-resolved, escalated, declined at approval).
Definitions (kept here, shown by `aofctl flow metrics --help`):
  runs                  records in the window
  success_rate          runs that completed (run state success: no failed node, no timeout) / runs
  auto_resolved_rate    runs whose remediation succeeded (result auto_resolved) / runs
  escalation_rate       runs handed to on-call (escalated after a failed fix, a failed node, a timeout) / runs
  approval wait         seconds between asking in Slack and a human's decision (human approvals only)
  MTTR                  run start -> end of auto-resolved runs, per severity; median and p90 (nearest rank)
  shadow                changes shadow mode recorded instead of applying ("would have run"): how many, in how
                        many runs, and the latest ones with the server's dry-run answer
  changes_applied       mutating commands that really ran
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable

from aof_airflow.incidents.records import IncidentRecord


def p90(values: list[float]) -> float | None:
    """Nearest-rank 90th percentile: an observed value, easy to check by hand."""
    if not values:
        return None
    s = sorted(values)
    return s[max(0, math.ceil(0.9 * len(s)) - 1)]


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _rate(n: int, d: int) -> float | None:
    return round(n / d, 4) if d else None


def _stats(values: list[float]) -> dict[str, Any]:
    return {"count": len(values), "median": _r(_median(values)), "p90": _r(p90(values)),
            "max": _r(max(values) if values else None)}


def _r(v: float | None) -> float | None:
    return round(v, 3) if v is not None else None


def compute(records: Iterable[IncidentRecord], *, flow: str | None = None, since: datetime | None = None,
            until: datetime | None = None) -> dict[str, Any]:
    recs = list(records)
    n = len(recs)
    results = Counter(r.result for r in recs)
    completed = sum(1 for r in recs if r.run_state == "success")
    escalated = sum(1 for r in recs if r.escalated)
    waits = [r.approval["wait_seconds"] for r in recs
             if r.approval and r.approval.get("outcome") != "auto" and r.approval.get("wait_seconds") is not None]
    outcomes = Counter(r.approval["outcome"] for r in recs if r.approval)
    mttr_by_sev: dict[str, list[float]] = defaultdict(list)
    for r in recs:
        if r.result == "auto_resolved" and r.duration_seconds is not None:
            mttr_by_sev[r.severity or "unknown"].append(r.duration_seconds)
    all_ttr = [v for vs in mttr_by_sev.values() for v in vs]
    return {
        "flow": flow,
        "window": {"since": since.isoformat() if since else None, "until": until.isoformat() if until else None},
        "runs": n,
        "results": dict(sorted(results.items())),
        "success_rate": _rate(completed, n),
        "auto_resolved_rate": _rate(results.get("auto_resolved", 0), n),
        "escalation_rate": _rate(escalated, n),
        "approvals": {"outcomes": dict(sorted(outcomes.items())), "wait_seconds": _stats(waits)},
        "mttr_seconds": {"all": _stats(all_ttr),
                         "by_severity": {k: _stats(v) for k, v in sorted(mttr_by_sev.items())}},
        "tokens": {"input": sum(int(r.usage.get("input_tokens", 0)) for r in recs),
                   "output": sum(int(r.usage.get("output_tokens", 0)) for r in recs)},
        "changes_applied": sum(1 for r in recs for a in r.actions if not a.get("shadow") and a.get("ok")),
        "shadow": shadow_summary(recs),
    }


def shadow_summary(recs: list[IncidentRecord], latest: int = 20) -> dict[str, Any]:
    """What shadow mode would have done: counts and the latest "would have run" records, newest first."""
    rows = [{"incident_id": r.incident_id, "run_id": r.run_id, "dag_id": r.dag_id, "node": a.get("node"),
             "command": a.get("command"), "dry_run": (a.get("dry_run") or "")[-600:],
             "when": (r.ended_at or r.recorded_at).isoformat() if (r.ended_at or r.recorded_at) else None}
            for r in recs for a in r.shadow_actions]
    return {"would_have_run": len(rows), "runs": len({(x["dag_id"], x["run_id"]) for x in rows}), "latest": rows[:latest]}


def _when(r: IncidentRecord) -> datetime | None:
    w = r.ended_at or r.recorded_at or r.started_at
    if w is not None and w.tzinfo is None:
        w = w.replace(tzinfo=timezone.utc)
    return w


def daily_series(records: Iterable[IncidentRecord], *, days: int = 14, now: datetime | None = None) -> list[dict[str, Any]]:
    """One point per UTC day (oldest first): runs, auto-resolved rate, median MTTR -- for the UI charts."""
    now = now or datetime.now(timezone.utc)
    start = (now - timedelta(days=days - 1)).date()
    buckets: dict[Any, list[IncidentRecord]] = {start + timedelta(days=i): [] for i in range(days)}
    for r in records:
        w = _when(r)
        if w is not None and w.date() in buckets:
            buckets[w.date()].append(r)
    out = []
    for day, rs in buckets.items():
        ttr = [r.duration_seconds for r in rs if r.result == "auto_resolved" and r.duration_seconds is not None]
        out.append({
            "day": day.isoformat(),
            "runs": len(rs),
            "auto_resolved_rate": _rate(sum(1 for r in rs if r.result == "auto_resolved"), len(rs)),
            "mttr_median_seconds": _r(_median(ttr)),
        })
    return out


def parse_window(text: str) -> timedelta:
    """'24h', '7d', '30m', '2w' -> timedelta (the CLI's --window)."""
    units = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
    text = text.strip().lower()
    if not text or text[-1] not in units:
        raise ValueError(f"window {text!r}: use a number and one of m, h, d, w (e.g. 24h, 7d)")
    return timedelta(**{units[text[-1]]: float(text[:-1])})
