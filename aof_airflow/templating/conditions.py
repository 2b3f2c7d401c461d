"""The condition language (docs/architecture.md): parsed once into a small tree, evaluated without `eval`.

    expr   := or ;  or := and (OR and)* ;  and := not (AND not)* ;  not := NOT not | cmp
    cmp    := atom ((== | != | < | <= | > | >=) atom)?
    atom   := "str" | 'str' | number | true | false | null | ${path} | dotted.name | ( expr )

Keywords are case-insensitive. Values that came through a shell (Transform exports are strings) compare
with booleans and numbers by parsing them ("true" == true, "3" < 4); any other mix of types is an error,
never a silent False.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Union

from aof_airflow.templating.errors import ConditionError
from aof_airflow.templating.paths import PATH_RE

Resolver = Callable[[tuple[str, ...]], Any]

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<ref>\$\{[^}]*\})
  | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<num>-?\d+(?:\.\d+)?(?![A-Za-z0-9_-]))
  | (?P<op>==|!=|<=|>=|<|>|\(|\))
  | (?P<name>[A-Za-z_][A-Za-z0-9_-]*(?:\.(?:[A-Za-z_][A-Za-z0-9_-]*|[0-9]+))*)
    """,
    re.VERBOSE,
)
_KEYWORDS = {"and", "or", "not", "true", "false", "null", "none"}
_COMPARE = ("==", "!=", "<=", ">=", "<", ">")


@dataclass(frozen=True)
class Lit:
    value: Any


@dataclass(frozen=True)
class Ref:
    path: tuple[str, ...]
    default: str | None = None


@dataclass(frozen=True)
class Not:
    operand: Expr


@dataclass(frozen=True)
class BoolOp:
    op: str  # "and" | "or"
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Compare:
    op: str
    left: Expr
    right: Expr


Expr = Union[Lit, Ref, Not, BoolOp, Compare]


@dataclass(frozen=True)
class Condition:
    text: str
    tree: Expr

    def evaluate(self, resolve: Resolver) -> Any:
        return _eval(self.tree, resolve, self.text)

    def evaluate_bool(self, resolve: Resolver) -> bool:
        return to_bool(self.evaluate(resolve), self.text)

    def paths(self) -> frozenset[tuple[str, ...]]:
        """Every path the condition reads (found once: the tree is immutable)."""
        found = self.__dict__.get("_paths")
        if found is None:
            collected: set[tuple[str, ...]] = set()
            _collect(self.tree, collected)
            found = self.__dict__["_paths"] = frozenset(collected)
        return found

    @property
    def is_literal(self) -> bool:
        return isinstance(self.tree, Lit)


def _tokens(text: str) -> list[tuple[str, str, int]]:
    out, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise ConditionError(f"cannot read {text[pos:pos + 12]!r} at column {pos + 1} of condition {text!r}")
        kind = m.lastgroup or ""
        if kind != "ws":
            out.append((kind, m.group(), pos))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> tuple[str, str, int] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def keyword(self, word: str) -> bool:
        t = self.peek()
        if t and t[0] == "name" and t[1].lower() == word:
            self.i += 1
            return True
        return False

    def fail(self, what: str) -> ConditionError:
        t = self.peek()
        where = f"at column {t[2] + 1} ({t[1]!r})" if t else "at the end"
        return ConditionError(f"{what} {where} in condition {self.text!r}")

    def parse(self) -> Expr:
        if not self.toks:
            raise ConditionError("empty condition")
        tree = self.or_()
        if self.peek():
            raise self.fail("unexpected token")
        return tree

    def or_(self) -> Expr:
        left = self.and_()
        while self.keyword("or"):
            left = BoolOp("or", left, self.and_())
        return left

    def and_(self) -> Expr:
        left = self.not_()
        while self.keyword("and"):
            left = BoolOp("and", left, self.not_())
        return left

    def not_(self) -> Expr:
        if self.keyword("not"):
            return Not(self.not_())
        return self.compare()

    def compare(self) -> Expr:
        left = self.atom()
        t = self.peek()
        if t and t[0] == "op" and t[1] in _COMPARE:
            self.i += 1
            return Compare(t[1], left, self.atom())
        return left

    def atom(self) -> Expr:
        t = self.peek()
        if t is None:
            raise self.fail("expected a value")
        kind, text, _ = t
        self.i += 1
        if kind == "str":
            return Lit(_unescape(text[1:-1]))
        if kind == "num":
            return Lit(float(text) if "." in text else int(text))
        if kind == "ref":
            m = PATH_RE.fullmatch(text[2:-1])
            if not m:
                raise ConditionError(f"{text} is not a reference (a dotted path) in condition {self.text!r}")
            return Ref(tuple(m.group(1).split(".")), m.group(2))
        if kind == "name":
            low = text.lower()
            if low in ("true", "false"):
                return Lit(low == "true")
            if low in ("null", "none"):
                return Lit(None)
            if low in _KEYWORDS:
                self.i -= 1
                raise self.fail("expected a value")
            return Ref(tuple(text.split(".")))
        if text == "(":
            inner = self.or_()
            t = self.peek()
            if not t or t[1] != ")":
                raise self.fail("expected ')'")
            self.i += 1
            return inner
        self.i -= 1
        raise self.fail("expected a value")


@lru_cache(maxsize=4096)
def parse_condition(text: str) -> Condition:
    """Parse once; the tree is immutable and shared between evaluations."""
    return Condition(text, _Parser(text).parse())


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r"}


def _unescape(body: str) -> str:
    """Backslash escapes of a quoted literal, the same for '...' and "..."."""
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), body, flags=re.DOTALL)


# ------------------------------------------------------------------------------------- evaluation


def to_bool(value: Any, text: str = "") -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ConditionError(f"expected true or false, got {_show(value)} in condition {text!r}")


def _show(v: Any) -> str:
    return f"{type(v).__name__} {v!r}" if v is not None else "null"


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _as_number(v: str) -> int | float | None:
    try:
        return int(v)
    except ValueError:
        try:
            return float(v)
        except ValueError:
            return None


def _coerce(a: Any, b: Any, op: str, text: str) -> tuple[Any, Any]:
    """Bring two operands to one type, or refuse: a mismatch is the author's bug, not False."""
    if type(a) is type(b) or (_is_num(a) and _is_num(b)):
        return a, b
    if op in ("==", "!=") and (a is None or b is None):
        return a, b
    for x, y, flip in ((a, b, False), (b, a, True)):
        if isinstance(x, str):
            conv: Any = None
            if isinstance(y, bool) and x.strip().lower() in ("true", "false"):
                conv = x.strip().lower() == "true"
            elif _is_num(y):
                conv = _as_number(x.strip())
            if conv is not None:
                return (y, conv) if flip else (conv, y)
    raise ConditionError(f"cannot compare {_show(a)} {op} {_show(b)} in condition {text!r}")


def _eval(node: Expr, resolve: Resolver, text: str) -> Any:
    if isinstance(node, Lit):
        return node.value
    if isinstance(node, Ref):
        if node.default is not None:
            try:
                v = resolve(node.path)
            except ConditionError:
                raise
            except LookupError:
                return node.default
            return node.default if v in (None, "") else v
        return resolve(node.path)
    if isinstance(node, Not):
        return not to_bool(_eval(node.operand, resolve, text), text)
    if isinstance(node, BoolOp):
        left = to_bool(_eval(node.left, resolve, text), text)
        if node.op == "and" and not left:
            return False
        if node.op == "or" and left:
            return True
        return to_bool(_eval(node.right, resolve, text), text)
    a, b = _coerce(_eval(node.left, resolve, text), _eval(node.right, resolve, text), node.op, text)
    if node.op == "==":
        return a == b
    if node.op == "!=":
        return a != b
    if a is None or b is None or isinstance(a, (bool, dict, list)) or not (isinstance(a, str) or _is_num(a)):
        raise ConditionError(f"cannot order {_show(a)} {node.op} {_show(b)} in condition {text!r}")
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[node.op]


def _collect(node: Expr, out: set[tuple[str, ...]]) -> None:
    if isinstance(node, Ref):
        out.add(node.path)
    elif isinstance(node, Not):
        _collect(node.operand, out)
    elif isinstance(node, (BoolOp, Compare)):
        _collect(node.left, out)
        _collect(node.right, out)
