"""`MonitoringStack`: Debian's Prometheus and Alertmanager as real processes on loopback ports, in a temp dir.

Prometheus scrapes the sandbox's metrics exporter, loads the kube-prometheus-shaped rules (aof_lab.monitoring.rules)
and the scenarios' histories (backfilled before it starts), and sends alerts to Alertmanager, which groups them
and posts webhook payloads (version 4) to a receiver -- the relay's Alertmanager path -- with the `http_config`
auth a real deployment would set (Bearer or basic).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Self

import httpx
import yaml

from aof_lab.local.processes import ManagedProcesses
from aof_lab.local.stack import free_port
from aof_lab.monitoring import history, rules
from aof_lab.monitoring.install import Binaries
from aof_lab.sandbox.scenario import Scenario


@dataclass(frozen=True)
class Receiver:
    """Where Alertmanager posts, and how it authenticates (`bearer`, or `basic` = (user, password))."""

    url: str
    bearer: str | None = None
    basic: tuple[str, str] | None = field(default=None, repr=False)

    def webhook_config(self) -> dict:
        cfg: dict = {"url": self.url, "send_resolved": True, "max_alerts": 0}
        if self.bearer:
            cfg["http_config"] = {"authorization": {"type": "Bearer", "credentials": self.bearer}}
        elif self.basic:
            cfg["http_config"] = {"basic_auth": {"username": self.basic[0], "password": self.basic[1]}}
        return cfg


@dataclass(frozen=True)
class Timing:
    """How fast the stack reacts. The defaults suit tests; a deployment uses the mixin's minutes."""

    scrape_interval: str = "1s"
    evaluation_interval: str = "1s"
    alert_for: str = "0s"
    resend_delay: str = "1s"  # Prometheus re-sends firing alerts to Alertmanager this often
    group_wait: str = "0s"
    group_interval: str = "2s"
    repeat_interval: str = "1h"
    group_by: tuple[str, ...] = ("alertname", "namespace", "workload")


class MonitoringStack:
    def __init__(self, binaries: Binaries, scrape_target: str, receiver: Receiver, *,
                 scenarios: Iterable[Scenario] = (), timing: Timing = Timing(), memory_ratio: float = 0.9,
                 prometheus_port: int = 0) -> None:
        self.bin, self.scrape_target, self.receiver, self.timing = binaries, scrape_target, receiver, timing
        self.scenarios = list(scenarios)
        self.memory_ratio = memory_ratio
        self.dir = Path(tempfile.mkdtemp(prefix="aof-monitoring-"))
        self.procs = ManagedProcesses(self.dir / "logs", os.environ)
        self.prometheus_port, self.alertmanager_port = prometheus_port, 0  # a port chosen ahead: others know it first
        self.backfilled = 0

    @property
    def prometheus_url(self) -> str:
        return f"http://127.0.0.1:{self.prometheus_port}"

    @property
    def alertmanager_url(self) -> str:
        return f"http://127.0.0.1:{self.alertmanager_port}"

    def _write_configs(self) -> None:
        t = self.timing
        (self.dir / "rules.yml").write_text(rules.rules_yaml(t.alert_for, self.memory_ratio))
        (self.dir / "prometheus.yml").write_text(yaml.safe_dump({
            "global": {"scrape_interval": t.scrape_interval, "evaluation_interval": t.evaluation_interval},
            "rule_files": [str(self.dir / "rules.yml")],
            "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{self.alertmanager_port}"]}]}]},
            "scrape_configs": [{"job_name": "kube-sandbox", "honor_labels": True,
                                "static_configs": [{"targets": [self.scrape_target]}]}],
        }, sort_keys=False))
        (self.dir / "alertmanager.yml").write_text(yaml.safe_dump({
            "route": {"receiver": "aof-relay", "group_by": list(t.group_by), "group_wait": t.group_wait,
                      "group_interval": t.group_interval, "repeat_interval": t.repeat_interval},
            "receivers": [{"name": "aof-relay", "webhook_configs": [self.receiver.webhook_config()]}],
        }, sort_keys=False))
        (self.dir / "alertmanager.yml").chmod(0o600)  # it holds the receiver's credentials

    def start(self, timeout: float = 60.0) -> Self:
        self.alertmanager_port, self.prometheus_port = free_port(), self.prometheus_port or free_port()
        self._write_configs()
        data = self.dir / "prometheus-data"
        data.mkdir()
        self.backfilled = history.backfill(self.bin.promtool, self.scenarios, data, self.dir,
                                           target_labels={"instance": self.scrape_target}, end=time.time() - 1)
        self.procs.start("alertmanager", [
            self.bin.alertmanager, f"--config.file={self.dir / 'alertmanager.yml'}",
            f"--storage.path={self.dir / 'alertmanager-data'}", f"--web.listen-address=127.0.0.1:{self.alertmanager_port}",
            "--cluster.listen-address=", "--log.level=info"])
        self.procs.start("prometheus", [
            self.bin.prometheus, f"--config.file={self.dir / 'prometheus.yml'}", f"--storage.tsdb.path={data}",
            f"--web.listen-address=127.0.0.1:{self.prometheus_port}", f"--rules.alert.resend-delay={self.timing.resend_delay}",
            "--storage.tsdb.retention.time=15d", "--log.level=info"])
        try:
            self.procs.wait_http("alertmanager", f"{self.alertmanager_url}/-/ready", timeout)
            self.procs.wait_http("prometheus", f"{self.prometheus_url}/-/ready", timeout)
        except Exception:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        self.procs.stop_all()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----- what tests and the demo look at
    def query(self, promql: str) -> list[dict]:
        r = httpx.get(f"{self.prometheus_url}/api/v1/query", params={"query": promql}, timeout=10)
        r.raise_for_status()
        return r.json()["data"]["result"]

    def alerts(self, state: str | None = None) -> list[dict]:
        """Prometheus' own view of its alerts (pending / firing)."""
        r = httpx.get(f"{self.prometheus_url}/api/v1/alerts", timeout=10)
        r.raise_for_status()
        found = r.json()["data"]["alerts"]
        return [a for a in found if state is None or a["state"] == state]

    def wait_for(self, what: str, check, timeout: float = 60.0, every: float = 0.5):
        """Poll `check()` until it returns something truthy; fails naming `what` and the logs' tails."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = check()
            if got:
                return got
            time.sleep(every)
        raise TimeoutError(f"{what} not seen within {timeout:.0f} s\nprometheus: {self.procs.log_tail('prometheus', 1500)}"
                           f"\nalertmanager: {self.procs.log_tail('alertmanager', 1500)}")
