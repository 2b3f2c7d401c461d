"""What a Slack client would render as formatting in a message's mrkdwn `text`: the stand-in's reading of
Slack's "Formatting text for app surfaces", used by tests to count formatting a value must not add.

Spans, as Slack reads them:
  bold `*x*`, italic `_x_`, strike `~x~` (and their full-width forms `＊` `＿` `～`): a marker opens at the
  start of the text or after a non-word character, before a non-space; it closes after a non-space, before
  the end or a non-word character, on the same line (inside a word, `snake_case_name`, nothing forms);
  code `` `x` `` and blocks ```` ```x``` ```` anywhere; a quote is a line that starts with `&gt;` (`>`, as
  the entity a message carries) or `＞`; a list item is a line that starts with `-`, `*`, `•` or `1.` and a
  space; links `<http…|…>`, `<mailto:…>`; mentions `<@U…>`, `<#C…>`, `<!here>`, `<!channel>`,
  `<!everyone>`, `<!subteam^…>`, `<!date^…>`.
Nothing inside code is formatted. Deliberately generous otherwise (it flags what Slack might render), so
"no new span" is a strong claim.
"""

from __future__ import annotations

import re
from collections import Counter


def _span(marker: str) -> re.Pattern:
    """`marker`x`marker` opening at a word's edge before a non-space, closing after one at a word's edge."""
    m = re.escape(marker)
    return re.compile(rf"(?<!\w){m}(?=[^\s{m}])[^\n{m}]*?(?<=[^\s{m}]){m}(?!\w)")


PATTERNS: dict[str, re.Pattern] = {
    "code block": re.compile(r"```.+?```", re.S),
    "code": re.compile(r"(?<!`)`[^`\n]+`(?!`)"),
    "bold": _span("*"), "italic": _span("_"), "strike": _span("~"),
    "bold (full-width)": _span("\uff0a"), "italic (full-width)": _span("\uff3f"), "strike (full-width)": _span("\uff5e"),
    "quote": re.compile(r"^[ \t]*(?:&gt;|>|\uff1e)", re.M),
    "list": re.compile(r"^[ \t]*(?:[-*•]|\d{1,9}[.)])[ \t]", re.M),
    "link": re.compile(r"<(?:https?:|mailto:)[^>]*>"),
    "mention": re.compile(r"<(?:@|#|!)[^>]*>"),
}


def formatting(text: str) -> Counter:
    """How many spans of each kind a Slack client would format in `text`. Nothing inside a code block or
    span is formatted, so those are counted first and taken out."""
    found: Counter = Counter()
    for kind in ("code block", "code"):
        found[kind] += len(PATTERNS[kind].findall(text))
        text = PATTERNS[kind].sub(" ", text)
    for kind, p in PATTERNS.items():
        if kind not in ("code block", "code"):
            found[kind] += len(p.findall(text))
    return +found
