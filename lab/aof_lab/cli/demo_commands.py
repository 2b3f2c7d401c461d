"""`aofctl demo`: what `make demo` runs -- the tutorial's two incidents (and a failing remediation) end to end."""

from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path
from typing import Any, Callable

from aof_airflow.cli import Commands

DEFAULT_PAYLOADS = ("examples/payloads/test1-noncritical.json", "examples/payloads/test2-critical.json")
FAILING_SCENARIO = "remediation-fails-verification"


def _demo(args: argparse.Namespace) -> int:
    from aof_lab.local.demo import DemoSystem, real_services
    from aof_lab.local.shutdown import Interrupted, Shutdown, end_children, say

    shutdown = Shutdown().install()  # before anything starts: Ctrl-C during start-up cleans up too
    out = lambda text: say(text, on_lost=lambda: shutdown.output_lost("stdout closed"))
    state = Path(args.state).resolve()
    shutil.rmtree(state, ignore_errors=True)  # a demo starts from nothing: old runs would be deduplicated
    real = real_services(os.environ)
    system = DemoSystem(state, Path(args.dags).resolve(), port=args.port, relay_port=args.relay_port)
    alerts = None
    try:
        out("aof-airflow demo: the tutorial's incident-response flow on a local Airflow")
        for svc in ("llm", "slack", "pagerduty", "kubernetes"):
            how = "REAL (credentials found)" if svc in real else (
                "SANDBOX rules diagnostician (builtin:k8s-rules, no LLM)" if svc == "llm" else "SANDBOX stand-in")
            out(f"  {svc:<11} {how}")
        alerts = _alert_incident(args, system, state, real, out)
        out("Starting Airflow (api-server, scheduler, dag-processor, triggerer) and the relay ...")
        system.start()
        if alerts is not None:
            alerts.start(system)
            out(f"Prometheus + Alertmanager started in {alerts.startup_seconds:.1f}s")
        _run(args, system, state, out, shutdown, alerts)
        return 0
    except (Interrupted, KeyboardInterrupt, BrokenPipeError):
        return 0
    finally:
        shutdown.shield()
        why = f" ({shutdown.reason})" if shutdown.reason else ""
        say(f"Stopping{why}: every process the demo started ...", err=True)
        n = len(system.airflow.procs.names()) if system.airflow is not None else 0
        try:
            if alerts is not None:
                alerts.stop()
            system.stop()
        finally:
            stray = end_children()
        say(f"Stopped {n} processes and the sandbox{f' (and {len(stray)} stray)' if stray else ''}.", err=True)


def _alert_incident(args: argparse.Namespace, system: Any, state: Path, real: set[str],
                    out: Callable[[str], None]) -> Any:
    """The fourth incident (lab/aof_lab/local/alert_demo.py), when the sandbox cluster and Prometheus are here."""
    from aof_lab.local.alert_demo import SCENARIO, AlertIncident

    if "kubernetes" in real or args.payload:
        return None
    alerts = AlertIncident.prepare(state, Path(args.dags), out, enabled=not args.no_alerts)
    if alerts is not None:
        system.dags_folder = alerts.dags.resolve()
        system.extra_env.update(alerts.env())
        system.extra_scenarios = (SCENARIO,)
    return alerts


def _run(args: argparse.Namespace, system: Any, state: Path, out: Callable[[str], None], shutdown: Any,
         alerts: Any = None) -> None:
    from aof_lab.local.demo import FLOW
    from aof_lab.local.timeline import Timeline
    from aof_lab.sandbox.scenario import load_scenario

    af = system.airflow
    out(f"Airflow UI   {af.base_url}   (login {af.username} / {af.password})")
    out(f"Relay        {system.relay_url}/pagerduty/webhook   (Bearer token in {state}/webhook-token)")
    (state / "webhook-token").write_text(system.webhook_token)
    if system.sandbox is not None:
        out(f"Slack        {system.sandbox.slack.page_url('incidents')}   (SANDBOX channel page)")
        out(f"PagerDuty    {system.sandbox.pagerduty.url}/   (SANDBOX incident list)")
    out(f"In another terminal: source {_shown(system.env_path)}   (then `aofctl flow status {FLOW}`, "
        "`aofctl flow logs ...`, `airflow dags list` ...)")
    payloads = [json.loads(Path(p).read_text()) for p in (args.payload or DEFAULT_PAYLOADS)]
    if system.sandbox is not None and not args.payload:
        payloads.append(load_scenario(FAILING_SCENARIO).payload())
    run_ids = []
    for body in payloads:
        inc = body["event"]["incident"]["id"]
        r = system.send(body)
        out(f"POST /pagerduty/webhook {inc}: {r.status_code} {r.text[:120]}")
        run_ids.append(f"pd-{inc}")
    if system.sandbox is not None:
        out(f"The critical incident waits for a human: open {system.sandbox.slack.page_url('incidents')} "
            "and react with ✅ as the on-call approver (U_ONCALL), or answer it in Airflow's Required Actions "
            f"({af.base_url}/required_actions), or `aofctl approve pd-TEST002 --decision approve --user U_ONCALL`.")
    timeline = Timeline(af.client, FLOW, sandbox=system.sandbox, out=out)
    done = timeline.follow(run_ids, until=shutdown.requested.is_set)
    if done and alerts is not None:
        done = alerts.run(system, timeline, out, until=shutdown.requested.is_set)
    if done:
        out("All incidents handled. Airflow and the relay keep running; Ctrl-C stops everything.")
    if not args.exit_when_done:
        while not shutdown.requested.is_set():
            timeline.poll(run_ids)
            shutdown.requested.wait(2)


def _shown(path: Path) -> str:
    """A path as the user would type it: relative to the current folder when under it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def register(cli: Commands) -> None:
    p = cli.command("demo", _demo, help="run the tutorial end to end on a local Airflow (what `make demo` does)")
    p.add_argument("--state", default=".state/demo", help="folder for Airflow's home, logs and the sandbox (wiped)")
    p.add_argument("--dags", default="dags", help="dags folder holding aof_flows.py, flows/ and agents/")
    p.add_argument("--port", type=int, default=8080, help="Airflow API/UI port (a free one if taken)")
    p.add_argument("--relay-port", type=int, default=8088, help="relay port (a free one if taken)")
    p.add_argument("--payload", action="append", help="webhook JSON to send (repeatable); default: the tutorial's two")
    p.add_argument("--exit-when-done", action="store_true", help="stop once every incident has ended")
    p.add_argument("--no-alerts", action="store_true",
                   help="skip the fourth incident (Prometheus + Alertmanager; they are installed when missing)")
