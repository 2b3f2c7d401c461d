"""`aofctl sandbox`: the Slack, PagerDuty and Kubernetes stand-ins in one foreground process.

Opt-in, for machines without real credentials (`make demo` starts it). Prints the URLs, writes a
kubeconfig and an env file to source, and stops cleanly on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading


def cmd_sandbox(args: argparse.Namespace) -> int:
    from aof_lab.sandbox.runner import DEMO_SCENARIOS, Sandbox, slack_limits
    from aof_lab.sandbox.scenario import load_scenario, scenario_names

    if args.list:
        for name in scenario_names():
            sc = load_scenario(name)
            print(f"{name:34} {sc.incident.id:8} {sc.incident.namespace}/{sc.incident.resource}  expect {sc.expect.severity}, {','.join(sc.expect.actions)}")
        return 0
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    sandbox = Sandbox(args.scenario or DEMO_SCENARIOS, state_dir=args.state_dir, port_base=args.port_base,
                      slack_rate_limits=slack_limits(args.slack_rate_limits))
    with sandbox:
        print("SANDBOX -- local stand-ins, not the real services")
        print(f"  Slack Web API    {sandbox.slack.base_url}   (channel page: {sandbox.slack.page_url('incidents')})")
        print(f"  PagerDuty API    {sandbox.pagerduty.base_url}   (incident page: {sandbox.pagerduty.url}/)")
        print(f"  Kubernetes API   {sandbox.kube.url}   (kubeconfig: {sandbox.kubeconfig_path})")
        print(f"  scenarios        {', '.join(s.name for s in sandbox.scenarios)}")
        print(f"  env file         {sandbox.env_path}   (set -a; . {sandbox.env_path}; set +a)")
        print("Ctrl-C stops.", flush=True)
        stop.wait()
    print("sandbox stopped", file=sys.stderr)
    return 0


def register(cli) -> None:  # type: ignore[no-untyped-def]
    p = cli.command("sandbox", cmd_sandbox, "run the local Slack / PagerDuty / Kubernetes stand-ins (no real credentials needed)")
    p.add_argument("--scenario", action="append", metavar="NAME", help="scenario to load (repeatable; default: the demo's three)")
    p.add_argument("--port-base", type=int, default=0, metavar="N", help="Slack on N, PagerDuty on N+1, Kubernetes on N+2 (default: ephemeral ports)")
    p.add_argument("--state-dir", default=".state/sandbox", help="where the kubeconfig and sandbox.env go (default: .state/sandbox)")
    p.add_argument("--slack-rate-limits", choices=("slack", "none"), default="slack", help="Slack's per-method tiers (default) or none")
    p.add_argument("--list", action="store_true", help="list the scenarios and exit")
