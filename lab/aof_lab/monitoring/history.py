"""Scenario histories into Prometheus' TSDB: OpenMetrics text, then `promtool tsdb create-blocks-from openmetrics`
into the data directory before Prometheus starts (it loads the blocks at start-up)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Iterable

from aof_lab.sandbox.kube_metrics import FAMILIES, JOBS, sample_line
from aof_lab.sandbox.scenario import Scenario


def openmetrics(scenarios: Iterable[Scenario], end: float, target_labels: dict[str, str] | None = None) -> str:
    """Every history series of these scenarios, grouped by family as OpenMetrics requires, ending `# EOF`.

    `target_labels` (the scrape's `instance`) make each history series the very series the live scrape continues:
    otherwise the history's last sample would stay the current value for Prometheus' five-minute lookback."""
    families: dict[str, list[str]] = {}
    for sc in scenarios:
        if sc.history is None:
            continue
        for series, points in sc.history.samples(end):
            labels = {**series.labels, "job": JOBS.get(series.metric, "history"), **(target_labels or {})}
            families.setdefault(series.metric, []).extend(sample_line(series.metric, labels, v, ts) for ts, v in points)
    out: list[str] = []
    for name, lines in families.items():
        kind = FAMILIES.get(name, ("gauge", ""))[0]
        # OpenMetrics names a counter family without `_total`; its samples keep it
        family = name[:-len("_total")] if kind == "counter" and name.endswith("_total") else name
        out += [f"# TYPE {family} {kind}", *lines]
    return "\n".join(out + ["# EOF"]) + "\n"


def backfill(promtool: str, scenarios: Iterable[Scenario], data_dir: Path, work_dir: Path, *,
             target_labels: dict[str, str] | None = None, end: float | None = None) -> int:
    """Write the histories as TSDB blocks into `data_dir`; returns how many samples were written."""
    text = openmetrics(scenarios, time.time() if end is None else end, target_labels)
    samples = sum(1 for ln in text.splitlines() if ln and not ln.startswith("#"))
    if not samples:
        return 0
    src = work_dir / "history.om"
    src.write_text(text)
    r = subprocess.run([promtool, "tsdb", "create-blocks-from", "openmetrics", str(src), str(data_dir)],
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise RuntimeError(f"promtool could not backfill the scenario histories:\n{r.stdout[-2000:]}{r.stderr[-2000:]}")
    return samples
