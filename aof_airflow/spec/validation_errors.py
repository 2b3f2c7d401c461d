"""pydantic `ValidationError` -> `Problem`s at the YAML line of the offending key or value.

pydantic's `loc` also names union members (`'Agent'` for a node, `'str'` for `str | bool`) that are
not keys of the data; walking the data along `loc` drops those, which leaves the path the YAML has.
Unknown keys get the nearest known key as a suggestion, found by following the model classes along
the same path.
"""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any, Iterable, Union

from pydantic import BaseModel, ValidationError

from aof_airflow.spec.marked_yaml import Path_, Positions
from aof_airflow.spec.nodes import UNSUPPORTED as UNSUPPORTED_NODE_TYPES
from aof_airflow.spec.problems import Problem

_DISCRIMINATORS = ("type", "kind")


def data_path(data: Any, loc: Iterable[Any]) -> Path_:
    """The part of pydantic's `loc` that exists in `data` (union-member labels removed)."""
    out: list[Any] = []
    cur = data
    for el in loc:
        if isinstance(cur, dict) and el in cur:
            out.append(el)
            cur = cur[el]
        elif isinstance(cur, list) and isinstance(el, int) and 0 <= el < len(cur):
            out.append(el)
            cur = cur[el]
        elif isinstance(cur, dict) and isinstance(el, str) and not _is_member_label(el):
            out.append(el)  # a key that is missing or unknown: still part of the path
            cur = None
    return tuple(out)


def _is_member_label(el: str) -> bool:
    # pydantic labels union branches by tag ('Agent') or type ('str', 'dict[str,any]', 'function-after[...]')
    return el[:1].isupper() or el in {"str", "bool", "int", "float", "list", "dict", "none"} or "[" in el


def suggest(word: str, known: Iterable[str]) -> str:
    """' (did you mean `x`?)' for the nearest known name, or the list of known names."""
    known = sorted(set(known))
    close = difflib.get_close_matches(word, known, n=1, cutoff=0.6)
    if close:
        return f"; did you mean `{close[0]}`?"
    return f"; known: {', '.join(known)}" if known else ""


# ---------------------------------------------------------------- which model sits at a data path


def _yaml_fields(model: type[BaseModel]) -> dict[str, Any]:
    """Keys as written in YAML (aliases) -> annotation."""
    return {(f.alias or name): f.annotation for name, f in model.model_fields.items()}


def _unwrap(tp: Any, value: Any) -> Any:
    """Peel Annotated/Optional/Union down to the one type that `value` is meant to be."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
            continue
        if origin is Union or origin is types.UnionType:
            members = [a for a in typing.get_args(tp) if a is not type(None)]
            tp = _pick_member(members, value)
            continue
        return tp


def _pick_member(members: list[Any], value: Any) -> Any:
    models = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
    if isinstance(value, dict) and models:
        for m in models:
            for disc in _DISCRIMINATORS:
                f = m.model_fields.get(disc)
                if f is not None and value.get(disc) in typing.get_args(f.annotation):
                    return m
        return models[0]
    return members[0] if members else Any


def model_at(root: type[BaseModel], data: Any, path: Path_) -> type[BaseModel] | None:
    """The model class whose fields are the keys allowed at `path` (None when it is not a model)."""
    tp: Any = root
    cur = data
    for el in path:
        tp = _unwrap(tp, cur)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            tp = _yaml_fields(tp).get(el)
            if tp is None:
                return None
        elif typing.get_origin(tp) is list:
            tp = typing.get_args(tp)[0]
        elif typing.get_origin(tp) is dict:
            tp = typing.get_args(tp)[1]
        else:
            return None
        cur = cur[el] if isinstance(cur, (dict, list)) and _has(cur, el) else None
    tp = _unwrap(tp, cur)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _has(container: Any, el: Any) -> bool:
    if isinstance(container, dict):
        return el in container
    return isinstance(el, int) and 0 <= el < len(container)


# ------------------------------------------------------------------------------------ the mapping


def describe(data: Any, path: Path_) -> str:
    """A readable name for a path: `node diagnose: config.agent` rather than spec.nodes[1]..."""
    if len(path) >= 3 and path[:2] == ("spec", "nodes") and isinstance(path[2], int):
        node = _get(data, path[:3])
        ident = node.get("id") if isinstance(node, dict) else None
        head = f"node `{ident}`" if isinstance(ident, str) else f"node #{path[2] + 1}"
        rest = _dotted(path[3:])
        return f"{head}: {rest}" if rest else head
    return _dotted(path) or "document"


def _dotted(path: Path_) -> str:
    s = ""
    for el in path:
        s += f"[{el}]" if isinstance(el, int) else (f".{el}" if s else str(el))
    return s


def _get(data: Any, path: Path_) -> Any:
    for el in path:
        if not isinstance(data, (dict, list)) or not _has(data, el):
            return None
        data = data[el]
    return data


def problems_from(exc: ValidationError, root: type[BaseModel], data: Any, positions: Positions,
                  filename: str) -> list[Problem]:
    """One Problem per distinct location; several union-branch complaints about one value are merged."""
    grouped: dict[tuple[Path_, str], list[str]] = {}
    marks: dict[tuple[Path_, str], tuple[int, int]] = {}
    for err in exc.errors(include_url=False):
        path = data_path(data, err["loc"])
        kind = err["type"]
        if kind == "extra_forbidden":
            model = model_at(root, data, path[:-1])
            known = _yaml_fields(model).keys() if model else ()
            msg = f"unknown key `{path[-1]}` in {describe(data, path[:-1])}{suggest(str(path[-1]), known)}"
            key, mark = (path, "extra"), positions.locate(path, key=True)
        elif kind == "missing":
            msg = f"{describe(data, path[:-1])}: missing required key `{path[-1]}`"
            key, mark = (path, "missing"), positions.locate(path[:-1])
        elif kind in ("union_tag_invalid", "union_tag_not_found"):
            disc = err["ctx"]["discriminator"].strip("'\"")
            expected = [t.strip(" '") for t in err["ctx"].get("expected_tags", "").split(",") if t.strip()]
            if kind == "union_tag_invalid":
                tag = err["ctx"]["tag"]
                msg = f"{describe(data, path)}: unknown {disc} `{tag}`{suggest(tag, expected)}"
                if disc == "type" and tag in UNSUPPORTED_NODE_TYPES:
                    msg = (f"{describe(data, path)}: node type `{tag}` is AOF's, but aof-airflow cannot run it: "
                           f"{UNSUPPORTED_NODE_TYPES[tag]}; supported types: {', '.join(sorted(expected))}")
                key, mark = (path, "tag"), positions.locate(path + (disc,))
            else:
                msg = f"{describe(data, path)}: missing `{disc}` (it selects what this entry is)"
                key, mark = (path, "tag"), positions.locate(path)
        else:
            msg = _value_message(err, data, path)
            key, mark = (path, "value"), positions.locate(path)
        grouped.setdefault(key, [])
        if msg not in grouped[key]:
            grouped[key].append(msg)
        marks[key] = mark
    out = []
    for key, msgs in grouped.items():
        text = _merge_alternatives(msgs, describe(data, key[0]) + ": ")
        line, col = marks[key]
        out.append(Problem(filename, line, col, text))
    return sorted(out)


def _merge_alternatives(msgs: list[str], prefix: str) -> str:
    """Union branches each complain about one value: 'X: Input should be a, or b, or c'."""
    if len(msgs) == 1:
        return msgs[0]
    shoulds = "Input should be "
    bodies = [m[len(prefix):] if m.startswith(prefix) else m for m in msgs]
    if all(b.startswith(shoulds) for b in bodies):
        alts = [b[len(shoulds):].split(" (YAML read", 1)[0] for b in bodies]
        return f"{prefix}{shoulds}{', or '.join(alts)}"
    return prefix + "; or ".join(bodies)


# What a pattern means, for the fields whose regex alone would not tell a user how to fix the value.
PATTERN_HINTS = {
    ("spec", "model"): "write `provider:model`, e.g. `anthropic:claude-3-5-sonnet-20241022` or `openai:gpt-4`",
    ("metadata", "name"): "use lowercase letters, digits, `-`, `_` and `.`, starting and ending with a letter "
                          "or digit",
    ("id",): "use letters, digits, `-` and `_`, starting with a letter or digit",
    ("config", "path"): "write an absolute URL path such as `/pagerduty/webhook`",
}


def _pattern_hint(path: Path_) -> str | None:
    for suffix, hint in PATTERN_HINTS.items():
        if tuple(path[-len(suffix):]) == suffix:
            return hint
    return None


def _value_message(err: dict[str, Any], data: Any, path: Path_) -> str:
    msg = err["msg"]
    if err["type"] == "string_pattern_mismatch" and (hint := _pattern_hint(path)):
        msg = f"{err.get('input')!r} is not valid here: {hint}"
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    value = err.get("input")
    if err["type"] == "string_type" and isinstance(value, (bool, int, float)) or (
        err["type"] == "string_type" and type(value).__name__ in {"date", "datetime"}
    ):
        msg += f" (YAML read this as {type(value).__name__}: put it in quotes)"
    return f"{describe(data, path)}: {msg}"
