"""Rendering a template in one pass, for the place its text goes: plain text, a JSON document, a bash script,
a URL, Slack markup.

One pass: a value that itself contains `${...}` (a webhook title, a model's answer) is never expanded.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from aof_airflow.templating.context import TemplateContext
from aof_airflow.templating.errors import TemplateError
from aof_airflow.templating.placeholders import Literal, Placeholder, segments


def value_to_text(value: Any) -> str:
    """How a value reads in text: strings as they are, JSON spelling for everything else."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, (int, float)):
        return repr(value) if isinstance(value, float) else str(value)
    return json.dumps(value, ensure_ascii=False)


def value_of(ph: Placeholder, ctx: TemplateContext) -> Any:
    if ph.expression is not None:
        return ph.expression.evaluate(ctx.resolve)
    assert ph.path is not None
    if ph.default is None:
        return ctx.resolve(ph.path)
    try:
        value = ctx.resolve(ph.path)
    except LookupError:
        return ph.default
    return ph.default if value is None or value == "" else value


def render_text(template: str, ctx: TemplateContext) -> str:
    return "".join(s.text if isinstance(s, Literal) else value_to_text(value_of(s, ctx)) for s in segments(template))


def render_data(data: Any, ctx: TemplateContext) -> Any:
    """Render every string in a YAML structure; a string that is one placeholder keeps the value's type."""
    if isinstance(data, str):
        segs = segments(data)
        if len(segs) == 1 and isinstance(segs[0], Placeholder):
            return value_of(segs[0], ctx)
        return render_text(data, ctx)
    if isinstance(data, dict):
        return {k: render_data(v, ctx) for k, v in data.items()}
    if isinstance(data, list):
        return [render_data(v, ctx) for v in data]
    return data


def render_json(template: str, ctx: TemplateContext) -> str:
    """Inside a JSON string a value is escaped text; outside, it is a JSON literal of its own type."""
    out: list[str] = []
    in_string = False
    for seg in segments(template):
        if isinstance(seg, Literal):
            out.append(seg.text)
            in_string = _json_string_state(seg.text, in_string)
            continue
        value = value_of(seg, ctx)
        out.append(json.dumps(value_to_text(value), ensure_ascii=False)[1:-1] if in_string
                   else json.dumps(value, ensure_ascii=False))
    return "".join(out)


def _json_string_state(text: str, in_string: bool) -> bool:
    escaped = False
    for c in text:
        if escaped:
            escaped = False
        elif in_string and c == "\\":
            escaped = True
        elif c == '"':
            in_string = not in_string
    return in_string


# -------------------------------------------------------------------------------------------- shell


@dataclass(frozen=True)
class ShellScript:
    """A script whose placeholders became `$AOF_V_n` references, and the values, to pass as its env."""

    script: str
    env: dict[str, str]


_HEREDOC = re.compile(r"<<(-?)\s*(?:'([^']+)'|\"([^\"]+)\"|\\?([A-Za-z_][A-Za-z0-9_]*))")


class _ShellState:
    """Tracks where a position of a bash script is: plain, '...', "...", $( ), comment, heredoc body."""

    def __init__(self) -> None:
        self.stack: list[str] = ["plain"]  # plain | squote | dquote ; `$(` pushes a plain frame
        self.comment = False
        self.pending_heredocs: list[tuple[str, bool, bool]] = []  # (word, strip_tabs, quoted)
        self.heredoc: tuple[str, bool, bool] | None = None
        self.line: list[str] = []
        self.prev = "\n"

    @property
    def where(self) -> str:
        if self.heredoc:
            if self.heredoc[2]:
                return "heredoc-quoted"
            return "heredoc-string" if _open_quote(self.line) else "heredoc"
        if self.comment:
            return "comment"
        return self.stack[-1]

    def feed(self, text: str) -> None:
        i = 0
        while i < len(text):
            c = text[i]
            if self.heredoc is not None:
                if c == "\n":
                    body_line = "".join(self.line)
                    word, strip, _ = self.heredoc
                    if (body_line.lstrip("\t") if strip else body_line) == word:
                        self.heredoc = self.pending_heredocs.pop(0) if self.pending_heredocs else None
                    self.line = []
                else:
                    self.line.append(c)
                self.prev = c
                i += 1
                continue
            top = self.stack[-1]
            if c == "\n":
                self.comment = False
                if self.pending_heredocs and top == "plain":
                    self.heredoc = self.pending_heredocs.pop(0)
                self.line = []
            elif self.comment:
                pass
            elif top == "squote":
                if c == "'":
                    self.stack.pop()
            elif c == "\\":
                i += 2
                self.prev = "x"
                self.line.append(text[i - 2 : i])
                continue
            elif top == "dquote":
                if c == '"':
                    self.stack.pop()
                elif text.startswith("$(", i):
                    self.stack.append("plain")
                    i += 1
            else:  # plain
                if c == "#" and (self.prev.isspace() or self.prev in ";&|("):
                    self.comment = True
                elif c == "'":
                    self.stack.append("squote")
                elif c == '"':
                    self.stack.append("dquote")
                elif text.startswith("$(", i):
                    self.stack.append("plain")
                    i += 1
                elif c == ")" and len(self.stack) > 1:
                    self.stack.pop()
                elif text.startswith("<<", i) and not text.startswith("<<<", i):
                    m = _HEREDOC.match(text, i)
                    if m:
                        word = m.group(2) or m.group(3) or m.group(4)
                        # <<'EOF', <<"EOF" and <<\EOF all switch expansion off in the body
                        quoted = text[m.start(4) - 1] == "\\" if m.group(4) else True
                        self.pending_heredocs.append((word, m.group(1) == "-", quoted))
                        i = m.end()
                        self.prev = "x"
                        continue
            if c != "\n":
                self.line.append(c)
            self.prev = c
            i += 1


def _open_quote(line: list[str]) -> bool:
    """Whether a heredoc line so far has an unclosed literal double quote (a "..." string in the text)."""
    open_, escaped = False, False
    for c in "".join(line):
        if escaped:
            escaped = False
        elif c == "\\":
            escaped = True
        elif c == '"':
            open_ = not open_
    return open_


def render_shell(script: str, ctx: TemplateContext) -> ShellScript:
    """Values never enter the script's text: each placeholder becomes a reference to an env var holding it.

    How the reference is written depends on where it stands, so the value is always one word that bash
    expands once and never re-reads as code: "${V}" in plain text, ${V} inside "..." or a heredoc, and
    '"${V}"' inside '...'. Placeholders in comments are left as they are and not resolved.

    Inside a "..." string of a heredoc's text (the tutorial writes a JSON file that way), the value is
    escaped as a double-quoted string (JSON's rules), so the file it writes stays valid whatever the value.
    """
    out: list[str] = []
    env: dict[str, str] = {}
    names: dict[tuple[str, bool], str] = {}
    state = _ShellState()
    for seg in segments(script):
        if isinstance(seg, Literal):
            out.append(seg.text)
            state.feed(seg.text)
            continue
        where = state.where
        if where == "comment":
            out.append(script[seg.start : seg.end])
            state.feed("x")
            continue
        if where == "heredoc-quoted":
            raise TemplateError(
                f"${{{seg.raw}}} stands in a quoted heredoc (<<'EOF'), where bash expands nothing, so its value "
                "could only be pasted into the script: use an unquoted heredoc (<<EOF)",
                name=seg.raw,
            )
        key = (seg.raw, where == "heredoc-string")
        if key not in names:
            names[key] = f"AOF_V_{len(names) + 1}"
            text = value_to_text(value_of(seg, ctx))
            env[names[key]] = json.dumps(text, ensure_ascii=False)[1:-1] if key[1] else text
        ref = "${" + names[key] + "}"
        out.append({"plain": f'"{ref}"', "squote": f"'\"{ref}\"'"}.get(where, ref))
        state.feed("x")
    return ShellScript("".join(out), env)


# ------------------------------------------------------------------------------------------------ URL


def render_url(template: str, ctx: TemplateContext) -> str:
    """A URL: a value that starts the template is its base and is used as it is; every other value is
    percent-encoded, so an incident id or title can add no path segment, query parameter or fragment.

    A path segment a value (partly) makes that is empty, `.` or `..` is refused: HTTP clients (urllib3,
    and the servers behind proxies) resolve dot segments, so an id of `..` would turn
    `/incidents/${INCIDENT_ID}` into `/` and an empty one into `/incidents/` (PagerDuty's bulk endpoint)."""
    out: list[str] = []
    spans: list[tuple[int, int, str]] = []  # where each encoded value stands in the URL, and its raw text
    pos = 0
    for s in segments(template):
        if isinstance(s, Literal):
            piece = s.text
        else:
            text = value_to_text(value_of(s, ctx))
            piece = text if not out else quote(text, safe="")
            if out:
                spans.append((pos, pos + len(piece), text))
        out.append(piece)
        pos += len(piece)
    url = "".join(out)
    _refuse_dot_segments(url, spans)
    return url


def _refuse_dot_segments(url: str, spans: list[tuple[int, int, str]]) -> None:
    if not spans:
        return
    parts = urlsplit(url)
    start = len(parts.scheme) + 1 if parts.scheme else 0
    if url[start:start + 2] == "//":
        start += 2 + len(parts.netloc)
    end = start + len(parts.path)
    seg_start = start
    for seg_end in [i for i in range(start, end) if url[i] == "/"] + [end]:
        segment = url[seg_start:seg_end]
        if unquote(segment) in ("", ".", ".."):
            for vs, ve, raw in spans:
                inside = seg_start <= vs <= seg_end if vs == ve else vs < seg_end and ve > seg_start
                if inside:
                    raise TemplateError(
                        f"the value {raw[:80]!r} makes the URL path segment {segment!r} "
                        f"({'empty' if not segment else 'a dot segment'}), which would change the request's "
                        f"target: {url[:200]!r}")
        seg_start = seg_end + 1


# ------------------------------------------------------------------------------------- Slack (markup)

# Where a value stands in the author's text while that text is turned into markup: private-use characters
# no Markdown or mrkdwn rule touches (any the template itself holds become U+FFFD first).
TOKEN = re.compile("\ue000([0-9]+)\ue001")


@dataclass(frozen=True)
class Marked:
    """A template's own text with placeholder n replaced by `TOKEN` n, and value n as text."""

    text: str
    values: list[str]


def render_marked(template: str, ctx: TemplateContext) -> Marked:
    """One pass with the values kept apart: the caller turns the author's text into its markup, then pastes
    each value in escaped for it (operators/mrkdwn.py for Slack), so no value can become markup."""
    text: list[str] = []
    values: list[str] = []
    for s in segments(template):
        if isinstance(s, Literal):
            text.append(s.text.replace("\ue000", "\ufffd").replace("\ue001", "\ufffd"))
        else:
            values.append(value_to_text(value_of(s, ctx)))
            text.append(f"\ue000{len(values) - 1}\ue001")
    return Marked("".join(text), values)
