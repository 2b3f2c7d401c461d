"""The AOF corpus (../shared/corpora/aof, published material kept outside the repository) read document by
document: what AOF says of each, what we say.

Shared by the unit test (validation) and the integration test (DagBag + dag.test) so that both count the same
documents the same way.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from aof_airflow.spec.graph import check_flow
from aof_airflow.spec.loader import load_text
from aof_airflow.spec.problems import Problem
from tests.locations import CorpusDir

ROOT = CorpusDir("aof")  # a test using it is skipped, naming the folder, where the corpus is absent
TRIGGER_OR_PROVIDER = re.compile(r"spec\.trigger|unknown model provider|provider `")  # lane16b's part of issue 16


@dataclass
class Doc:
    file: str
    index: int  # 0-based document of the file
    kind: str
    aof_accepts: bool
    aof_says: str
    name: str | None = None
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def validated(self) -> bool:
        return self.name is not None and not self.problems

    @property
    def refusal(self) -> str:
        if not self.problems:
            return ""
        if all(TRIGGER_OR_PROVIDER.search(p.message) for p in self.problems):
            return "refused: trigger/provider (lane16b): " + self.problems[0].message
        return "refused: " + "; ".join(f"{p.line}:{p.col}: {p.message}" for p in self.problems[:3])


def _starts(text: str) -> list[int]:
    """1-based first line of each document (the YAML documents split at `---` lines, as the loader reads them)."""
    starts, seen_content = [1], False
    for n, line in enumerate(text.splitlines(), start=1):
        if re.fullmatch(r"---\s*", line):
            if seen_content:
                starts.append(n + 1)
                seen_content = False
        elif line.strip() and not line.lstrip().startswith("#"):
            seen_content = True
    return starts


def read_corpus() -> list[Doc]:
    """Every Agent and AgentFlow document of the corpus with our problems (graph checks against every agent)."""
    expected = json.loads((ROOT / "expected.json").read_text())
    docs = [Doc(e["file"], e["document"], e["kind"], e["aof_accepts"], e["aof_says"]) for e in expected]
    parsed = {f: load_text((ROOT / f).read_text(encoding="utf-8"), f) for f in sorted({d.file for d in docs})}
    agents = frozenset(d.name for p in parsed.values() for d in p.documents if d.kind == "Agent")
    for f, p in parsed.items():
        text = (ROOT / f).read_text(encoding="utf-8")
        starts = _starts(text)
        mine = sorted((d for d in docs if d.file == f), key=lambda d: d.index)

        def which(line: int) -> int:
            return max(i for i, s in enumerate(starts) if s <= line) if starts else 0

        extra = [q for d in p.documents if d.kind == "AgentFlow"
                 for q in check_flow(d.model, agents=agents, locate=d.locate, locate_in=d.locate_in, file=f)]
        for d in mine:
            d.problems = [q for q in [*p.problems, *extra] if which(q.line) == d.index]
            d.warnings = [q for q in p.warnings if which(q.line) == d.index]
        for loaded in p.documents:
            line, _ = loaded.locate(("metadata", "name"))
            for d in mine:
                if which(line) == d.index:
                    d.name = loaded.name
    return docs
