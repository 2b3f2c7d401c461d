"""Markdown (as flow authors write it) -> Slack mrkdwn (as Slack renders it).

Slack reads `*bold*`, `_italic_`, `~strike~`, `<url|text>`; and `<`, `>`, `&` must be escaped, which also
keeps a webhook value such as `<!channel>` from pinging everyone. Code spans and blocks stay verbatim.
"""

from __future__ import annotations

import re

_CODE = re.compile(r"```.*?```|`[^`\n]+`", re.S)
_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^)\s]+)\)")
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*|__(?=\S)(.+?)(?<=\S)__")
_ITALIC = re.compile(r"(?<![*\w])\*(?=[^\s*])([^*\n]+?)(?<=[^\s*])\*(?![*\w])")
_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")
_HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t]*#*$", re.M)
_BULLET = re.compile(r"^(\s*)[-*+]\s+", re.M)


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _convert(text: str) -> str:
    keep: list[str] = []

    def hold(s: str) -> str:
        keep.append(s)
        return f"\0{len(keep) - 1}\0"

    text = escape(text)
    text = _LINK.sub(lambda m: hold(f"<{m.group(2)}|{m.group(1)}>"), text)
    text = _BOLD.sub(lambda m: hold(f"*{m.group(1) or m.group(2)}*"), text)
    text = _HEADING.sub(lambda m: hold(f"*{m.group(1)}*"), text)
    text = _ITALIC.sub(lambda m: f"_{m.group(1)}_", text)
    text = _STRIKE.sub(lambda m: f"~{m.group(1)}~", text)
    text = _BULLET.sub(lambda m: f"{m.group(1)}• ", text)
    while "\0" in text:
        text = re.sub(r"\0(\d+)\0", lambda m: keep[int(m.group(1))], text)
    return text


def to_mrkdwn(markdown: str) -> str:
    """Convert outside code spans; inside them only escape (Slack shows code literally)."""
    out: list[str] = []
    pos = 0
    for m in _CODE.finditer(markdown):
        out.append(_convert(markdown[pos : m.start()]))
        out.append(escape(m.group(0)))
        pos = m.end()
    out.append(_convert(markdown[pos:]))
    return "".join(out)
