"""Alertmanager benchmark: what the real Alertmanager adds between an alert and the run it starts, and what the
two monitoring processes add to the demo's start-up.

1. Alert -> run start. The same signal reaches the relay's Alertmanager path two ways: posted straight to the
   relay as a version-4 notification (what Alertmanager itself would send), or posted as an alert to the real
   Alertmanager (`POST /api/v2/alerts`, `group_wait: 0s`), which groups it and delivers the notification. Each
   sample is a new alert group on its own target; the clock stops when the Airflow REST stand-in receives the
   dagRuns POST (tests/unit/relay/standin.py: Airflow's own speed is not what is measured). Rounds alternate the
   two paths; the ratio is the median through Alertmanager over the median direct.
2. Start-up. Prometheus + Alertmanager (with the scenario's history backfilled by promtool) to ready, and --
   with `--demo` -- the demo's whole start (Airflow, relay, sandbox) with and without them.

    .venv/bin/python benchmarks/bench_alertmanager.py [--n 20] [--demo]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.harness.monitoring import ServedApp
from tests.unit.relay.standin import AirflowStandIn

TOKEN = "bench-am-" + os.urandom(8).hex()
FLOW = f"""
apiVersion: aof.dev/v1
kind: AgentFlow
metadata: {{name: am-bench}}
spec:
  trigger:
    type: Alertmanager
    config: {{path: /alertmanager, auth: {{type: Bearer, token: "{TOKEN}"}}}}
  nodes: [{{id: a, type: Transform, config: {{script: "true"}}}}]
"""


def labels(i: int, tag: str) -> dict[str, str]:
    return {"alertname": f"Bench{tag}{i}", "namespace": "bench", "deployment": f"app-{tag.lower()}-{i}",
            "severity": "warning"}


def now_rfc3339() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


def relay_received(deployment: str) -> float:
    """When the relay decided on the signal (wall clock, from the signal store's record)."""
    from sqlalchemy import select

    from aof_airflow.db import ensure_tables
    from aof_airflow.incidents.signals import events

    with ensure_tables().connect() as c:
        return c.execute(select(events.c.at).where(events.c.target == f"bench/deployment/{deployment}")).scalar()


def wait_run(standin: AirflowStandIn, deployment: str, timeout: float = 30) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for run in standin.runs_snapshot().values():
            if run["conf"]["event"]["incident"]["custom_details"].get("resource") == f"deployment/{deployment}":
                return time.monotonic()
        time.sleep(0.002)
    raise TimeoutError(f"no run for {deployment}")


def direct(relay_url: str, standin: AirflowStandIn, i: int) -> tuple[float, float]:
    lab = labels(i, "D")
    body = {"version": "4", "groupKey": f'{{}}:{{alertname="{lab["alertname"]}"}}', "status": "firing",
            "receiver": "aof", "groupLabels": {}, "commonLabels": lab, "commonAnnotations": {}, "externalURL": "",
            "truncatedAlerts": 0, "alerts": [{"status": "firing", "labels": lab, "annotations": {},
                                              "startsAt": now_rfc3339(), "endsAt": "0001-01-01T00:00:00Z",
                                              "generatorURL": "", "fingerprint": f"{i:016x}"}]}
    t0, w0 = time.monotonic(), time.time()
    r = httpx.post(f"{relay_url}/alertmanager", json=body, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert r.status_code == 200, r.text
    return wait_run(standin, lab["deployment"]) - t0, relay_received(lab["deployment"]) - w0


def through_alertmanager(am_url: str, standin: AirflowStandIn, i: int) -> tuple[float, float]:
    lab = labels(i, "A")
    t0, w0 = time.monotonic(), time.time()
    r = httpx.post(f"{am_url}/api/v2/alerts", json=[{"labels": lab, "annotations": {}, "startsAt": now_rfc3339()}],
                   timeout=10)
    assert r.status_code == 200, r.text
    return wait_run(standin, lab["deployment"]) - t0, relay_received(lab["deployment"]) - w0


def alert_to_run(n: int) -> dict:
    from aof_airflow.relay.app import create_app
    from aof_airflow.relay.settings import RelaySettings
    from aof_airflow.spec.loader import load_paths
    from aof_lab.monitoring.install import ensure_monitoring
    from aof_lab.monitoring.stack import MonitoringStack, Receiver, Timing

    binaries = ensure_monitoring()
    if isinstance(binaries, str):
        raise SystemExit(f"skipped: {binaries}")
    tmp = Path(tempfile.mkdtemp(prefix="aof-bench-am-"))
    os.environ["AOF_DATABASE_URL"] = f"sqlite:///{tmp / 'aof.db'}"
    (tmp / "flows").mkdir()
    (tmp / "flows" / "am.yaml").write_text(FLOW)
    flows = load_paths([tmp / "flows"], check_graph=False).flows
    try:
        with AirflowStandIn() as standin:
            settings = RelaySettings(airflow_api_url=standin.url, airflow_username="admin", airflow_password="admin",
                                     database_url=os.environ["AOF_DATABASE_URL"], sqlite_synchronous="NORMAL")
            with ServedApp(create_app(flows=flows, settings=settings)) as relay, \
                    MonitoringStack(binaries, "127.0.0.1:9", Receiver(f"{relay.url}/alertmanager", bearer=TOKEN),
                                    timing=Timing(group_wait="0s", group_interval="1s", repeat_interval="1h",
                                                  group_by=("alertname",))) as stack:
                direct(relay.url, standin, -1)  # warm both paths
                through_alertmanager(stack.alertmanager_url, standin, -1)
                d, a = [], []
                for i in range(n):
                    d.append(direct(relay.url, standin, i))
                    a.append(through_alertmanager(stack.alertmanager_url, standin, i))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    def ms(xs: list[float]) -> dict:
        return {"p50": round(statistics.median(xs) * 1000, 1), "max": round(max(xs) * 1000, 1)}

    md, ma = statistics.median(x for x, _ in d), statistics.median(x for x, _ in a)
    return {"n": n, "run_start_direct_ms": ms([x for x, _ in d]), "run_start_via_alertmanager_ms": ms([x for x, _ in a]),
            "ratio_p50": round(ma / md, 2),
            "relay_decided_direct_ms": ms([y for _, y in d]), "relay_decided_via_alertmanager_ms": ms([y for _, y in a])}


def monitoring_startup() -> dict:
    from aof_lab.monitoring.install import ensure_monitoring
    from aof_lab.monitoring.stack import MonitoringStack, Receiver
    from aof_lab.sandbox.kube import KubeAPI
    from aof_lab.sandbox.kube_metrics import KubeMetricsExporter

    binaries = ensure_monitoring()
    times = []
    for _ in range(3):
        with KubeAPI(["metrics-memory-leak"]) as kube, KubeMetricsExporter(kube.sim) as exporter:
            t0 = time.monotonic()
            with MonitoringStack(binaries, f"127.0.0.1:{exporter.port}", Receiver("http://127.0.0.1:9"),
                                 scenarios=kube.scenarios.values()):
                times.append(time.monotonic() - t0)
    return {"prometheus_alertmanager_ready_s": {"median": round(statistics.median(times), 2),
                                                 "all": [round(t, 2) for t in times]}}


def demo_startup() -> dict:
    """The demo's start (DemoSystem.start: Airflow's processes, the relay, the sandbox) without and with alerts."""
    from aof_lab.local.alert_demo import SCENARIO, AlertIncident
    from aof_lab.local.demo import CREDENTIALS, DemoSystem

    environ = {k: v for k, v in os.environ.items() if k not in {n for names in CREDENTIALS.values() for n in names}}
    out = {}
    for with_alerts in (False, True):
        state = Path(tempfile.mkdtemp(prefix="aof-bench-demo-"))
        alerts = AlertIncident.prepare(state, ROOT / "dags", lambda _: None) if with_alerts else None
        demo = DemoSystem(state, alerts.dags if alerts else ROOT / "dags", port=0, relay_port=0, environ=environ,
                          extra_scenarios=(SCENARIO,) if alerts else (), extra_env=alerts.env() if alerts else {})
        t0 = time.monotonic()
        try:
            demo.start()
            if alerts:
                alerts.start(demo)
            out["with_monitoring_s" if with_alerts else "without_s"] = round(time.monotonic() - t0, 1)
        finally:
            if alerts:
                alerts.stop()
            demo.stop()
            shutil.rmtree(state, ignore_errors=True)
    out["added_s"] = round(out["with_monitoring_s"] - out["without_s"], 1)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=20, help="samples per path")
    p.add_argument("--demo", action="store_true", help="also time the demo's whole start-up without and with them")
    args = p.parse_args()
    result = {"alert_to_run": alert_to_run(args.n), "startup": monitoring_startup()}
    if args.demo:
        result["demo_startup"] = demo_startup()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
