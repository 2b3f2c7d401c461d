"""YAML text -> plain Python data plus a side table of line/column for every key and value.

Why not `yaml.safe_load`: it forgets where things were (so errors could not name a line) and lets the
last of two equal keys win silently. The seed repeats `to:` inside one `connections` entry and means a
fan-out, so here a repeated `to:` there becomes a list (with a warning); any other repeated key is an
error. Scanning/parsing/composing runs in libyaml when PyYAML was built with it; building the Python
values from the composed node tree is our own walk, which is where positions and duplicates are seen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from aof_airflow.spec.problems import Problem

Path_ = tuple[Any, ...]  # a path into the data: mapping keys and list indexes, like pydantic's `loc`
Mark = tuple[int, int]  # (line, column), both 1-based

_BaseLoader = yaml.CSafeLoader if getattr(yaml, "__with_libyaml__", False) else yaml.SafeLoader

_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_STR_TAG = "tag:yaml.org,2002:str"
FAN_OUT_KEY = "to"


_SCALAR_TAGS: dict[tuple[str, tuple[bool, bool]], str] = {}  # (value, implicit) -> tag: keys and words repeat


class MarkedLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """Safe loader (libyaml-backed when available); only used to compose nodes and build scalars."""

    def resolve(self, kind: type, value: Any, implicit: Any) -> str:
        """The implicit tag of a scalar depends on its text alone (no path resolvers here): remembered."""
        if kind is not ScalarNode:
            return super().resolve(kind, value, implicit)
        key = (value, implicit)
        tag = _SCALAR_TAGS.get(key)
        if tag is None:
            tag = super().resolve(kind, value, implicit)
            if len(value) <= 64 and len(_SCALAR_TAGS) < 65536:
                _SCALAR_TAGS[key] = tag
        return tag


USING_LIBYAML = _BaseLoader is not yaml.SafeLoader


@dataclass
class Positions:
    """Where each value and each mapping key of one document sits in its file."""

    values: dict[Path_, Mark] = field(default_factory=dict)
    keys: dict[Path_, Mark] = field(default_factory=dict)
    # strings holding `${`: (line, col, style, block indent), to point inside them (see `locate_in`)
    templates: dict[Path_, tuple[int, int, str | None, int]] = field(default_factory=dict)

    def locate(self, loc: Path_, *, key: bool = False) -> Mark:
        """Position of `loc` (the key itself when `key`), else of its nearest enclosing value."""
        loc = tuple(loc)
        if key and loc in self.keys:
            return self.keys[loc]
        while loc:
            if loc in self.values:
                return self.values[loc]
            loc = loc[:-1]
        return self.values.get((), (1, 1))

    def locate_in(self, loc: Path_, text: str, offset: int) -> Mark:
        """Position of character `offset` of the string value at `loc`: exact for literal blocks (`|`)
        and single-line scalars; the start of the value for folded or multi-line flow scalars."""
        loc = tuple(loc)
        origin = self.templates.get(loc)
        if origin is None:
            return self.locate(loc)
        line, col, style, indent = origin
        before = text[:offset]
        if style == "|":
            nl = before.rfind("\n")
            return (line + 1 + before.count("\n"), indent + 1 + offset - (nl + 1))
        if "\n" in before or style == ">":
            return (line, col)
        return (line, col + offset + (1 if style in ("'", '"') else 0))


@dataclass
class MarkedDocument:
    data: Any
    positions: Positions
    problems: list[Problem]
    warnings: list[Problem]


def _mark(node: Node) -> Mark:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


def _is_connection_entry(path: Path_) -> bool:
    return len(path) == 3 and path[0] == "spec" and path[1] == "connections" and isinstance(path[2], int)


class _Builder:
    """Builds one document's data from its node tree, recording positions and duplicate keys."""

    def __init__(self, loader: MarkedLoader, filename: str, lines: list[str]) -> None:
        self.loader = loader
        self.lines = lines
        self.filename = filename
        self.positions = Positions()
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []
        self._active: set[int] = set()  # nodes being built: an alias back into one of them is a loop

    def problem(self, mark: Mark, message: str, severity: str = "error") -> None:
        p = Problem(self.filename, mark[0], mark[1], message, severity)  # type: ignore[arg-type]
        (self.warnings if severity == "warning" else self.problems).append(p)

    def build(self, node: Node, path: Path_) -> Any:
        mark = node.start_mark
        self.positions.values[path] = (mark.line + 1, mark.column + 1)
        if type(node) is ScalarNode:
            value = node.value if node.tag == _STR_TAG else self._scalar(node)
            if isinstance(value, str) and "${" in value:
                self._template_origin(node, path)
            return value
        if id(node) in self._active:
            self.problem(_mark(node), "an alias refers back to a node that contains it (recursive structure)")
            return None
        if isinstance(node, SequenceNode) and node.tag == _SEQ_TAG:
            self._active.add(id(node))
            try:
                return [self.build(child, path + (i,)) for i, child in enumerate(node.value)]
            finally:
                self._active.discard(id(node))
        if isinstance(node, MappingNode) and node.tag == _MAP_TAG:
            self._active.add(id(node))
            try:
                return self._mapping(node, path)
            finally:
                self._active.discard(id(node))
        return self.loader.construct_object(node, deep=True)  # other standard tags (!!set, !!omap, ...)

    def _template_origin(self, node: ScalarNode, path: Path_) -> None:
        line, col = _mark(node)
        indent = 0
        if node.style in ("|", ">"):
            for raw in self.lines[line:]:  # content starts on the line after the indicator
                if raw.strip():
                    indent = len(raw) - len(raw.lstrip(" "))
                    break
        self.positions.templates[path] = (line, col, node.style, indent)

    def _scalar(self, node: ScalarNode) -> Any:
        """Plain strings (most of a spec) straight from the node; other tags through PyYAML's constructors."""
        if node.tag == _STR_TAG:
            return node.value
        constructor = self.loader.yaml_constructors.get(node.tag)
        if constructor is None:
            return self.loader.construct_object(node, deep=True)  # raises PyYAML's "could not determine" error
        return constructor(self.loader, node)

    def _key(self, key_node: Node) -> Any:
        key = self._scalar(key_node) if isinstance(key_node, ScalarNode) else None
        if not isinstance(key, str):
            shown = key_node.value if isinstance(key_node, ScalarNode) else key_node.id
            self.problem(_mark(key_node), f"key {shown!r} is not a string (YAML reads it as "
                         f"{type(key).__name__}): put it in quotes")
            return None
        return key

    def _mapping(self, node: MappingNode, path: Path_) -> dict[str, Any]:
        merges = [v for k, v in node.value if k.tag == _MERGE_TAG]
        out: dict[str, Any] = self._merged(merges, path) if merges else {}
        first_seen: dict[str, Mark] = {}
        fanned: list[Mark] = []
        fan_out_here = _is_connection_entry(path)
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            key = key_node.value if key_node.tag == _STR_TAG and type(key_node) is ScalarNode else self._key(key_node)
            if key is None:
                continue
            kpath = path + (key,)
            kmark = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            if key not in first_seen:
                first_seen[key] = kmark
                self.positions.keys[kpath] = kmark
                out[key] = self.build(value_node, kpath)
            elif fan_out_here and key == FAN_OUT_KEY:
                fanned.append(kmark)
                out[key] = self._extend_fan_out(out[key], value_node, kpath)
            else:
                line = first_seen[key][0]
                self.problem(kmark, f"duplicate key `{key}` (first at line {line}): a mapping may not repeat "
                             f"a key; remove one of them")
        if fanned:
            targets = ", ".join(str(t) for t in out[FAN_OUT_KEY])
            for kmark in fanned:
                self.problem(kmark, f"repeated `to:` key in one connection is read as a fan-out to "
                             f"[{targets}]; write `to: [{targets}]` to say so", "warning")
        self.positions.values[path] = _mark(node)
        return out

    def _merged(self, merges: list[Node], path: Path_) -> dict[str, Any]:
        """YAML `<<: *anchor` merge keys, built first so keys written explicitly override them."""
        out: dict[str, Any] = {}
        for merged in merges:
            for src in merged.value if isinstance(merged, SequenceNode) else [merged]:
                if not isinstance(src, MappingNode):
                    self.problem(_mark(src), "a `<<` merge needs a mapping (or a list of mappings)")
                    continue
                value = self.build(src, path)
                if isinstance(value, dict):
                    for k, v in value.items():
                        out.setdefault(k, v)
        return out

    def _extend_fan_out(self, current: Any, value_node: Node, kpath: Path_) -> list[Any]:
        """`to: a` then `to: b` (or lists) -> [a, b]; every item keeps its own position."""
        targets = current if isinstance(current, list) else [current]
        if not isinstance(current, list):
            # the first `to:` was a scalar: its position becomes item 0's
            self.positions.values[kpath + (0,)] = self.positions.values[kpath]
        items = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
        for item in items:
            targets.append(self.build(item, kpath + (len(targets),)))
        return targets


def parse_documents(text: str, filename: str) -> tuple[list[MarkedDocument], list[Problem]]:
    """All documents of a `---`-separated stream; a syntax error ends the stream with one Problem."""
    loader = MarkedLoader(text)
    lines = text.splitlines()
    docs: list[MarkedDocument] = []
    try:
        while loader.check_node():
            root = loader.get_node()
            b = _Builder(loader, filename, lines)
            data = b.build(root, ())
            docs.append(MarkedDocument(data, b.positions, b.problems, b.warnings))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = exc.problem or "invalid YAML"
        if exc.context:
            what += f" ({exc.context})"
        return docs, [Problem(filename, line, col, f"YAML syntax error: {what}")]
    except yaml.YAMLError as exc:
        return docs, [Problem(filename, 1, 1, f"YAML error: {exc}")]
    finally:
        loader.dispose()
    return docs, []
