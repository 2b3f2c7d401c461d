"""`aofctl validate`, `aofctl flow graph`, `aofctl schema`: the language layer on the command line.

Kept free of Airflow imports so validating a file takes a fraction of a second.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any, TextIO

from aof_airflow.spec.graph import CycleError, check_flow, topological_order
from aof_airflow.spec.loader import LoadResult, load_paths
from aof_airflow.spec.models import AgentFlow, AgentNode
from aof_airflow.spec.problems import Problem
from aof_airflow.spec.schema import json_schema

if TYPE_CHECKING:
    from aof_airflow.cli import Commands


def _files_arg(p: argparse.ArgumentParser, help: str) -> None:
    p.add_argument("-f", "--file", dest="files", action="extend", nargs="+", required=True, metavar="FILE",
                   help=help)


def _print_problems(problems: list[Problem], stream: TextIO) -> None:
    for p in sorted(problems, key=lambda p: (p.file, p.line, p.col)):
        print(p, file=stream)


# -------------------------------------------------------------------------------------- validate


def cmd_validate(args: argparse.Namespace) -> int:
    result = load_paths(args.files)
    _print_problems(result.problems + result.warnings, sys.stdout)
    n_err, n_warn = len(result.problems), len(result.warnings)
    summary = (f"{len(result.files)} file(s): {len(result.flows)} flow(s), {len(result.agents)} agent(s), "
               f"{len(result.triggers)} trigger(s); "
               f"{n_err} error(s), {n_warn} warning(s)")
    print(("valid: " if result.ok else "invalid: ") + summary, file=sys.stderr)
    return 0 if result.ok else 1


# ------------------------------------------------------------------------------------ flow graph


def graph_json(flow: AgentFlow) -> dict[str, Any]:
    """`{"flow": name, "nodes": [{"id", "type", "upstream"}]}`, nodes in topological order."""
    up = flow.upstream()
    return {"flow": flow.name,
            "nodes": [{"id": n, "type": flow.node(n).type, "upstream": up[n]} for n in topological_order(flow)]}


def _label(flow: AgentFlow, node_id: str) -> str:
    node = flow.node(node_id)
    text = f"{node_id} [{node.type}"
    if isinstance(node, AgentNode):
        text += f": {node.config.agent}"
    text += "]"
    if node.conditions:
        text += "  if " + " OR ".join(f"({c.from_}: {c.when})" for c in node.conditions)
    return text


def graph_tree(flow: AgentFlow) -> str:
    """Readable tree from the start nodes; a join is drawn under its first parent, referenced later."""
    up = flow.upstream()
    down: dict[str, list[str]] = {n: [] for n in up}
    for n, parents in up.items():
        for p in parents:
            down[p].append(n)
    order = {n: i for i, n in enumerate(topological_order(flow))}
    for kids in down.values():
        kids.sort(key=order.__getitem__)
    lines = [f"{flow.name}"]
    drawn: set[str] = set()

    def walk(node: str, prefix: str, last: bool) -> None:
        branch = "└── " if last else "├── "
        if node in drawn:
            lines.append(f"{prefix}{branch}{node} (joins; see above)")
            return
        drawn.add(node)
        joins = f"  <- joins {', '.join(up[node])}" if len(up[node]) > 1 else ""
        lines.append(f"{prefix}{branch}{_label(flow, node)}{joins}")
        kids = down[node]
        for i, kid in enumerate(kids):
            walk(kid, prefix + ("    " if last else "│   "), i == len(kids) - 1)

    starts = [n for n in order if not up[n]]
    for i, s in enumerate(starts):
        walk(s, "", i == len(starts) - 1)
    return "\n".join(lines)


def _pick_flow(result: LoadResult, name: str | None) -> AgentFlow | None:
    if name:
        if name not in result.flows:
            print(f"aofctl: no flow named {name!r} (found: {', '.join(result.flows) or 'none'})", file=sys.stderr)
            return None
        return result.flows[name]
    if len(result.flows) != 1:
        print(f"aofctl: expected one flow, found {len(result.flows)} ({', '.join(result.flows) or 'none'}); "
              f"pick one with --name", file=sys.stderr)
        return None
    return next(iter(result.flows.values()))


def cmd_flow_graph(args: argparse.Namespace) -> int:
    result = load_paths(args.files, check_graph=False)
    flow = _pick_flow(result, args.name) if result.ok else None
    problems = list(result.problems)
    if flow is not None:
        doc = result.documents[("AgentFlow", flow.name)]
        # agent names are only checked when agent definitions were given alongside the flow
        problems += check_flow(flow, agents=result.agents.keys() if result.agents else None,
                               locate=doc.locate, file=doc.file)
    _print_problems(result.warnings, sys.stderr)
    if problems or flow is None:
        _print_problems(problems, sys.stderr)
        return 1
    try:
        print(json.dumps(graph_json(flow), indent=2) if args.json else graph_tree(flow))
    except CycleError as exc:  # check_flow reports cycles; kept for safety of direct callers
        print(f"aofctl: {exc}", file=sys.stderr)
        return 1
    return 0


# ---------------------------------------------------------------------------------------- schema


def cmd_schema(args: argparse.Namespace) -> int:
    print(json.dumps(json_schema(args.kind), indent=2))
    return 0


def register(cli: Commands) -> None:
    p = cli.command("validate", cmd_validate, "Validate Agent / AgentFlow YAML; one FILE:LINE:COL line per problem")
    _files_arg(p, "YAML files or folders (agent names resolve across all of them)")

    p = cli.command("flow graph", cmd_flow_graph, "Print a flow's node graph (tree, or JSON with --json)")
    _files_arg(p, "the flow file, plus agent files to check agent names against")
    p.add_argument("--json", action="store_true", help='print {"flow", "nodes": [{"id","type","upstream"}]}')
    p.add_argument("--name", help="which flow, when the files hold several")

    p = cli.command("schema", cmd_schema, "Print the JSON Schema of Agent / AgentFlow documents, for editors")
    p.add_argument("--kind", choices=["Agent", "AgentFlow"], help="one kind only (default: any document)")
