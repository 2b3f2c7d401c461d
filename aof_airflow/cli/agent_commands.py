"""`aofctl agent exec NAME "prompt"`: run one agent once, outside any DAG (trying a prompt, a model, a key)."""

from __future__ import annotations

import argparse
import json
import logging
import sys

from aof_airflow.agent.runtime import run_agent
from aof_airflow.agent.types import AgentError, AgentScope
from aof_airflow.config import agents_folder
from aof_airflow.spec.loader import load_paths


def register(cli) -> None:
    p = cli.command("agent exec", _exec, help="Run one agent once and print its answer (JSON) and metadata")
    p.add_argument("name", help="metadata.name of the Agent")
    p.add_argument("prompt", help="the input, as the flow's Agent node would render it")
    p.add_argument("-f", "--file", action="append", default=[], help="Agent YAML file or folder (repeatable); "
                   "default: the configured agents folder")
    p.add_argument("--namespace", help="the incident's namespace: kubectl is confined to it")
    p.add_argument("--service", help="the service (memory of its past incidents is offered)")
    p.add_argument("--incident", help="incident id, for the record")
    p.add_argument("--timeout", type=float, default=None, help="seconds before the run is abandoned")
    p.add_argument("--meta", action="store_true", help="also print usage, tool calls, changes and notes")


def _exec(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    loaded = load_paths(args.file or [agents_folder()], check_graph=False)
    for problem in loaded.problems:
        print(f"warning: {problem}", file=sys.stderr)
    agent = loaded.agents.get(args.name)
    if agent is None:
        known = ", ".join(sorted(loaded.agents)) or "none"
        print(f"error: no Agent named {args.name!r} in {args.file or [str(agents_folder())]} (found: {known})", file=sys.stderr)
        return 2
    scope = AgentScope(namespace=args.namespace, service=args.service, incident_id=args.incident)
    try:
        result = run_agent(agent, args.prompt, scope=scope, timeout_seconds=args.timeout)
    except AgentError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    out = result.output if isinstance(result.output, dict) else {"text": result.output}
    print(json.dumps(out, indent=2))
    if args.meta:
        print(json.dumps(result.meta(), indent=2, default=str), file=sys.stderr)
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    return 0
