"""One reportable finding about a YAML file, located to the character: what `aofctl validate` prints.

Kept apart from the loader so graph checks, reference checks and the CLI share one type and one format.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Literal


@dataclass(frozen=True, order=True)
class Problem:
    """`file:line:col: message` (1-based line and column, the format editors and compilers use)."""

    file: str
    line: int
    col: int
    message: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        tag = "warning: " if self.severity == "warning" else ""
        return f"{self.file}:{self.line}:{self.col}: {tag}{self.message}"

    def as_warning(self) -> Problem:
        return Problem(self.file, self.line, self.col, self.message, "warning")


class SpecError(ValueError):
    """Raised when a spec has problems; its text lists every one, one per line."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems) or "invalid spec")

