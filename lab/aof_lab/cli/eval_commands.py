"""`aofctl eval`: score an agent -- its own model, LLM or `builtin:k8s-rules` -- on sandbox scenarios.

Each scenario gets its own sandbox Kubernetes API server; the agent runs through the runtime a flow's Agent
node uses, with the real kubectl behind the guarded Shell tool, read-only. One sheet scores any model from
its answer's output contract (aof_lab/rules_eval/sheet.py). Exit code 0 only when every selected scenario
passes, 2 for bad input (agent file, scenario path, missing API key).

    aofctl eval                                       # the seed diagnostic agent on builtin:k8s-rules, rules-* and ext-*
    aofctl eval --agent dags/agents/diagnostic-agent.yaml --scenarios lab/aof_lab/eval_sets/<set>/ --json sheet.json
    aofctl eval -s ext-node-not-ready -s ext-job-failing --markdown
"""

from __future__ import annotations

import argparse
import sys


def cmd_eval(args: argparse.Namespace) -> int:
    from aof_lab.rules_eval.evaluate import PREFIXES, EvalInputError, run

    try:
        outcomes = run(args.scenario or None, prefix="" if args.all else PREFIXES, paths=args.scenarios, agent_path=args.agent,
                       jobs=args.jobs, timeout=args.timeout, json_path=args.json, as_markdown=args.markdown)
    except EvalInputError as e:
        print(f"aofctl eval: {e}", file=sys.stderr)
        return 2
    return 0 if outcomes and all(o.passed for o in outcomes) else 1


def register(cli) -> None:  # type: ignore[no-untyped-def]
    p = cli.command("eval", cmd_eval, "score an agent (its own model: anthropic/openai/google or builtin:k8s-rules) on sandbox scenarios")
    p.add_argument("--agent", metavar="FILE", help="Agent YAML to evaluate with its own model (credentials: Airflow Connection "
                   "or env, as for a flow); default: the seed diagnostic agent on builtin:k8s-rules")
    p.add_argument("--scenario", "-s", action="append", metavar="NAME", help="sandbox scenario by name (repeatable)")
    p.add_argument("--scenarios", action="append", metavar="PATH", help="a scenario file or a folder of them (repeatable)")
    p.add_argument("--all", action="store_true", help="every sandbox scenario, not only rules-* and ext-* (default set when no "
                   "--scenario/--scenarios is given)")
    p.add_argument("--jobs", "-j", type=int, default=2, help="scenarios evaluated in parallel (processes); default 2")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds per diagnosis; default 300")
    p.add_argument("--json", metavar="FILE", help="write the sheet (rows and totals) as JSON here")
    p.add_argument("--markdown", action="store_true", help="also print the sheet as a Markdown table")
