"""`aofctl`: the command line. Each area registers its own commands from a module of this package.

A command module exposes `register(cli: Commands)` and adds commands with `cli.command("flow graph", ...)`;
the first word groups commands (`flow`, `agent`, ...) the way the tutorial's aofctl does. Other installed
packages add commands through the entry-point group `aofctl.commands` (name = the first word, value = the
module): that is how the lab's `demo`, `sandbox` and `eval` appear without the product importing the lab.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from importlib.metadata import entry_points
from typing import Callable

# Modules that contribute commands, and the first words they provide: `aofctl WORD ...` imports only the
# modules providing WORD, so a quick `aofctl validate` does not pay for Airflow, SDKs or the relay.
COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    "aof_airflow.cli.spec_commands": ("validate", "flow", "schema"),
    "aof_airflow.cli.approve_commands": ("approve",),
    "aof_airflow.cli.agent_commands": ("agent",),
    "aof_airflow.cli.relay_commands": ("relay", "flow"),
    "aof_airflow.cli.monitor_commands": ("flow",),
    "aof_airflow.cli.agent_log_commands": ("agent",),
}
ENTRY_POINT_GROUP = "aofctl.commands"


def command_modules() -> dict[str, tuple[str, ...]]:
    """Our own modules plus those other installed packages register (one first word each)."""
    modules = dict(COMMAND_MODULES)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        modules[ep.value] = modules.get(ep.value, ()) + (ep.name,)
    return modules


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


def build(word: str | None = None) -> Commands:
    """The parser with the modules providing `word` (all of them when None or unknown, e.g. for --help)."""
    modules = command_modules()
    wanted = [m for m, words in modules.items() if word in words] or list(modules)
    cli = Commands()
    for mod in wanted:
        importlib.import_module(mod).register(cli)
    return cli


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    cli = build(next((a for a in argv if not a.startswith("-")), None))
    args = cli.parser.parse_args(argv)
    if not getattr(args, "func", None):
        cli.parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
