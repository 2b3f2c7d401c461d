"""`Sandbox`: all three stand-ins in one process, seeded from scenarios, plus the env file the demo
sources so Airflow's connections point at them. Used by `aofctl sandbox`, the demo and e2e tests."""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path
from typing import Self

from aof_lab.sandbox.kube import KubeAPI
from aof_lab.sandbox.pagerduty import PagerDutyAPI
from aof_lab.sandbox.ratelimit import SLACK_TIERS
from aof_lab.sandbox.scenario import Scenario, load_scenario
from aof_lab.sandbox.slack import SlackWebAPI

DEMO_SCENARIOS = ("high-memory-api", "postgres-replicas-failing", "remediation-fails-verification")
PAGERDUTY_FROM = "aof-sandbox@example.com"


class Sandbox:
    """Slack + PagerDuty + Kubernetes stand-ins; `with Sandbox(state_dir=tmp) as sb: sb.env()`."""

    def __init__(self, scenarios: tuple[str, ...] | list[str] = DEMO_SCENARIOS, *, state_dir: str | Path,
                 port_base: int = 0, slack_rate_limits: dict[str, int] | None = None) -> None:
        self.scenarios: list[Scenario] = [load_scenario(s) for s in scenarios]
        self.state_dir = Path(state_dir)
        p = port_base
        self.slack = SlackWebAPI(rate_limits=slack_rate_limits, port=p)
        self.pagerduty = PagerDutyAPI(port=p + 1 if p else 0)
        self.kube = KubeAPI(self.scenarios, port=p + 2 if p else 0)
        for sc in self.scenarios:
            inc = sc.incident
            self.pagerduty.add_incident(inc.id, inc.title, inc.service, inc.urgency,
                                        {"namespace": inc.namespace, "resource": inc.resource, **inc.details})
        self.kubeconfig_path = self.state_dir / "kubeconfig"
        self.env_path = self.state_dir / "sandbox.env"

    def start(self) -> Self:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        try:
            for srv in (self.slack, self.pagerduty, self.kube):
                srv.start()
        except OSError:
            self.stop()
            raise
        namespace = self.scenarios[0].incident.namespace if self.scenarios else "default"
        self.kube.kubeconfig(self.kubeconfig_path, namespace=namespace)
        self.write_env(self.env_path)
        return self

    def stop(self) -> None:
        for srv in (self.kube, self.pagerduty, self.slack):
            srv.stop()
        self.env_path.unlink(missing_ok=True)  # nobody should source URLs of a stopped sandbox

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def env(self) -> dict[str, str]:
        """Environment that points Airflow connections and the flow's variables at the sandbox."""
        slack_conn = {"conn_type": "slack", "password": self.slack.token,
                      "extra": {"base_url": self.slack.base_url}, "description": "SANDBOX Slack (aofctl sandbox)"}
        pd_conn = {"conn_type": "http", "host": self.pagerduty.base_url, "password": self.pagerduty.api_key,
                   "extra": {"From": PAGERDUTY_FROM}, "description": "SANDBOX PagerDuty (aofctl sandbox)"}
        kube_conn = {"conn_type": "kubernetes", "extra": {"kube_config_path": str(self.kubeconfig_path.resolve())},
                     "description": "SANDBOX Kubernetes API (aofctl sandbox)"}
        return {
            "AOF_SANDBOX": "1",
            "AOF_SANDBOX_SCENARIOS": ",".join(s.name for s in self.scenarios),
            "AIRFLOW_CONN_SLACK_DEFAULT": json.dumps(slack_conn),
            "AOF_SANDBOX_SLACK_URL": self.slack.url,
            "AOF_SANDBOX_SLACK_PAGE": self.slack.page_url("incidents"),
            "AIRFLOW_CONN_PAGERDUTY_DEFAULT": json.dumps(pd_conn),
            "AOF_PAGERDUTY_API_URL": self.pagerduty.base_url,
            "AOF_PAGERDUTY_FROM": PAGERDUTY_FROM,
            "AOF_SANDBOX_PAGERDUTY_API_KEY": self.pagerduty.api_key,
            "AOF_SANDBOX_PAGERDUTY_PAGE": self.pagerduty.url + "/",
            "KUBECONFIG": str(self.kubeconfig_path.resolve()),
            "AIRFLOW_CONN_KUBERNETES_DEFAULT": json.dumps(kube_conn),
            "AOF_SANDBOX_KUBE_URL": self.kube.url,
        }

    def write_env(self, path: Path) -> Path:
        lines = ["# SANDBOX endpoints written by `aofctl sandbox`; source with `set -a; . FILE; set +a`"]
        lines += [f"export {k}={shlex.quote(v)}" for k, v in self.env().items()]
        tmp = path.with_suffix(".tmp")
        tmp.write_text("\n".join(lines) + "\n")
        os.chmod(tmp, 0o600)
        tmp.replace(path)  # atomic: its existence means every server is up
        return path


def slack_limits(choice: str) -> dict[str, int] | None:
    return dict(SLACK_TIERS) if choice == "slack" else None
