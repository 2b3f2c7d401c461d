"""YAML text -> plain Python data plus a side table of line/column for every key and value.

Why not `yaml.safe_load`: it forgets where things were (so errors could not name a line) and lets the
last of two equal keys win silently. The seed repeats `to:` inside one `connections` entry and means a
fan-out, so here a repeated `to:` there becomes a list (with a warning); any other repeated key is an
error. Scanning and parsing run in libyaml when PyYAML was built with it; building the Python values from
its event stream is our own loop (no node tree in between), which is where positions and duplicates are seen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError
from yaml.events import (
    AliasEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
)
from yaml.nodes import ScalarNode

from aof_airflow.spec.problems import Problem

Path_ = tuple[Any, ...]  # a path into the data: mapping keys and list indexes, like pydantic's `loc`
Mark = tuple[int, int]  # (line, column), both 1-based

# the safe loader (libyaml's when PyYAML has it): its event stream, its resolver and its scalar constructors
Loader = yaml.CSafeLoader if getattr(yaml, "__with_libyaml__", False) else yaml.SafeLoader

_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_STR_TAG = "tag:yaml.org,2002:str"
FAN_OUT_KEY = "to"


# first characters some implicit resolver (null, bool, int, float, timestamp, merge, ...) looks at: plain text
# starting with any other character is a string without asking the resolver
_TYPED_FIRST = frozenset(Loader.yaml_implicit_resolvers)
_SCALAR_TAGS: dict[tuple[str, tuple[bool, bool]], str] = {}  # (text, implicit) -> tag: keys and words repeat


def _scalar_tag(loader: Loader, value: str, implicit: tuple[bool, bool]) -> str:
    """The implicit tag of a scalar depends on its text alone (no path resolvers here): remembered."""
    key = (value, implicit)
    tag = _SCALAR_TAGS.get(key)
    if tag is None:
        tag = loader.resolve(ScalarNode, value, implicit)
        if len(value) <= 64 and len(_SCALAR_TAGS) < 65536:
            _SCALAR_TAGS[key] = tag
    return tag


USING_LIBYAML = Loader is not yaml.SafeLoader


@dataclass(eq=False)
class Positions:
    """Where each value and each mapping key of one document sits in its file (equal when the tables are,
    whether they were read with the data or on demand)."""

    values: dict[Path_, Mark] = field(default_factory=dict)
    keys: dict[Path_, Mark] = field(default_factory=dict)
    # strings holding `${`: (line, col, style, block indent), to point inside them (see `locate_in`)
    templates: dict[Path_, tuple[int, int, str | None, int]] = field(default_factory=dict)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Positions):
            return NotImplemented
        return (self.values, self.keys, self.templates) == (other.values, other.keys, other.templates)

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


def _mark(mark: Any) -> Mark:
    return (mark.line + 1, mark.column + 1)


def _is_connection_entry(path: Path_) -> bool:
    return len(path) == 3 and path[0] == "spec" and path[1] == "connections" and isinstance(path[2], int)


Entries = list[tuple[Path_, Any]]  # (path, mark or template origin), in the order they were read


@dataclass
class _Logs:
    """What a stretch of the stream recorded: positions of values and keys, and template origins."""

    values: Entries = field(default_factory=list)
    keys: Entries = field(default_factory=list)
    templates: Entries = field(default_factory=list)

    def since(self, start: tuple[int, int, int]) -> _Logs:
        return _Logs(self.values[start[0]:], self.keys[start[1]:], self.templates[start[2]:])

    def cut(self, start: tuple[int, int, int]) -> _Logs:
        """Remove (and return) what was recorded since `start`."""
        taken = self.since(start)
        del self.values[start[0]:], self.keys[start[1]:], self.templates[start[2]:]
        return taken

    def at(self) -> tuple[int, int, int]:
        return (len(self.values), len(self.keys), len(self.templates))

    def add(self, other: _Logs, old: Path_, new: Path_, keep: Callable[[Path_], bool] = lambda rel: True) -> None:
        """`other`'s entries under `old`, moved to `new` (those whose path below `old` passes `keep`)."""
        n = len(old)
        for mine, theirs in ((self.values, other.values), (self.keys, other.keys),
                             (self.templates, other.templates)):
            mine.extend((new + p[n:], m) for p, m in theirs if p[:n] == old and keep(p[n:]))


@dataclass
class _Anchor:
    value: Any
    path: Path_
    logs: _Logs | None  # None while the anchored node is still being read (an alias to it is a loop)
    mark: Mark


class _ReadAgain(Exception):
    """The quick read met an anchor, an alias or a merge key: the file is read again with positions."""


class _Builder:
    """Builds one document's data from its event stream, finding duplicate keys; with `record`, also the
    position of every key and value (without, anchors, aliases and merge keys are left to a recording read)."""

    def __init__(self, loader: Loader, filename: str, lines: list[str], record: bool) -> None:
        self.record = record
        self.loader = loader
        self.get = loader.get_event
        self.lines = lines
        self.filename = filename
        self.logs = _Logs()
        self.anchors: dict[str, _Anchor] = {}
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []

    def positions(self) -> Positions:
        return Positions(dict(self.logs.values), dict(self.logs.keys), dict(self.logs.templates))

    def problem(self, mark: Mark, message: str, severity: str = "error") -> None:
        p = Problem(self.filename, mark[0], mark[1], message, severity)  # type: ignore[arg-type]
        (self.warnings if severity == "warning" else self.problems).append(p)

    def build(self, event: Any, path: Path_) -> Any:
        """The value whose first event is `event` (already taken from the stream), read at `path`."""
        kind = type(event)
        if kind is AliasEvent:
            return self._alias(event, path)
        anchor = event.anchor
        if anchor is not None:
            start = self._open(anchor, event, path)
        if kind is ScalarEvent:
            value = self._scalar(event, path)
        elif kind is MappingStartEvent:
            value = self._mapping(event, path)
        else:
            value = self._sequence(event, path)
        if anchor is not None:
            a = self.anchors[anchor]
            a.value, a.logs = value, self.logs.since(start)
        return value

    def _open(self, anchor: str, event: Any, path: Path_) -> tuple[int, int, int]:
        if not self.record:
            raise _ReadAgain
        first = self.anchors.get(anchor)
        if first is not None:
            raise ComposerError("found duplicate anchor; first occurrence", _yaml_mark(first.mark),
                                "second occurrence", event.start_mark)
        self.anchors[anchor] = _Anchor(None, path, None, _mark(event.start_mark))
        return self.logs.at()

    def _alias(self, event: Any, path: Path_) -> Any:
        if not self.record:
            raise _ReadAgain
        a = self.anchors.get(event.anchor)
        if a is None:
            raise ComposerError(None, None, "found undefined alias", event.start_mark)
        if a.logs is None:
            self.logs.values.append((path, a.mark))
            self.problem(a.mark, "an alias refers back to a node that contains it (recursive structure)")
            return None
        self.logs.add(a.logs, a.path, path)  # the aliased node's positions, read again where it is used
        return _copy(a.value)

    def _scalar(self, event: Any, path: Path_) -> Any:
        mark: Mark | None = None
        if self.record:
            m = event.start_mark
            mark = (m.line + 1, m.column + 1)
            self.logs.values.append((path, mark))
        value, tag = event.value, event.tag
        if tag is None and (not event.implicit[0] or value[:1] not in _TYPED_FIRST):
            tag = _STR_TAG  # quoted, or plain text no implicit resolver claims (most of a spec)
        elif tag is None or tag == "!":
            tag = _scalar_tag(self.loader, value, event.implicit)
        if tag == _STR_TAG:
            if mark is not None and "${" in value:
                self._template_origin(mark, event.style, path)
            return value
        node = ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
        constructor = self.loader.yaml_constructors.get(tag)
        if constructor is None:
            return self.loader.construct_object(node, deep=True)  # raises PyYAML's "could not determine" error
        return constructor(self.loader, node)

    def _template_origin(self, mark: Mark, style: str | None, path: Path_) -> None:
        line, col = mark
        indent = 0
        if style in ("|", ">"):
            for raw in self.lines[line:]:  # content starts on the line after the indicator
                if raw.strip():
                    indent = len(raw) - len(raw.lstrip(" "))
                    break
        self.logs.templates.append((path, (line, col, style, indent)))

    def _check_tag(self, event: Any, plain: str, what: str) -> None:
        if event.tag not in (None, "!", plain):
            raise ConstructorError(None, None, f"the tag {event.tag!r} on a {what} is not read here: write a "
                                               f"plain {what}", event.start_mark)

    def _sequence(self, event: Any, path: Path_) -> list[Any]:
        self._check_tag(event, _SEQ_TAG, "list")
        if self.record:
            self.logs.values.append((path, _mark(event.start_mark)))
        out: list[Any] = []
        get = self.get
        while True:
            item = get()
            if type(item) is SequenceEndEvent:
                return out
            item_path = path + (len(out),)
            out.append(self._scalar(item, item_path) if type(item) is ScalarEvent and item.anchor is None
                       else self.build(item, item_path))

    def _key(self, event: Any) -> Any:
        """The key's text; `_MERGE` for `<<`; None (after saying why) when it is not a string."""
        kind = type(event)
        if kind is ScalarEvent and event.anchor is None:
            tag = event.tag
            if tag is None or tag == "!":
                tag = _scalar_tag(self.loader, event.value, event.implicit)
            if tag == _STR_TAG:
                return event.value
            if tag == _MERGE_TAG:
                return _MERGE
        start = self.logs.at()
        n = len(self.problems)
        key = self.build(event, ())
        self.logs.cut(start)
        del self.problems[n:]
        if isinstance(key, str):
            return key
        shown = event.value if kind is ScalarEvent else (key if kind is AliasEvent else
                                                          "mapping" if kind is MappingStartEvent else "sequence")
        self.problem(_mark(event.start_mark), f"key {shown!r} is not a string (YAML reads it as "
                     f"{type(key if kind is ScalarEvent or kind is AliasEvent else None).__name__}): put it in quotes")
        return None

    def _skip(self, event: Any) -> None:
        """Read a value that is not kept (its key was refused): anchors in it still count."""
        start = self.logs.at()
        counts = len(self.problems), len(self.warnings)
        self.build(event, ())
        self.logs.cut(start)
        del self.problems[counts[0]:], self.warnings[counts[1]:]

    def _mapping(self, event: Any, path: Path_) -> dict[str, Any]:
        self._check_tag(event, _MAP_TAG, "mapping")
        record = self.record
        if record:
            self.logs.values.append((path, _mark(event.start_mark)))
        out: dict[str, Any] = {}
        first_seen: dict[str, Any] = {}  # key -> its key event (the first time)
        fanned: list[Mark] = []
        merges: list[tuple[Any, Path_, _Logs]] = []
        fan_out_here = _is_connection_entry(path)
        get, keys = self.get, self.logs.keys
        while True:
            key_event = get()
            if type(key_event) is MappingEndEvent:
                break
            if (type(key_event) is ScalarEvent and key_event.tag is None and key_event.anchor is None
                    and (not key_event.implicit[0] or key_event.value[:1] not in _TYPED_FIRST
                         or _SCALAR_TAGS.get((key_event.value, key_event.implicit)) == _STR_TAG)):
                key = key_event.value  # text: the common case, without a call
            else:
                key = self._key(key_event)
            if key is _MERGE:
                if not record:
                    raise _ReadAgain
                start, at = self.logs.at(), path + (MERGE_KEY,)
                value = self.build(get(), at)
                merges.append((value, at, self.logs.cut(start)))
                continue
            value_event = get()
            if key is None:
                self._skip(value_event)
                continue
            kpath = path + (key,)
            if key not in first_seen:
                first_seen[key] = key_event
                if record:
                    keys.append((kpath, _mark(key_event.start_mark)))
                out[key] = (self._scalar(value_event, kpath) if type(value_event) is ScalarEvent
                            and value_event.anchor is None else self.build(value_event, kpath))
            elif fan_out_here and key == FAN_OUT_KEY:
                fanned.append(_mark(key_event.start_mark))
                out[key] = self._extend_fan_out(out[key], value_event, kpath)
            else:
                first = first_seen[key].start_mark.line + 1
                self.problem(_mark(key_event.start_mark), f"duplicate key `{key}` (first at line {first}): a "
                                                          f"mapping may not repeat a key; remove one of them")
                self._skip(value_event)
        if merges:
            out = self._merged(out, merges, path)
        if fanned:
            targets = ", ".join(str(t) for t in out[FAN_OUT_KEY])
            for kmark in fanned:
                self.problem(kmark, f"repeated `to:` key in one connection is read as a fan-out to "
                             f"[{targets}]; write `to: [{targets}]` to say so", "warning")
        return out

    def _merged(self, explicit: dict[str, Any], merges: list[tuple[Any, Path_, _Logs]], path: Path_) -> dict[str, Any]:
        """YAML `<<: *anchor` merge keys: keys written explicitly win, then the first merged mapping that has
        the key (the value and its positions both come from there)."""
        out: dict[str, Any] = {}
        for value, at, logs in merges:
            sources = [(v, at + (i,)) for i, v in enumerate(value)] if isinstance(value, list) else [(value, at)]
            for src, src_path in sources:
                if not isinstance(src, dict):
                    mark = next((m for p, m in logs.values if p == src_path), (1, 1))
                    self.problem(mark, "a `<<` merge needs a mapping (or a list of mappings)")
                    continue
                new = [k for k in src if k not in out and k not in explicit]
                for k in new:
                    out[k] = src[k]
                taken = set(new)
                self.logs.add(logs, src_path, path, lambda rel: bool(rel) and rel[0] in taken)
        out.update(explicit)
        return out

    def _extend_fan_out(self, current: Any, value_event: Any, kpath: Path_) -> list[Any]:
        """`to: a` then `to: b` (or lists) -> [a, b]; every item keeps its own position."""
        targets = current if isinstance(current, list) else [current]
        if not self.record:
            value = self.build(value_event, kpath)
            targets.extend(value if isinstance(value, list) else [value])
            return targets
        if not isinstance(current, list):
            # the first `to:` was a scalar: its position becomes item 0's
            first = next(m for p, m in reversed(self.logs.values) if p == kpath)
            self.logs.values.append((kpath + (0,), first))
        start = self.logs.at()
        tmp = kpath + (FAN_OUT_KEY,)
        value = self.build(value_event, tmp)
        logs = self.logs.cut(start)
        items = list(enumerate(value)) if isinstance(value, list) else [(None, value)]
        for i, item in items:
            self.logs.add(logs, tmp if i is None else tmp + (i,), kpath + (len(targets),))
            targets.append(item)
        return targets


_MERGE = object()  # what `_key` returns for a `<<` merge key
MERGE_KEY = "<<"


def _copy(value: Any) -> Any:
    """A fresh copy of an aliased value's containers (each use of an alias is its own value)."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _yaml_mark(mark: Mark) -> yaml.Mark:
    return yaml.Mark("<file>", 0, mark[0] - 1, mark[1] - 1, None, None)


class _PositionsOnDemand(Positions):
    """The positions of a document read without them, found by reading its text again when first asked for:
    only a document with something to report needs them (a read without positions takes 20% less time)."""

    def __init__(self, text: str, filename: str, index: int) -> None:  # no dataclass fields until asked
        self._source = (text, filename, index)

    def __getattr__(self, name: str) -> Any:
        if name not in ("values", "keys", "templates"):
            raise AttributeError(name)
        text, filename, index = self._source
        docs, _ = parse_documents(text, filename, positions=True)
        found = docs[index].positions
        self.values, self.keys, self.templates = found.values, found.keys, found.templates
        return getattr(self, name)


def parse_documents(text: str, filename: str, *, positions: bool = False) -> tuple[list[MarkedDocument], list[Problem]]:
    """All documents of a `---`-separated stream; a syntax error ends the stream with one Problem.

    Built from libyaml's event stream directly (no node tree in between: 30% less time than composing one).
    Positions are read then when `positions`, else on first use (see `_PositionsOnDemand`); a file with
    anchors, aliases or merge keys is read with them."""
    loader = Loader(text)
    get = loader.get_event
    lines = text.splitlines() if positions else []
    docs: list[MarkedDocument] = []
    try:
        get()  # the stream's start
        while type(get()) is DocumentStartEvent:
            b = _Builder(loader, filename, lines, positions)
            data = b.build(get(), ())
            get()  # the document's end
            where = b.positions() if positions else _PositionsOnDemand(text, filename, len(docs))
            docs.append(MarkedDocument(data, where, b.problems, b.warnings))
    except _ReadAgain:
        return parse_documents(text, filename, positions=True)
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
