"""Everything the product says to Slack goes through here: the client, the escaping, the approval vocabulary.

- **Clients**: one cached `SlackHook` per Connection (`hook`, `async_client`), or a bare token's client
  (`token_client`, a Slack trigger's `bot_token`), all with ONE retry policy (`RETRY_POLICY`): a dropped
  connection is retried once, a 429 is waited out as its `Retry-After` says, up to `RATE_LIMIT_RETRIES` times
  (a message that announces an incident must not be lost to a burst). The approval poller's async client
  sees a 429 at once and waits it out for the whole channel (approvals/poller.py), the same wait, shared;
  the relay, which must answer Slack within 3 s, sees it at once too (`waits=False`).
- **Escaping** (`escape`): a value (event, cluster or model text) as inert mrkdwn; `code` for text inside a
  code block; `entities` for the author's own template text.
- **Approvals**: the button `action_id` prefix and the reactions that decide (`OUTCOMES`).

Why values are escaped the way they are. Slack's "Formatting text for app surfaces" names `&`, `<`, `>` as
its only escapes (HTML entities); for `*bold*`, `_italic_`, `~strike~`, `` `code` ``, ```` ``` ```` blocks,
`>` quotes and list markers it offers no escape at all, and no backslash. What else was weighed:
  - sending values as `plain_text`: a text object is plain or mrkdwn as a whole, and a message's values sit
    inside the author's formatted sentence, so that would mean rebuilding every template as rich_text blocks
    (and the `text` that notifications show would still be mrkdwn);
  - zero-width characters: Slack treats U+200B as a word break, which *enables* formatting inside a word
    (jsx-slack's "exact mode" relies on it), and how it treats U+200D/U+2060 is not documented;
  - `verbatim: true`: stops only the auto-linking of URLs, channels and mentions, not bold or italic.
What is certain is that Slack only reads the ASCII characters (and their full-width forms) as markers, and
only where a marker can open or close a span: at a word's edge (`snake_case_name` stays as written, which
is why jsx-slack needs zero-width spaces to format inside words). So a marker character of a value that
stands at a word's edge is replaced by its look-alike (`*` U+2217, `_` U+02CD, `~` U+223C, backtick U+02CB),
which no Slack client formats; one inside a word stays. A line of the value that starts as a quote (`>`)
or a list item begins with a soft hyphen (U+00AD, invisible), so it no longer starts the line. `&<>` become
entities, so no link (`<url|text>`) or mention (`<@U…>`, `<!here>`, `<!channel>`) can form. Controls become
U+FFFD and bidi controls are isolated (FSI … PDI) so they end with the value.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.providers.slack.hooks.slack import SlackHook
    from slack_sdk import WebClient
    from slack_sdk.http_retry import RetryHandler
    from slack_sdk.web.async_client import AsyncWebClient

DEFAULT_CONN = "slack_default"
RATE_LIMIT_RETRIES = 5

# ------------------------------------------------------------------------------------------------ clients


def conn_id(node_conn: str | None = None) -> str:
    """The Connection of a Slack call: the node's own, else `[aof] slack_conn_id`."""
    from aof_airflow.config import settings

    return node_conn or settings().slack_conn_id or DEFAULT_CONN


def retry_handlers(*, asynchronous: bool = False, waits: bool = True) -> list[RetryHandler]:
    """RETRY_POLICY as slack_sdk's handlers. Where the caller must not sleep inside the call (`waits=False`:
    the relay answering Slack within its 3 s; the approval poller, which waits out a 429 itself for every
    approval of the channel at once and keeps reading decisions meanwhile) only the connection retry."""
    if asynchronous:
        from slack_sdk.http_retry.builtin_async_handlers import (
            AsyncConnectionErrorRetryHandler,
            AsyncRateLimitErrorRetryHandler,
        )

        return [AsyncConnectionErrorRetryHandler(),
                *([AsyncRateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES)] if waits else [])]
    from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler

    return [ConnectionErrorRetryHandler(),
            *([RateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES)] if waits else [])]


RETRY_POLICY = f"connection errors: 1 retry; 429: wait Retry-After, up to {RATE_LIMIT_RETRIES} times"


def hook(connection_id: str, *, waits: bool = True) -> SlackHook:
    """The one SlackHook of a Connection in this process, with its WebClient. Cached by the Connection's
    content, so a long-lived process (the relay, the triggerer) picks up a rotated token or a new base_url.
    `waits=False`: a 429 is raised at once (retry_handlers)."""
    from airflow.providers.slack.hooks.slack import SlackHook  # the provider is not needed to build a DAG

    conn = SlackHook.get_connection(connection_id)
    return _hook(connection_id, conn.get_uri(), waits)


@lru_cache(maxsize=32)
def _hook(connection_id: str, _content: str, waits: bool) -> SlackHook:
    from airflow.providers.slack.hooks.slack import SlackHook

    return SlackHook(slack_conn_id=connection_id, retry_handlers=retry_handlers(waits=waits))


@lru_cache(maxsize=32)
def _async_hook(connection_id: str) -> SlackHook:
    from airflow.providers.slack.hooks.slack import SlackHook  # the provider is not needed to build a DAG

    return SlackHook(slack_conn_id=connection_id, retry_handlers=retry_handlers(asynchronous=True, waits=False))


async def async_client(connection_id: str) -> AsyncWebClient:
    """The approval poller's AsyncWebClient on the triggerer (the Connection is read again, asynchronously,
    each time); a 429 reaches the poller at once."""
    return await _async_hook(connection_id).get_async_client()


def token_client(token: str, base_url: str | None = None, *, waits: bool = True) -> WebClient:
    """A client for a bare bot token (a Slack trigger's `bot_token`), with the same retry policy."""
    from slack_sdk import WebClient

    return WebClient(token=token, base_url=base_url or WebClient.BASE_URL, retry_handlers=retry_handlers(waits=waits))


def post_message(connection_id: str, channel: str, text: str, *, thread_ts: str | None = None) -> dict[str, Any]:
    """Post `text` (already mrkdwn) and return {channel, ts, permalink}; Slack errors raise SlackApiError."""
    from slack_sdk.errors import SlackApiError

    client = hook(connection_id).client
    kwargs: dict[str, Any] = {"channel": channel, "text": text, "mrkdwn": True, "unfurl_links": False,
                              "link_names": False}
    if thread_ts:
        kwargs["thread_ts"] = thread_ts
    resp = client.chat_postMessage(**kwargs)
    out = {"channel": resp["channel"], "ts": resp["ts"], "permalink": None}
    try:
        out["permalink"] = client.chat_getPermalink(channel=resp["channel"], message_ts=resp["ts"])["permalink"]
    except (SlackApiError, KeyError):  # a permalink is a convenience; the post itself succeeded
        pass
    return out


# ----------------------------------------------------------------------------------------------- escaping

REPLACEMENT = "\ufffd"
# Controls (but tab and newline), surrogates, and the private-use characters the Markdown converter uses
VALUE_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ue000-\ue003]")
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
LOOK_ALIKE = {"*": "\u2217", "_": "\u02cd", "~": "\u223c", "`": "\u02cb",
              "\uff0a": "\ufe61", "\uff3f": "\u2e0f", "\uff5e": "\u223c", "\uff40": "\u02cb"}
_MARKER = re.compile("[*_~`\uff0a\uff3f\uff5e\uff40]")
_BACKTICKS = "`\uff40"
# a line that Slack would read as a quote or a list item: `>` (as the entity it is by then), full-width >,
# a bullet, or a number and a dot
_LINE_LEAD = re.compile(r"^(?=[ \t]*(?:&gt;|\uff1e|[-+•◦▪]\s|\d{1,9}[.)]\s))", re.M)
SOFT_HYPHEN = "\u00ad"


def entities(text: str) -> str:
    """Slack's three escapes: `&`, `<`, `>` as `&amp;`, `&lt;`, `&gt;`."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _defuse(m: re.Match) -> str:
    s, i, c = m.string, m.start(), m.group(0)
    inside_word = c not in _BACKTICKS and 0 < i < len(s) - 1 and s[i - 1].isalnum() and s[i + 1].isalnum()
    return c if inside_word else LOOK_ALIKE[c]


def escape(value: str) -> str:
    """A value as inert mrkdwn (module docstring): no link, mention, bold, italic, strike, code, quote or
    list can come of it wherever it is pasted."""
    text = entities(_MARKER.sub(_defuse, VALUE_UNSAFE.sub(REPLACEMENT, value)))
    text = _LINE_LEAD.sub(SOFT_HYPHEN, text)
    return f"\u2068{text}\u2069" if _BIDI.search(text) else text


def code(text: str) -> str:
    """Text for the inside of a ``` block: entities, and no ``` that could end it."""
    return entities(VALUE_UNSAFE.sub(REPLACEMENT, text)).replace("```", "'''")


# ---------------------------------------------------------------------------------------------- approvals

ACTION_PREFIX = "aof_approval:"  # a button's action_id is aof_approval:<decision>; the relay reads it back

APPROVE, PAUSE, SKIP = "white_check_mark", "double_vertical_bar", "x"
# The tutorial's message: ✅ approve, ⏸️ pause and investigate manually, ❌ skip auto-remediation.
OUTCOMES: dict[str, str] = {APPROVE: "approved", PAUSE: "paused", SKIP: "skipped"}
# `aofctl approve --decision` and the Slack buttons speak verbs; the flow's conditions read the reaction.
DECISION_REACTIONS: dict[str, str] = {"approve": APPROVE, "pause": PAUSE, "skip": SKIP}
# What older records and other approval nodes wrote for the same outcomes (read by the incident collector)
_ALIASES: dict[str, str] = {"heavy_check_mark": "approved", "approve": "approved", "approved": "approved",
                            "pause": "paused", "paused": "paused",
                            "skip": "skipped", "skipped": "skipped", "reject": "skipped", "rejected": "skipped"}


def outcome_of(reaction: str | None) -> str | None:
    """The outcome a reaction (or a recorded decision word) stands for; None for any other."""
    name = str(reaction or "").strip(":").lower()
    return OUTCOMES.get(name) or _ALIASES.get(name)
