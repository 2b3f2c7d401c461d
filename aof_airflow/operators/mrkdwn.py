"""Markdown (as flow authors write it) -> Slack mrkdwn (as Slack renders it), with values kept inert.

Slack reads `*bold*`, `_italic_`, `~strike~`, `<url|text>` links and `<!channel>`, `<@U..>`, `<!subteam^..>`
mentions; `&`, `<` and `>` must be escaped. Only the flow author's template text is converted: a value from
the event, the cluster or a model is escaped (services/slack.py `escape`, which says how and why) and pasted
in afterwards (`render_mrkdwn`), so an incident titled `[Acknowledge here](https://evil.example/login)`,
`<!channel>` or `*RESOLVED*` shows as that text, never as a live link, a ping or bold. Code spans and blocks
of the template stay verbatim (escaped only).

Every pattern is bounded, so no input (NUL, 40 kB of brackets, ...) makes the converter hang.
"""

from __future__ import annotations

import re

from aof_airflow.services.slack import REPLACEMENT, escape
from aof_airflow.services.slack import entities as _entities
from aof_airflow.templating import TemplateContext, render_marked
from aof_airflow.templating.render import TOKEN

__all__ = ["escape", "render_mrkdwn", "to_mrkdwn"]
_HOLD_OPEN, _HOLD_CLOSE = "\ue002", "\ue003"  # private use: the converter's own markers
_HOLD = re.compile(f"{_HOLD_OPEN}([0-9]+){_HOLD_CLOSE}")
# Controls (but tab and newline), surrogates, our markers; value tokens too when escaping a value.
_TEMPLATE_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ue002\ue003]")
_SPAN = 500  # the longest link text, bold or strike run converted; a longer one stays as written
_CODE = re.compile(r"```.*?```|`[^`\n]{1,%d}`" % _SPAN, re.S)
_LINK = re.compile(r"\[([^\[\]\n]{1,%d})\]\((https?://[^)\s]{1,%d}|%s)\)" % (_SPAN, 4 * _SPAN, TOKEN.pattern))
_BOLD = re.compile(r"\*\*(?=\S)([^\n]{1,%d}?)(?<=\S)\*\*|__(?=\S)([^\n]{1,%d}?)(?<=\S)__" % (_SPAN, _SPAN))
_ITALIC = re.compile(r"(?<![*\w])\*(?=[^\s*])([^*\n]{1,%d}?)(?<=[^\s*])\*(?![*\w])" % _SPAN)
_STRIKE = re.compile(r"~~(?=\S)([^\n]{1,%d}?)(?<=\S)~~" % _SPAN)
_HEADING = re.compile(r"^#{1,6}[ \t]+([^\n]+?)[ \t]*#*$", re.M)
_BULLET = re.compile(r"^([ \t]*)[-*+][ \t]+", re.M)
_SAFE_URL = re.compile(r"https?://[^\s<>|\"\\]{1,2000}")
_FILLED = re.compile(r"<%s\|([^>]*)>|%s" % (TOKEN.pattern, TOKEN.pattern))


def _convert(text: str) -> str:
    keep: list[str] = []

    def hold(s: str) -> str:
        keep.append(_restore(s, keep))  # resolved now, so restoring is a single pass
        return f"{_HOLD_OPEN}{len(keep) - 1}{_HOLD_CLOSE}"

    text = _LINK.sub(lambda m: hold(f"<{m.group(2)}|{m.group(1)}>"), _entities(text))
    text = _BOLD.sub(lambda m: hold(f"*{m.group(1) or m.group(2)}*"), text)
    text = _HEADING.sub(lambda m: hold(f"*{m.group(1)}*"), text)
    text = _ITALIC.sub(lambda m: f"_{m.group(1)}_", text)
    text = _STRIKE.sub(lambda m: f"~{m.group(1)}~", text)
    text = _BULLET.sub(lambda m: f"{m.group(1)}• ", text)
    return _restore(text, keep)


def _restore(text: str, keep: list[str]) -> str:
    return _HOLD.sub(lambda m: keep[int(m.group(1))], text)


def to_mrkdwn(markdown: str) -> str:
    """The author's Markdown as mrkdwn: converted outside code spans, only escaped inside them."""
    markdown = _TEMPLATE_UNSAFE.sub(REPLACEMENT, markdown)
    out: list[str] = []
    pos = 0
    for m in _CODE.finditer(markdown):
        out.append(_convert(markdown[pos : m.start()]))
        out.append(_entities(m.group(0)))
        pos = m.end()
    out.append(_convert(markdown[pos:]))
    return "".join(out)


def render_mrkdwn(template: str, ctx: TemplateContext) -> str:
    """The template's Markdown as mrkdwn, each `${...}` value escaped and pasted in where it stood.

    A value that is the whole target of the author's link (`[Open](${INCIDENT_URL})`) becomes the link's URL
    only when it is a plain http(s) URL; anything else is shown as text next to the link's label.
    """
    marked = render_marked(template, ctx)
    values = marked.values

    def fill(m: re.Match) -> str:
        if m.group(1) is None:
            return escape(values[int(m.group(3))])
        url, label = values[int(m.group(1))], TOKEN.sub(lambda t: escape(values[int(t.group(1))]), m.group(2))
        if _SAFE_URL.fullmatch(url):
            return f"<{_entities(url)}|{label}>"  # _SAFE_URL has no < or >: only its & changes
        return f"{label} ({escape(url)})"

    return _FILLED.sub(fill, to_mrkdwn(marked.text))
