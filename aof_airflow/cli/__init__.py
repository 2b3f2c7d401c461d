"""`aofctl`: the command line. Each area registers its own commands from a module of this package.

A command module exposes `register(cli: Commands)` and adds commands with `cli.command("flow graph", ...)`;
the first word groups commands (`flow`, `agent`, ...) the way the tutorial's aofctl does.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Callable

# Modules that contribute commands; each owns its own words.
COMMAND_MODULES = (
    "aof_airflow.cli.spec_commands",  # validate, flow graph, schema
    "aof_airflow.cli.approve_commands",  # approve RUN_ID --decision ...
    "aof_airflow.cli.agent_commands",  # agent exec NAME "prompt"
    "aof_airflow.cli.eval_commands",  # eval [--scenario NAME] (builtin:k8s-rules over sandbox scenarios)
    "aof_airflow.cli.relay_commands",  # relay (serve webhooks), flow trigger NAME --event FILE
    "aof_airflow.cli.monitor_commands",  # flow status/logs/metrics/describe, agent logs
    "aof_airflow.cli.sandbox_commands",  # sandbox (local Slack / PagerDuty / Kubernetes stand-ins)
    "aof_airflow.cli.demo_commands",  # demo (what `make demo` runs)
)


class Commands:
    """Builds the argparse tree lazily from 'group sub' command paths."""

    def __init__(self) -> None:
        self.parser = argparse.ArgumentParser(prog="aofctl", description="AgentFlow on Apache Airflow")
        self._subs = self.parser.add_subparsers(dest="command", metavar="COMMAND")
        self._groups: dict[str, argparse._SubParsersAction] = {}

    def command(self, path: str, func: Callable[[argparse.Namespace], int], help: str) -> argparse.ArgumentParser:
        words = path.split()
        if len(words) == 1:
            p = self._subs.add_parser(words[0], help=help, description=help)
        else:
            group, name = words
            if group not in self._groups:
                g = self._subs.add_parser(group, help=f"{group} commands")
                self._groups[group] = g.add_subparsers(dest=f"{group}_command", metavar="COMMAND", required=True)
            p = self._groups[group].add_parser(name, help=help, description=help)
        p.set_defaults(func=func)
        return p


def build() -> Commands:
    cli = Commands()
    for mod in COMMAND_MODULES:
        importlib.import_module(mod).register(cli)
    return cli


def main(argv: list[str] | None = None) -> int:
    cli = build()
    args = cli.parser.parse_args(argv)
    if not getattr(args, "func", None):
        cli.parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
