"""Writes the `metrics-*` sandbox scenarios: pairs with the same `kubectl` picture and different metric histories.

    python -m aof_lab.monitoring.scenario_pairs        # (re)writes lab/aof_lab/sandbox/scenarios/metrics-*.yaml

From one snapshot an engine cannot tell these apart; the history can:

- memory at 95% of its limit: a **leak** (the working set grows with uptime, each restart starts low again: a
  restart buys hours) against a **limit too low** (flat near the limit from the first minute: a restart
  changes nothing; raise the limit);
- CPU at its limit: a **load surge** (traffic rose, CPU followed: more replicas help) against a **hot loop**
  (traffic steady, CPU jumped to the limit and stayed: more replicas only add more spinning pods).

WHY generated: each pair must share its objects exactly; both members copy them from one `rules-*` scenario
(written by aof_lab.rules_eval.scenario_gen), only their pods' start moved six hours back so the history and
the uptime agree. The expectations are written by hand below.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from aof_lab.sandbox.scenario import SCENARIO_DIR, Scenario

HOURS = 6
STEP = 60
N = HOURS * 3600 // STEP  # samples after the first


class _NoAliases(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def _base(name: str) -> dict[str, Any]:
    return yaml.safe_load((SCENARIO_DIR / f"{name}.yaml").read_text())


def _started_hours_ago(d: dict[str, Any]) -> None:
    """Every running container of the base started six hours before the capture."""
    for o in d["objects"]:
        for cs in (o.get("status") or {}).get("containerStatuses") or []:
            running = (cs.get("state") or {}).get("running")
            if running:
                running["startedAt"] = "2026-11-27T04:06:00Z"


def _pods(d: dict[str, Any]) -> list[str]:
    return [o["metadata"]["name"] for o in d["objects"] if o["kind"] == "Pod"]


def _series(metric: str, labels: dict[str, str], values: str) -> dict[str, Any]:
    return {"metric": metric, "labels": labels, "values": values}


def memory_pair() -> list[dict[str, Any]]:
    base = _base("rules-memory-near-limit")
    _started_hours_ago(base)
    ns, c = "cache", "session-cache"
    out = []
    for name, desc, values, restarts, expect, on_action in (
        ("metrics-memory-leak",
         "session-cache at 94-97% of its 512Mi limit; its working set has grown steadily since each start "
         "(150Mi to ~500Mi over six hours, the last restart a day ago started low again): a leak, a restart buys hours.",
         f"150Mi+{(498 - 150) / N:.4f}Mix{N}", f"0x{N}",
         {"cause": [["leak", "grows with uptime", "growing"]], "severity": "medium", "actions": ["rollout-restart"]},
         {"rollout-restart": "heal"}),
        ("metrics-memory-limit-too-low",
         "session-cache at 94-97% of its 512Mi limit, and it has been there since the first minutes of each "
         "start six hours ago: the limit is too low for its working set; a restart changes nothing, raise the limit.",
         f"300Mi 470Mi 485Mi+0.02Mix{N - 2}", f"0x{N}",
         {"cause": [["limit", "too low", "flat"]], "severity": "medium", "actions": ["none"]},
         {"rollout-restart": "still-failing"}),
    ):
        d = copy.deepcopy(base)
        d.update(name=name, description=desc, on_action=on_action)
        d["incident"] = {**d["incident"], "id": f"MET-{name.split('-', 1)[1][:20]}".upper()}
        d["expect"] = expect
        series = []
        for pod in _pods(d):
            lab = {"namespace": ns, "pod": pod, "container": c}
            series += [_series("container_memory_working_set_bytes", lab, values),
                       _series("kube_pod_container_status_restarts_total", lab, restarts),
                       _series("kube_pod_container_resource_limits", {**lab, "resource": "memory", "unit": "byte"},
                               f"512Mix{N}")]
        d["history"] = {"step": STEP, "series": series}
        out.append(d)
    return out


def cpu_pair() -> list[dict[str, Any]]:
    base = _base("rules-memory-near-limit")
    _started_hours_ago(base)
    ns, c = "cache", "session-cache"
    for o in base["objects"]:  # the same Deployment, now with a CPU limit it runs at
        spec = o.get("spec") or {}
        for tmpl in (spec, (spec.get("template") or {}).get("spec") or {}):
            for cont in tmpl.get("containers") or []:
                cont["resources"] = {"requests": {"cpu": "250m", "memory": "256Mi"},
                                     "limits": {"cpu": "500m", "memory": "512Mi"}}
    base["metrics"] = {f"{ns}/{p}": {c: {"cpu": "496m", "memory": "210Mi"}} for p in _pods(base)}
    out = []
    half = N // 2
    for name, desc, cpu, load, expect, on_action in (
        ("metrics-cpu-load-surge",
         "session-cache pods at their 500m CPU limit; traffic has risen fourfold over the last three hours and "
         "CPU rose with it: more replicas share the load.",
         f"0.12x{half} 0.12+{(0.496 - 0.12) / (N - half - 1):.6f}x{N - half - 1}",
         f"2000000x{half} 2000000+{6000000 / (N - half - 1):.2f}x{N - half - 1}",
         {"cause": [["load", "traffic", "requests"]], "severity": "medium", "actions": ["scale"]},
         {"scale": "heal", "rollout-restart": "still-failing"}),
        ("metrics-cpu-hot-loop",
         "session-cache pods at their 500m CPU limit; traffic is steady, and CPU jumped from 0.12 to the limit "
         "three hours ago and stayed: a hot loop, more replicas would spin too.",
         f"0.12x{half} 0.496x{N - half - 1}", f"2000000x{N}",
         {"cause": [["loop", "spin", "not load", "steady"]], "severity": "medium", "actions": ["none"]},
         {"scale": "still-failing", "rollout-restart": "still-failing"}),
    ):
        d = copy.deepcopy(base)
        d.update(name=name, description=desc, on_action=on_action)
        d["incident"] = {**d["incident"], "id": f"MET-{name.split('-', 1)[1][:20]}".upper(),
                         "title": "High CPU on session-cache"}
        d["expect"] = expect
        series = []
        for pod in _pods(d):
            lab = {"namespace": ns, "pod": pod, "container": c}
            # counters from rates: cumulative sums of the per-step rate, as cAdvisor reports them
            # the live counter is usage x uptime (kube_metrics.py): the pods started six hours ago at 496m
            series += [_series("container_cpu_usage_seconds_total", lab, _integrate(cpu, 0.496 * HOURS * 3600)),
                       _series("container_network_receive_bytes_total", {"namespace": ns, "pod": pod}, _integrate(load)),
                       _series("kube_pod_container_resource_limits", {**lab, "resource": "cpu", "unit": "core"},
                               f"0.5x{N}")]
        d["history"] = {"step": STEP, "series": series}
        out.append(d)
    return out


def _integrate(rates: str, end_value: float | None = None) -> str:
    """A counter's samples (space-separated values) from per-second rates in series notation; with `end_value`,
    shifted to end there (the value the live scrape continues from, so the join is no jump)."""
    from aof_lab.sandbox.scenario_history import expand

    total, vals = 0.0, []
    for r in expand(rates):
        total += (r or 0.0) * STEP
        vals.append(total)
    shift = (end_value - vals[-1]) if end_value is not None else 0.0
    return " ".join(f"{v + shift:.10g}" for v in vals)


def write(out: Path = SCENARIO_DIR) -> list[Path]:
    written = []
    for d in memory_pair() + cpu_pair():
        Scenario.model_validate(d)
        p = out / f"{d['name']}.yaml"
        p.write_text("# Generated by `python -m aof_lab.monitoring.scenario_pairs` (lab/aof_lab/monitoring/scenario_pairs.py).\n"
                     + yaml.dump(d, Dumper=_NoAliases, sort_keys=False, width=120))
        written.append(p)
    return written


if __name__ == "__main__":
    for p in write():
        print(p)
