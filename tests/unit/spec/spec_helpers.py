"""Shared helpers for the spec tests: where the seed lives, minimal documents, exact line lookup."""

from __future__ import annotations

import textwrap
from pathlib import Path

from tests import locations

REPO = locations.REPO
SNIPPETS = locations.SEED_SNIPPETS  # the tutorial's snippets, as examples/snippets ships them
SEED_FLOW = locations.SEED_FLOW.name
SEED_AGENTS = ("diagnostic-agent.yaml", "remediation-agent.yaml", "post-incident-agent.yaml")


def seed_files() -> list[Path]:
    """The four seed files, as the repository ships them (test_seed_copies.py checks they are the tutorial's)."""
    return [locations.SEED_FLOW] + [locations.SEED_AGENTS / a for a in SEED_AGENTS]


def line_of(text: str, needle: str, nth: int = 1) -> int:
    """1-based line of the nth (-1: last) line containing `needle` (independent of the loader under test)."""
    hits = [i + 1 for i, line in enumerate(text.splitlines()) if needle in line]
    assert len(hits) >= abs(nth), f"{needle!r} occurs {len(hits)} times"
    return hits[nth - 1 if nth > 0 else nth]


AGENT = """\
apiVersion: aof.dev/v1
kind: Agent
metadata:
  name: {name}
spec:
  model: openai:gpt-4
  instructions: do things
"""


def flow_yaml(nodes: str, connections: str = "", name: str = "f") -> str:
    """A minimal flow document around the given (already indented under `nodes:`) YAML blocks."""
    text = f"apiVersion: aof.dev/v1\nkind: AgentFlow\nmetadata:\n  name: {name}\nspec:\n  nodes:\n"
    text += textwrap.indent(textwrap.dedent(nodes).strip("\n"), "    ") + "\n"
    if connections:
        text += "  connections:\n" + textwrap.indent(textwrap.dedent(connections).strip("\n"), "    ") + "\n"
    return text


def col_of(text: str, needle: str, nth: int = 1) -> int:
    """1-based column where `needle` starts on the line `line_of` finds."""
    line = text.splitlines()[line_of(text, needle, nth) - 1]
    return line.index(needle) + 1
