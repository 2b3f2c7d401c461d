"""The output contract: the JSON object an agent's instructions promise under "Output format".

The seed writes that block as pseudo-JSON (`"critical|high|medium|low"`, `true|false`, `0.0-1.0`), so it is
read line by line into field rules, not with a JSON parser. Downstream nodes compare `severity == "critical"`
and branch on `requires_approval`, so a wrong answer must fail here, loudly, not three nodes later.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

_HEADER = re.compile(r"output\s+format\s*:?", re.I)
_FENCE = re.compile(r"```(?:json|JSON)?\s*\n(.*?)```", re.S)
_FIELD = re.compile(r'^\s*"([^"]+)"\s*:\s*(.*?)\s*,?\s*$')
_RANGE = re.compile(r"^(-?\d+(?:\.\d+)?)\s*-\s*(-?\d+(?:\.\d+)?)$")


@dataclass(frozen=True)
class Rule:
    kind: str  # "enum" | "bool" | "range" | "number" | "string" | "list" | "object" | "any"
    choices: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None

    def describe(self) -> str:
        if self.kind == "enum":
            return "one of " + "|".join(self.choices)
        if self.kind == "range":
            return f"a number from {self.low} to {self.high}"
        return {"bool": "true or false", "list": "a JSON array", "object": "a JSON object"}.get(self.kind, f"a {self.kind}")


@dataclass(frozen=True)
class Contract:
    fields: dict[str, Rule] = field(default_factory=dict)

    def describe(self) -> str:
        return "{" + ", ".join(f'"{k}": {r.describe()}' for k, r in self.fields.items()) + "}"

    def check(self, obj: Any) -> tuple[dict[str, Any] | None, list[str]]:
        """(normalised object, problems). Case of enum values and "true"/"false" strings are normalised."""
        if not isinstance(obj, dict):
            return None, ["the answer is not a JSON object"]
        out = dict(obj)
        problems = []
        for name, rule in self.fields.items():
            if name not in obj:
                problems.append(f"missing field {name!r}")
                continue
            value, problem = _check_value(rule, obj[name])
            if problem:
                problems.append(f"{name!r} {problem} (got {json.dumps(obj[name])[:80]})")
            else:
                out[name] = value
        return (out if not problems else None), problems


def parse(instructions: str) -> Contract | None:
    """The contract in `instructions`, or None when they promise no JSON (free-text agents)."""
    m = _HEADER.search(instructions or "")
    if not m:
        return None
    after = instructions[m.end():]
    fence = _FENCE.search(after)
    block = fence.group(1) if fence else _first_braced(after)
    if not block:
        return None
    fields: dict[str, Rule] = {}
    depth = 0
    for line in block.splitlines():
        if depth == 1:
            fm = _FIELD.match(line)
            if fm:
                fields[fm.group(1)] = _rule(fm.group(2))
        depth += _depth_change(line)
    return Contract(fields) if fields else None


def _rule(raw: str) -> Rule:
    raw = raw.strip().rstrip(",").strip()
    if raw.startswith("["):
        return Rule("list")
    if raw.startswith("{"):
        return Rule("object")
    if raw.startswith('"') and raw.endswith('"') and len(raw) >= 2:
        inner = raw[1:-1]
        if "|" in inner:
            return Rule("enum", tuple(c.strip() for c in inner.split("|")))
        return Rule("string")
    if raw.replace(" ", "") in ("true|false", "false|true", "true", "false", "boolean", "bool"):
        return Rule("bool")
    rm = _RANGE.match(raw)
    if rm:
        return Rule("range", low=float(rm.group(1)), high=float(rm.group(2)))
    if re.fullmatch(r"-?\d+(\.\d+)?", raw):
        return Rule("number")
    return Rule("any")


def _check_value(rule: Rule, v: Any) -> tuple[Any, str | None]:
    if rule.kind == "enum":
        if isinstance(v, str):
            for c in rule.choices:
                if v.strip().lower() == c.lower():
                    return c, None
        return v, f"must be {rule.describe()}"
    if rule.kind == "bool":
        if isinstance(v, bool):
            return v, None
        if isinstance(v, str) and v.strip().lower() in ("true", "false"):
            return v.strip().lower() == "true", None
        return v, "must be true or false"
    if rule.kind in ("range", "number"):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return v, "must be a number"
        if rule.kind == "range" and not (rule.low <= v <= rule.high):  # type: ignore[operator]
            return v, f"must be {rule.describe()}"
        return v, None
    if rule.kind == "string":
        return (v, None) if isinstance(v, str) else (v, "must be a string")
    if rule.kind == "list":
        return (v, None) if isinstance(v, list) else (v, "must be a JSON array")
    if rule.kind == "object":
        return (v, None) if isinstance(v, dict) else (v, "must be a JSON object")
    return v, None


def extract(text: str, contract: Contract | None = None) -> dict[str, Any] | None:
    """The JSON object in a model's answer: whole text, a ```json fence, or an object inside prose.

    Among several candidates, the one naming most contract fields wins (then the longest).
    """
    candidates: list[dict[str, Any]] = []
    stripped = (text or "").strip()
    for chunk in [stripped, *[m.group(1) for m in _FENCE.finditer(stripped)]]:
        try:
            obj = json.loads(chunk)
            if isinstance(obj, dict):
                candidates.append(obj)
        except ValueError:
            pass
    if not candidates:
        decoder = json.JSONDecoder()
        for i, ch in enumerate(stripped):
            if ch != "{":
                continue
            try:
                obj, _end = decoder.raw_decode(stripped, i)
            except ValueError:
                continue
            if isinstance(obj, dict):
                candidates.append(obj)
    if not candidates:
        return None
    names = set(contract.fields) if contract else set()
    return max(candidates, key=lambda o: (len(names & set(o)), len(json.dumps(o))))


def check_answer(text: str, contract: Contract) -> tuple[dict[str, Any] | None, list[str]]:
    obj = extract(text, contract)
    if obj is None:
        return None, ["no JSON object found in the answer"]
    return contract.check(obj)


def repair_prompt(contract: Contract, problems: list[str]) -> str:
    return (
        "Your answer did not match the required output format: "
        + "; ".join(problems)
        + ". Reply with ONLY the corrected JSON object, no prose, with exactly these fields: "
        + contract.describe()
    )


def _first_braced(text: str) -> str | None:
    start = text.find("{")
    if start < 0:
        return None
    depth = 0
    for i in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return text[start : i + 1]
    return None


def _depth_change(line: str) -> int:
    no_strings = re.sub(r'"(?:[^"\\]|\\.)*"', '""', line)
    return sum(no_strings.count(c) for c in "{[") - sum(no_strings.count(c) for c in "}]")
