"""The demo's fourth incident, which begins as a metric: the sandbox's session-cache leaks memory, Prometheus'
rule (kube-prometheus shape) fires, Alertmanager groups the two pods' alerts and posts to the relay, the
`alert-auto-response` flow (the tutorial's flow with an Alertmanager trigger) diagnoses and restarts; the
repeat deliveries meanwhile attach to the open run; the restart ends the leak and `resolved` reaches the run.

Runs only where Debian's prometheus and prometheus-alertmanager are (or can be installed as root); otherwise
the demo says why and shows the tutorial's three incidents alone.
"""

from __future__ import annotations

import json
import secrets
import shutil
import threading
import time
from pathlib import Path
from typing import Any, Callable

from aof_lab.local.stack import free_port
from aof_lab.monitoring.install import Binaries, ensure_monitoring
from aof_lab.monitoring.stack import MonitoringStack, Receiver, Timing
from aof_lab.sandbox.kube_metrics import KubeMetricsExporter, quantity

SCENARIO = "metrics-memory-leak"
FLOW = "alert-auto-response"
FLOW_FILE = Path("examples/flows/alert-response-flow.yaml")
NAMESPACE, CONTAINER = "cache", "session-cache"
START_MEMORY_MI, LIMIT_MI = 430, 512
ALERT = "KubeContainerMemoryNearLimit"
SIGNAL_PREFIX = f"{NAMESPACE}/deployment/session-cache#"


class AlertIncident:
    def __init__(self, binaries: Binaries, state: Path, repo: Path) -> None:
        self.binaries, self.state, self.repo = binaries, state, repo
        self.token = secrets.token_urlsafe(24)
        self.prometheus_port = free_port()
        self.stack: MonitoringStack | None = None
        self.exporter: KubeMetricsExporter | None = None
        self._stop = threading.Event()
        self.startup_seconds = 0.0

    @classmethod
    def prepare(cls, state: Path, dags: Path, out: Callable[[str], None], enabled: bool = True) -> AlertIncident | None:
        """Ready to run (a dags folder with the alert flow under `state`), or None having said why not."""
        if not enabled:
            return None
        found = ensure_monitoring()
        if isinstance(found, str):
            out(f"  alerts      SKIPPED: {found}")
            return None
        self = cls(found, state, dags.resolve().parent)
        shutil.copytree(dags, self.dags, ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copy(self.repo / FLOW_FILE, self.dags / "flows" / FLOW_FILE.name)
        out("  alerts      REAL Prometheus + Alertmanager (Debian packages), on the SANDBOX cluster's metrics")
        return self

    @property
    def dags(self) -> Path:
        return self.state / "dags"

    def env(self) -> dict[str, str]:
        """For Airflow and the relay: the receiver's token, and the Prometheus the rules engine may read."""
        return {"ALERTMANAGER_WEBHOOK_TOKEN": self.token,
                "AIRFLOW_CONN_PROMETHEUS_DEFAULT": json.dumps({"conn_type": "http", "host": "127.0.0.1",
                                                               "port": self.prometheus_port})}

    def start(self, system: Any) -> None:
        """Prometheus and Alertmanager on the sandbox's metrics, the leak not yet near the limit."""
        t0 = time.monotonic()
        sim = system.sandbox.kube.sim
        self._set_memory(sim, START_MEMORY_MI)
        self.exporter = KubeMetricsExporter(sim).start()
        self.stack = MonitoringStack(
            self.binaries, f"127.0.0.1:{self.exporter.port}", Receiver(f"{system.relay_url}/alertmanager", bearer=self.token),
            scenarios=[system.sandbox.kube.scenarios[SCENARIO]], prometheus_port=self.prometheus_port,
            timing=Timing(alert_for="0s", group_wait="2s", group_interval="5s", repeat_interval="10s")).start()
        self.startup_seconds = time.monotonic() - t0

    def stop(self) -> None:
        self._stop.set()
        if self.stack is not None:
            self.stack.stop()
        if self.exporter is not None:
            self.exporter.stop()

    @staticmethod
    def _pods(sim: Any) -> list[tuple[str, str]]:
        return [(ns, pod) for (ns, pod), usage in sim.metrics.items() if ns == NAMESPACE and CONTAINER in usage]

    def _set_memory(self, sim: Any, mi: float) -> None:
        with sim.store.lock:
            for ns, pod in self._pods(sim):
                sim.metrics[(ns, pod)][CONTAINER]["memory"] = f"{mi:.0f}Mi"

    def _grow(self, sim: Any) -> None:
        """The leak goes on: +4Mi a second on each pod that is still leaking (a restarted pod starts small)."""
        while not self._stop.wait(1.0):
            with sim.store.lock:
                for ns, pod in self._pods(sim):
                    usage = sim.metrics[(ns, pod)][CONTAINER]
                    now = quantity(usage["memory"]) or 0
                    if now >= 300 * 2**20 and now < LIMIT_MI * 2**20 * 0.99:
                        usage["memory"] = f"{now / 2**20 + 4:.0f}Mi"

    def run(self, system: Any, timeline: Any, out: Callable[[str], None], until: Callable[[], bool],
            timeout: float = 600) -> bool:
        """Drive the leak and print the timeline until its run has ended and its alert resolved."""
        from aof_airflow.db import ensure_tables
        from aof_airflow.incidents import signals
        from aof_lab.local.timeline import Timeline

        assert self.stack is not None
        sim = system.sandbox.kube.sim
        engine = ensure_tables(system.airflow.db_url)
        earlier = signals.recent_runs(engine=engine)
        if earlier:
            out("Meanwhile Prometheus saw the first three incidents too; its alerts for a target with an open run "
                "attached to it, and after an escalation they were held back (one remediation per target):")
            for r in earlier:
                out(f"  {r.target or 'no target':<36} {r.summary:<40} {r.dag_id}/{r.run_id} ({r.outcome})")
        seen = max((i for i, _ in signals.events_after(0, engine)), default=0)
        out(f"Fourth incident: it begins as a metric. Prometheus {self.stack.prometheus_url}, Alertmanager "
            f"{self.stack.alertmanager_url}; session-cache leaks memory ({START_MEMORY_MI}Mi of {LIMIT_MI}Mi, growing).")
        threading.Thread(target=self._grow, args=(sim,), daemon=True, name="aof-demo-leak").start()
        alerts = Timeline(system.airflow.client, FLOW, sandbox=system.sandbox, out=out)
        alerts.started, alerts._slack_seen, alerts._pd_seen = timeline.started, timeline._slack_seen, timeline._pd_seen
        runs: list[str] = []
        firing_said = resolved = False
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not until():
            if not firing_said and self._leak_firing():
                alerts._say("prometheus", "KubeContainerMemoryNearLimit firing: cache/session-cache over 90% of "
                                          "its memory limit")
                firing_said = True
            for seen, e in signals.events_after(seen, engine):
                if not e.signal.startswith(SIGNAL_PREFIX):
                    continue
                alerts._say("relay", f"{e.source} {e.signal}: {e.kind}{' run ' + e.run_id if e.run_id else ''}")
                if e.kind == "started" and e.run_id not in runs:
                    runs.append(e.run_id)
                resolved |= e.kind == "resolved"
            if runs and alerts.poll(runs) and resolved:
                out("Fourth incident handled: one run for the alert group, repeats attached, resolved recorded.")
                return True
            time.sleep(1.0)
        return False

    def _leak_firing(self) -> bool:
        assert self.stack is not None
        return any(a["labels"].get("namespace") == NAMESPACE and a["labels"].get("alertname") == ALERT
                   for a in self.stack.alerts("firing"))
