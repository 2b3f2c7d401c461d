"""Finding `${...}` placeholders in a template: paths, `:-` defaults, and inline expressions.

`$${` writes a literal `${`. A placeholder's text is either a dotted path (`diagnose.output.severity`,
`verify-fix.output`, `event.incident.custom_details.namespace:-default`) or an expression of the
condition language (`${remediate.output.result == "success"}`), which renders as true/false.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from aof_airflow.templating.conditions import Condition, parse_condition
from aof_airflow.templating.errors import TemplateError
from aof_airflow.templating.paths import PATH_RE


@dataclass(frozen=True)
class Placeholder:
    start: int  # offset of `$` in the template
    end: int  # offset just past `}`
    raw: str  # the text between `${` and `}`
    path: tuple[str, ...] | None  # a plain reference ...
    default: str | None
    expression: Condition | None  # ... or an expression

    @property
    def paths(self) -> frozenset[tuple[str, ...]]:
        """Every path this placeholder reads (for validation)."""
        if self.path is not None:
            return frozenset((self.path,))
        return self.expression.paths() if self.expression is not None else frozenset()


@dataclass(frozen=True)
class Literal:
    start: int
    end: int
    text: str


Segment = Literal | Placeholder


def _closing_brace(text: str, i: int) -> int:
    """Index of the `}` closing the placeholder whose body starts at i; quotes may hide braces."""
    quote = None
    while i < len(text):
        c = text[i]
        if quote:
            if c == "\\":
                i += 2
                continue
            if c == quote:
                quote = None
        elif c in "\"'":
            quote = c
        elif c == "}":
            return i
        i += 1
    return -1


def _line_col(text: str, pos: int) -> str:
    line = text.count("\n", 0, pos) + 1
    col = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return f"line {line}, column {col}"


@lru_cache(maxsize=4096)
def segments(template: str) -> tuple[Segment, ...]:
    """Split a template into literal text and placeholders, in order (cached: templates are few)."""
    out: list[Segment] = []
    buf: list[str] = []
    buf_start = 0
    i = 0
    n = len(template)
    while i < n:
        if template.startswith("$${", i):
            buf.append("${")
            i += 3
            continue
        if template.startswith("${", i):
            close = _closing_brace(template, i + 2)
            if close < 0:
                raise TemplateError(f"unclosed '${{' at {_line_col(template, i)}: add the closing '}}'")
            raw = template[i + 2 : close]
            if buf:
                out.append(Literal(buf_start, i, "".join(buf)))
                buf = []
            m = PATH_RE.fullmatch(raw)
            if m:
                out.append(Placeholder(i, close + 1, raw, tuple(m.group(1).split(".")), m.group(2), None))
            elif not raw.strip():
                raise TemplateError(f"empty placeholder '${{}}' at {_line_col(template, i)}")
            else:
                out.append(Placeholder(i, close + 1, raw, None, None, parse_condition(raw)))
            i = close + 1
            buf_start = i
            continue
        buf.append(template[i])
        i += 1
    if buf:
        out.append(Literal(buf_start, n, "".join(buf)))
    return tuple(out)


def placeholders(template: str) -> list[Placeholder]:
    return [s for s in segments(template) if isinstance(s, Placeholder)]
