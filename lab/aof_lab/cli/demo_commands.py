"""`aofctl demo`: what `make demo` runs -- the tutorial's two incidents (and a failing remediation) end to end."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import threading
from pathlib import Path

from aof_airflow.cli import Commands

DEFAULT_PAYLOADS = ("examples/payloads/test1-noncritical.json", "examples/payloads/test2-critical.json")
FAILING_SCENARIO = "remediation-fails-verification"


def _demo(args: argparse.Namespace) -> int:
    from aof_lab.sandbox.scenario import load_scenario
    from aof_lab.local.demo import FLOW, DemoSystem, real_services
    from aof_lab.local.timeline import Timeline

    state = Path(args.state).resolve()
    shutil.rmtree(state, ignore_errors=True)  # a demo starts from nothing: old runs would be deduplicated
    real = real_services(os.environ)
    print("aof-airflow demo: the tutorial's incident-response flow on a local Airflow")
    for svc in ("llm", "slack", "pagerduty", "kubernetes"):
        how = "REAL (credentials found)" if svc in real else (
            "SANDBOX rules diagnostician (builtin:k8s-rules, no LLM)" if svc == "llm" else "SANDBOX stand-in")
        print(f"  {svc:<11} {how}")
    print("Starting Airflow (api-server, scheduler, dag-processor, triggerer) and the relay ...", flush=True)

    system = DemoSystem(state, Path(args.dags).resolve(), port=args.port, relay_port=args.relay_port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        system.start()
        af = system.airflow
        assert af is not None
        print(f"Airflow UI   {af.base_url}   (login {af.username} / {af.password})")
        print(f"Relay        {system.relay_url}/pagerduty/webhook   (Bearer token in {state}/webhook-token)")
        (state / "webhook-token").write_text(system.webhook_token)
        if system.sandbox is not None:
            print(f"Slack        {system.sandbox.slack.page_url('incidents')}   (SANDBOX channel page)")
            print(f"PagerDuty    {system.sandbox.pagerduty.url}/   (SANDBOX incident list)")
        payloads = [json.loads(Path(p).read_text()) for p in (args.payload or DEFAULT_PAYLOADS)]
        if system.sandbox is not None and not args.payload:
            payloads.append(load_scenario(FAILING_SCENARIO).payload())
        run_ids = []
        for body in payloads:
            inc = body["event"]["incident"]["id"]
            r = system.send(body)
            print(f"POST /pagerduty/webhook {inc}: {r.status_code} {r.text[:120]}")
            run_ids.append(f"pd-{inc}")
        if system.sandbox is not None:
            print(f"The critical incident waits for a human: open {system.sandbox.slack.page_url('incidents')} "
                  "and react with ✅ as the on-call approver (U_ONCALL).")
        timeline = Timeline(af.client, FLOW, sandbox=system.sandbox)
        done = timeline.follow(run_ids, until=stop.is_set)
        if done:
            print("All incidents handled. Airflow and the relay keep running; Ctrl-C stops everything.")
        if not args.exit_when_done:
            while not stop.is_set():
                timeline.poll(run_ids)
                stop.wait(2)
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        print("Stopping ...", flush=True)
        system.stop()


def register(cli: Commands) -> None:
    p = cli.command("demo", _demo, help="run the tutorial end to end on a local Airflow (what `make demo` does)")
    p.add_argument("--state", default=".state/demo", help="folder for Airflow's home, logs and the sandbox (wiped)")
    p.add_argument("--dags", default="dags", help="dags folder holding aof_flows.py, flows/ and agents/")
    p.add_argument("--port", type=int, default=8080, help="Airflow API/UI port (a free one if taken)")
    p.add_argument("--relay-port", type=int, default=8088, help="relay port (a free one if taken)")
    p.add_argument("--payload", action="append", help="webhook JSON to send (repeatable); default: the tutorial's two")
    p.add_argument("--exit-when-done", action="store_true", help="stop once every incident has ended")
