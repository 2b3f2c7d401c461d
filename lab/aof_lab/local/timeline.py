"""A live, readable timeline of incident runs: each node's state and duration as it changes, the Slack
messages and the PagerDuty calls, in one stream (what a person watching `make demo` wants to see)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import httpx

from aof_airflow.airflow_rest import AirflowAPI

TERMINAL = {"success", "failed"}


@dataclass
class Timeline:
    client: AirflowAPI
    dag_id: str
    sandbox: Any = None  # aof_lab.sandbox.runner.Sandbox, when the demo runs on it
    out: Callable[[str], None] = print
    started: float = field(default_factory=time.monotonic)
    _task_states: dict[tuple[str, str], str | None] = field(default_factory=dict)
    _run_states: dict[str, str | None] = field(default_factory=dict)
    _slack_seen: set[tuple[str, str]] = field(default_factory=set)
    _pd_seen: int = 0
    _api_trouble: bool = False

    def _say(self, who: str, text: str) -> None:
        self.out(f"+{time.monotonic() - self.started:6.1f}s  {who:<10} {text}")

    def poll(self, run_ids: list[str]) -> bool:
        """Print what changed since the last poll; True when every run has ended."""
        for run_id in run_ids:
            try:
                self._poll_run(run_id)
            except httpx.HTTPError as e:  # a slow or restarting api-server: say so once, try again next poll
                if not self._api_trouble:
                    self._say("airflow", f"API not answering ({type(e).__name__}); still watching")
                self._api_trouble = True
                return False
        self._api_trouble = False
        if self.sandbox is not None:
            self._poll_slack()
            self._poll_pagerduty()
        return all(self._run_states.get(r) in TERMINAL for r in run_ids)

    def follow(self, run_ids: list[str], *, until: Callable[[], bool] | None = None, interval: float = 1.0,
               timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            done = self.poll(run_ids)
            if done or (until is not None and until()):
                return done
            if deadline is not None and time.monotonic() > deadline:
                return False
            time.sleep(interval)

    def _poll_run(self, run_id: str) -> None:
        run = self.client.get_run(self.dag_id, run_id)
        if run is None:
            return
        label = run_id.removeprefix("pd-")
        for ti in sorted(self.client.task_instances(self.dag_id, run_id), key=lambda t: t.get("start_date") or "~"):
            key = (run_id, ti["task_id"])
            state = ti["state"]
            if self._task_states.get(key, "none") == state or state in (None, "scheduled", "queued"):
                continue
            self._task_states[key] = state
            took = f" ({ti['duration']:.1f}s)" if ti.get("duration") and state in ("success", "failed") else ""
            hint = ""
            if state == "deferred" and self.sandbox is not None:
                hint = (f"  <- react in {self.sandbox.slack.page_url('incidents')} or answer in "
                        f"{self.client.base_url}/required_actions")
            self._say(label, f"{ti['task_id']:<20} {state}{took}{hint}")
        if self._run_states.get(run_id) != run["state"]:
            self._run_states[run_id] = run["state"]
            if run["state"] in TERMINAL:
                self._say(label, f"run {run['state'].upper()}")

    def _poll_slack(self) -> None:
        slack = self.sandbox.slack
        for channel in slack.channel_names():
            for msg in slack.messages(channel):
                for i, m in enumerate(slack.thread(channel, msg["ts"])):
                    key = (channel, m["ts"])
                    if key in self._slack_seen:
                        continue
                    self._slack_seen.add(key)
                    first = next((ln.strip() for ln in m.get("text", "").splitlines() if ln.strip()), "")
                    self._say("slack", f"{channel}{' (thread)' if i else ''}: {first[:100]}")

    def _poll_pagerduty(self) -> None:
        reqs = list(self.sandbox.pagerduty.requests)
        for r in reqs[self._pd_seen:]:
            what = ""
            if isinstance(r.body, dict) and isinstance(r.body.get("incident"), dict):
                what = f" status={r.body['incident'].get('status')}"
            self._say("pagerduty", f"{r.method} {r.path} -> {r.status}{what}")
        self._pd_seen = len(reqs)
