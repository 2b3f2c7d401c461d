"""The tutorial's Steps 5 and 6 on one machine: Airflow, the relay, and (without real credentials) the sandbox.

`DemoSystem` is what `make demo` runs and what the end-to-end tests start, so the demo a user sees is the
system the tests prove. Real services are used wherever their credentials are present; the sandbox stands
in only for the others, and says so.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import httpx

from aof_lab.local.stack import LocalAirflow, free_port

FLOW = "incident-auto-response"
WEBHOOK_PATH = "/pagerduty/webhook"
SANDBOX_APPROVER = "U_ONCALL"

# A service is real when any of its variables is set; the sandbox never replaces a configured service.
CREDENTIALS: dict[str, tuple[str, ...]] = {
    "llm": ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "AIRFLOW_CONN_ANTHROPIC_DEFAULT", "AIRFLOW_CONN_OPENAI_DEFAULT"),
    "slack": ("SLACK_BOT_TOKEN", "AIRFLOW_CONN_SLACK_DEFAULT"),
    "pagerduty": ("PAGERDUTY_API_KEY", "AIRFLOW_CONN_PAGERDUTY_DEFAULT"),
    "kubernetes": ("KUBECONFIG",),
}
# The sandbox env keys that stand for each service.
SANDBOX_KEYS: dict[str, tuple[str, ...]] = {
    "slack": ("AIRFLOW_CONN_SLACK_DEFAULT",),
    "pagerduty": ("AIRFLOW_CONN_PAGERDUTY_DEFAULT", "AOF_PAGERDUTY_API_URL", "AOF_PAGERDUTY_FROM"),
    "kubernetes": ("KUBECONFIG", "AIRFLOW_CONN_KUBERNETES_DEFAULT"),
}


def real_services(environ: Mapping[str, str]) -> set[str]:
    return {svc for svc, names in CREDENTIALS.items() if any(environ.get(n) for n in names)}


def token_connections(environ: Mapping[str, str]) -> dict[str, str]:
    """`SLACK_BOT_TOKEN` as the `slack_default` Connection the Slack nodes and approvals use, unless one is set."""
    token = environ.get("SLACK_BOT_TOKEN")
    if token and not environ.get("AIRFLOW_CONN_SLACK_DEFAULT"):
        return {"AIRFLOW_CONN_SLACK_DEFAULT": json.dumps({"conn_type": "slack", "password": token})}
    return {}


@dataclass
class DemoSystem:
    state_dir: Path
    dags_folder: Path
    port: int = 8080
    relay_port: int = 8088
    extra_env: dict[str, str] = field(default_factory=dict)
    airflow_options: dict[str, Any] = field(default_factory=dict)  # LocalAirflow kwargs: celery_workers, db_url...
    relays: int = 1
    extra_scenarios: tuple[str, ...] = ()  # sandbox scenarios besides the demo's three (the alert incident's)
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    sandbox: Any = None
    airflow: LocalAirflow | None = None
    webhook_token: str = ""
    relay_url: str = ""  # the first relay; all of them in relay_urls
    relay_urls: list[str] = field(default_factory=list)

    # ------------------------------------------------------------------------------------ start

    def start(self) -> DemoSystem:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        real = real_services(self.environ)
        env = {**self._sandbox_env(real), **token_connections(self.environ)}
        self.webhook_token = self.environ.get("PAGERDUTY_WEBHOOK_TOKEN") or secrets.token_urlsafe(24)
        env.update({
            "PAGERDUTY_WEBHOOK_TOKEN": self.webhook_token,
            "AOF_MEMORY_DIR": str(self.state_dir / "memory"),
            "AOF_FLOWS_FOLDER": str(self.dags_folder / "flows"),
            "AOF_AGENTS_FOLDER": str(self.dags_folder / "agents"),
        })
        if "llm" not in real:
            # No API key: the operator (this demo) chooses the rules diagnostician on purpose, and says so.
            env["AOF_FALLBACK_MODELS"] = "builtin:k8s-rules"
        env.update(self.extra_env)
        (self.state_dir / "memory").mkdir(exist_ok=True)
        self.airflow = LocalAirflow(self.state_dir / "airflow", self.dags_folder, port=self.port, env=env,
                                    **self.airflow_options)
        self.airflow.start()
        relay_env = {
            "AOF_AIRFLOW_API_URL": self.airflow.base_url,
            "AOF_AIRFLOW_USERNAME": self.airflow.username,
            "AOF_AIRFLOW_PASSWORD": self.airflow.password,
        }
        aofctl = str(Path(sys.executable).with_name("aofctl"))
        port = self.relay_port
        for i in range(self.relays):
            port = free_port(port if i == 0 else 0)
            name = "relay" if i == 0 else f"relay-{i + 1}"
            self.airflow.procs.start(name, [aofctl, "relay", "--host", "127.0.0.1", "--port", str(port)], env=relay_env)
            self.relay_urls.append(f"http://127.0.0.1:{port}")
            self.airflow.procs.wait_http(name, f"{self.relay_urls[-1]}/readyz")
        self.relay_url = self.relay_urls[0]
        self._share_config({**env, **relay_env})
        self.airflow.client.wait_for_dag(FLOW, timeout=180)
        return self

    @property
    def env_path(self) -> Path:
        return self.state_dir / "env"

    def _share_config(self, env: Mapping[str, str]) -> None:
        """What a second terminal needs to reach this demo: airflow.cfg (with AIRFLOW_HOME alone the `airflow`
        CLI and aofctl read it) and `env` to source for the rest (connections, sandbox credentials, PATH)."""
        assert self.airflow is not None
        self.airflow.config.setdefault("aof", {}).update({
            "airflow_api_url": self.airflow.base_url, "airflow_username": self.airflow.username,
            "airflow_password": self.airflow.password})
        self.airflow.write_config()
        shared = {"AIRFLOW_HOME": str(self.airflow.home), "AOF_DATABASE_URL": self.airflow.db_url, **env}
        lines = ["# aofctl demo: `source` this in another terminal to use `airflow` and `aofctl` on the running demo",
                 f"export PATH={shlex.quote(str(Path(sys.executable).parent))}:\"$PATH\""]
        lines += [f"export {k}={shlex.quote(v)}" for k, v in sorted(shared.items())]
        tmp = self.env_path.with_suffix(".tmp")
        tmp.write_text("\n".join(lines) + "\n")
        tmp.chmod(0o600)  # the API password, the webhook token
        tmp.replace(self.env_path)

    def _sandbox_env(self, real: set[str]) -> dict[str, str]:
        stand_in = {"slack", "pagerduty", "kubernetes"} - real
        if not stand_in:
            return {}
        from aof_lab.sandbox.runner import DEMO_SCENARIOS, Sandbox

        self.sandbox = Sandbox((*DEMO_SCENARIOS, *self.extra_scenarios), state_dir=self.state_dir / "sandbox").start()
        env = self.sandbox.env()
        for svc in real & set(SANDBOX_KEYS):
            for key in SANDBOX_KEYS[svc]:
                env.pop(key, None)
        if "slack" in stand_in:
            env.setdefault("AOF_APPROVERS", SANDBOX_APPROVER)
        if "pagerduty" in stand_in:
            env["PAGERDUTY_API_KEY"] = self.sandbox.pagerduty.api_key
        return env

    def stop(self) -> None:
        self.env_path.unlink(missing_ok=True)  # nobody should source the ports of a stopped demo
        if self.airflow is not None:
            self.airflow.stop()
        if self.sandbox is not None:
            self.sandbox.stop()

    def __enter__(self) -> DemoSystem:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------------------------- use

    def send(self, payload: dict | bytes, *, webhook_id: str | None = None, relay: int = 0) -> httpx.Response:
        """POST a webhook to a relay the way the tutorial's curl does (Bearer token, JSON)."""
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = {"Authorization": f"Bearer {self.webhook_token}", "Content-Type": "application/json"}
        if webhook_id:
            headers["X-Webhook-Id"] = webhook_id
        return httpx.post(f"{self.relay_urls[relay]}{WEBHOOK_PATH}", content=body, headers=headers, timeout=10)

    def wait_for_run(self, run_id: str, timeout: float = 60) -> dict:
        """Until the relay's hand-off has created the run."""
        assert self.airflow is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = self.airflow.client.get_run(FLOW, run_id)
            if run:
                return run
            time.sleep(0.5)
        raise RuntimeError(f"run {run_id} never appeared; relay log:\n{self.airflow.procs.log_tail('relay', 3000)}")
