"""`aofctl eval`: run the builtin:k8s-rules diagnostician over the sandbox scenarios and score it.

Each scenario gets its own sandbox Kubernetes API server; the real kubectl runs through the guarded Shell
tool, as for an agent in a flow. Exit code 0 only when every selected scenario passes.
"""

from __future__ import annotations

import argparse


def cmd_eval(args: argparse.Namespace) -> int:
    from aof_lab.rules_eval.evaluate import PREFIXES, run

    outcomes = run(args.scenario or None, prefix="" if args.all else PREFIXES, agent_path=args.agent, jobs=args.jobs)
    return 0 if outcomes and all(o.passed for o in outcomes) else 1


def register(cli) -> None:  # type: ignore[no-untyped-def]
    p = cli.command("eval", cmd_eval, "score the builtin:k8s-rules diagnostician on sandbox scenarios (real kubectl)")
    p.add_argument("--scenario", "-s", action="append", metavar="NAME", help="scenario name (repeatable); default: every rules-* and ext-* scenario")
    p.add_argument("--all", action="store_true", help="every scenario in the sandbox, not only rules-* and ext-*")
    p.add_argument("--agent", metavar="FILE", help="agent YAML whose Shell tool and output format to use (default: the seed diagnostic agent's)")
    p.add_argument("--jobs", "-j", type=int, default=2, help="scenarios evaluated in parallel (processes); default 2")
