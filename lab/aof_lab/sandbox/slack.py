"""`SlackWebAPI`: a local server speaking Slack's Web API, so slack_sdk (via the provider's SlackHook)
runs unchanged against it when no real Slack workspace is configured.

It keeps channels, messages, threads and reactions in memory, answers `invalid_auth` for other
tokens and 429 + Retry-After beyond a per-method limit, and serves a browser page where a person
(or a test) reacts ✅ ⏸️ ❌ as a chosen sandbox user. Everything it shows says SANDBOX.

It refuses what Slack refuses on the calls the product makes (slackapi/slack-api-specs, Slack's Block Kit
reference): a channel that does not exist is `channel_not_found` (only chat.postMessage takes a name; every
other method wants the id), a method whose scope the token lacks is `missing_scope` with `needed` and
`provided`, and blocks beyond Block Kit's limits are `invalid_blocks`; text over 40,000 characters is
truncated with Slack's `message_truncated` warning.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from copy import deepcopy
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import parse_qs

from aof_lab.sandbox import slack_page
from aof_lab.sandbox.httpserver import HTTPService, Request, Response
from aof_lab.sandbox.ratelimit import RateLimiter

TEAM_ID = "T0SANDBOX"
BOT_USER_ID = "U_AOFBOT"
BOT_ID = "B_AOFBOT"


@dataclass
class SandboxUser:
    id: str
    name: str
    real_name: str
    is_bot: bool = False
    note: str = ""

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id, "team_id": TEAM_ID, "name": self.name, "real_name": self.real_name,
            "deleted": False, "is_bot": self.is_bot, "is_admin": False, "tz": "UTC",
            "profile": {
                "real_name": self.real_name, "display_name": self.name,
                "email": f"{self.name}@sandbox.invalid", "title": self.note,
            },
        }


DEFAULT_USERS = (
    SandboxUser(BOT_USER_ID, "aof-bot", "AOF (sandbox bot)", is_bot=True),
    SandboxUser("U_ONCALL", "oncall", "On-call Engineer", note="member of @oncall (approver)"),
    SandboxUser("U_SRE_LEAD", "sre-lead", "SRE Lead", note="member of @sre-lead (approver)"),
    SandboxUser("U_DEV", "developer", "Developer", note="not an approver"),
)
DEFAULT_USERGROUPS = {  # id -> (handle, members)
    "S_ONCALL": ("oncall", ["U_ONCALL"]),
    "S_SRE_LEAD": ("sre-lead", ["U_SRE_LEAD"]),
}
DEFAULT_CHANNELS = ("incidents", "sre-alerts", "sre-postmortems", "general")  # the seed posts to the first and third
# The bot scopes the README asks for (its Slack table); a test holds the two together.
DEFAULT_SCOPES = ("chat:write", "channels:history", "groups:history", "channels:read", "groups:read", "reactions:read",
                  "usergroups:read")
# What each method needs (slack-api-specs' `security`, bot-token names): any one scope of a tuple, the one
# for the channel's kind where it is a dict. Methods absent here need none (auth.test, chat.getPermalink).
METHOD_SCOPES: dict[str, Any] = {
    "chat.postMessage": ("chat:write",), "chat.update": ("chat:write",), "chat.delete": ("chat:write",),
    "conversations.history": {"public": "channels:history", "private": "groups:history"},
    "conversations.replies": {"public": "channels:history", "private": "groups:history"},
    "conversations.info": {"public": "channels:read", "private": "groups:read"},
    "conversations.list": ("channels:read",), "conversations.join": ("channels:join",),
    "reactions.get": ("reactions:read",), "reactions.add": ("reactions:write",),
    "reactions.remove": ("reactions:write",), "users.info": ("users:read",), "users.list": ("users:read",),
    "usergroups.list": ("usergroups:read",), "usergroups.users.list": ("usergroups:read",),
}
MAX_TEXT = 40_000


def channel_id_for(name: str) -> str:
    """Stable channel id for a name, so links and tests survive restarts."""
    return "C" + hashlib.sha1(name.encode()).hexdigest()[:10].upper()


@dataclass
class _Message:
    ts: str
    user: str
    text: str
    blocks: list[Any] | None = None
    attachments: list[Any] | None = None
    thread_ts: str | None = None
    reply_ts: list[str] = field(default_factory=list)  # replies, in order (parents only)
    reactions: list[dict[str, Any]] = field(default_factory=list)
    edited: dict[str, str] | None = None
    broadcast: bool = False

    @property
    def is_reply(self) -> bool:
        return self.thread_ts is not None and self.thread_ts != self.ts

    def to_api(self, replies: list[_Message] | None = None) -> dict[str, Any]:
        m: dict[str, Any] = {"type": "message", "user": self.user, "text": self.text, "ts": self.ts, "team": TEAM_ID}
        if self.user == BOT_USER_ID:
            m["bot_id"] = BOT_ID
        if self.blocks is not None:
            m["blocks"] = deepcopy(self.blocks)
        if self.attachments is not None:
            m["attachments"] = deepcopy(self.attachments)
        if self.thread_ts:
            m["thread_ts"] = self.thread_ts
        if self.is_reply and self.broadcast:
            m["subtype"] = "thread_broadcast"
        if not self.is_reply and replies:
            m["thread_ts"] = self.ts
            m["reply_count"] = len(replies)
            m["reply_users"] = sorted({r.user for r in replies})
            m["reply_users_count"] = len(m["reply_users"])
            m["latest_reply"] = replies[-1].ts
        if self.reactions:
            m["reactions"] = deepcopy(self.reactions)
        if self.edited:
            m["edited"] = dict(self.edited)
        return m


class SlackError(Exception):
    """A Slack `{"ok": false, "error": ...}` answer (HTTP 200, as Slack does)."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


class SlackWebAPI(HTTPService):
    """Slack Web API stand-in. `base_url` is what slack_sdk's WebClient(base_url=...) takes."""

    def __init__(
        self,
        *,
        token: str | None = None,
        rate_limits: dict[str, int] | None = None,
        rate_window_seconds: float = 60.0,
        channels: tuple[str, ...] = DEFAULT_CHANNELS,
        private_channels: tuple[str, ...] = (),
        scopes: tuple[str, ...] = DEFAULT_SCOPES,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host, port)
        self.token = token or "xoxb-sandbox-" + secrets.token_hex(12)
        self.bot_user_id = BOT_USER_ID
        self.users: dict[str, SandboxUser] = {u.id: u for u in DEFAULT_USERS}
        self.usergroups = {k: (h, list(m)) for k, (h, m) in DEFAULT_USERGROUPS.items()}
        self.limiter = RateLimiter(rate_limits, rate_window_seconds)
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self.scopes = tuple(scopes)
        self._names: dict[str, str] = {}  # channel id -> name
        self._private: set[str] = set()
        self._messages: dict[str, dict[str, _Message]] = {}  # channel id -> ts -> message (insertion order)
        self._last_ts = 0.0
        for name in channels:
            self.add_channel(name)
        for name in private_channels:
            self.add_channel(name, private=True)

    # ----- URLs -----------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        """The Web API root, with the trailing slash slack_sdk expects."""
        return f"{self.url}/api/"

    def page_url(self, channel: str = "incidents") -> str:
        return f"{self.url}/channel/{self._names.get(self._channel(channel), channel)}"

    def add_channel(self, name: str, *, private: bool = False) -> str:
        """Create a channel (as someone would in Slack; the API never creates one by posting)."""
        with self._lock:
            cid = channel_id_for(name.lstrip("#"))
            self._names.setdefault(cid, name.lstrip("#"))
            self._messages.setdefault(cid, {})
            if private:
                self._private.add(cid)
            return cid

    def set_rate_limit(self, method: str, per_window: int | None) -> None:
        self.limiter.set_limit(method, per_window)

    # ----- test-side helpers -----------------------------------------------------------------
    def messages(self, channel: str) -> list[dict[str, Any]]:
        """Top-level messages of a channel, oldest first, as the API shows them."""
        with self._lock:
            cid = self._channel(channel)
            return [m.to_api(self._replies(cid, m)) for m in self._messages[cid].values() if not m.is_reply]

    def thread(self, channel: str, ts: str) -> list[dict[str, Any]]:
        """A thread: the parent then its replies, oldest first."""
        with self._lock:
            cid = self._channel(channel)
            parent = self._get(cid, ts)
            replies = self._replies(cid, parent)
            return [parent.to_api(replies)] + [r.to_api() for r in replies]

    def react(self, channel: str, ts: str, name: str, user: str = "U_ONCALL") -> None:
        """A person's reaction, as if clicked in Slack."""
        with self._lock:
            self._add_reaction(self._channel(channel), ts, name.strip(":"), user)

    def calls(self, method: str) -> list[dict[str, Any]]:
        return [p for m, p in list(self.requests) if m == method]

    def wait_for_message(self, channel: str, predicate: Callable[[dict[str, Any]], bool], timeout: float = 10.0) -> dict[str, Any]:
        """Block until a top-level message matches; for tests that wait on a flow."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for m in self.messages(channel):
                    if predicate(m):
                        return m
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no matching message in {channel} within {timeout}s")
                self._changed.wait(left)

    def channel_names(self) -> list[str]:
        with self._lock:
            return list(self._names.values())

    # ----- state --------------------------------------------------------------------------------
    def _channel(self, ref: str, by_name: bool = True) -> str:
        """A channel id from an id, or (test helpers, chat.postMessage) from '#name' / 'name'."""
        ref = (ref or "").strip()
        if ref in self._names:
            return ref
        cid = channel_id_for(ref.lstrip("#")) if by_name and ref else None
        if cid not in self._names:
            raise SlackError("channel_not_found")
        return cid

    def _new_ts(self) -> str:
        now = max(time.time(), self._last_ts + 0.000001)
        self._last_ts = now
        return f"{now:.6f}"

    def _get(self, cid: str, ts: str | None) -> _Message:
        msg = self._messages[cid].get(ts or "")
        if not msg:
            raise SlackError("message_not_found")
        return msg

    def _replies(self, cid: str, parent: _Message) -> list[_Message]:
        return [self._messages[cid][t] for t in parent.reply_ts]

    def _post(self, cid: str, user: str, text: str, blocks: Any, attachments: Any, thread_ts: str | None, broadcast: bool) -> _Message:
        msg = _Message(self._new_ts(), user, text, blocks, attachments, broadcast=broadcast)
        if thread_ts:
            parent = self._get(cid, thread_ts)
            if parent.is_reply:
                parent = self._get(cid, parent.thread_ts)
            msg.thread_ts = parent.ts
            parent.thread_ts = parent.ts
            parent.reply_ts.append(msg.ts)
        self._messages[cid][msg.ts] = msg
        self._changed.notify_all()
        return msg

    def _add_reaction(self, cid: str, ts: str, name: str, user: str) -> None:
        if user not in self.users:
            raise SlackError("user_not_found")
        msg = self._get(cid, ts)
        for r in msg.reactions:
            if r["name"] == name:
                if user in r["users"]:
                    raise SlackError("already_reacted")
                r["users"].append(user)
                r["count"] = len(r["users"])
                break
        else:
            msg.reactions.append({"name": name, "users": [user], "count": 1})
        self._changed.notify_all()

    def _remove_reaction(self, cid: str, ts: str, name: str, user: str) -> None:
        msg = self._get(cid, ts)
        for r in msg.reactions:
            if r["name"] == name and user in r["users"]:
                r["users"].remove(user)
                r["count"] = len(r["users"])
                if not r["users"]:
                    msg.reactions.remove(r)
                self._changed.notify_all()
                return
        raise SlackError("no_reaction")

    # ----- HTTP -------------------------------------------------------------------------------
    def handle(self, req: Request) -> Response:
        if req.path.startswith("/api/"):
            return self._web_api(req, req.path[len("/api/"):])
        return slack_page.route(self, req)

    def _params(self, req: Request) -> dict[str, Any]:
        params: dict[str, Any] = {k: v[-1] for k, v in req.query.items()}
        if req.body:
            if req.content_type == "application/json":
                params.update(req.json() or {})
            elif req.content_type == "application/x-www-form-urlencoded":
                params.update({k: v[-1] for k, v in parse_qs(req.body.decode(), keep_blank_values=True).items()})
        return params

    def _scope_needed(self, method: str, params: dict[str, Any]) -> str | None:
        """The scope the call lacks, or None."""
        need = METHOD_SCOPES.get(method)
        if need is None:
            return None
        if isinstance(need, dict):
            cid = str(params.get("channel") or "")
            need = (need["private" if cid in self._private else "public"],)
        return None if any(n in self.scopes for n in need) else need[0]

    def _web_api(self, req: Request, method: str) -> Response:
        params = self._params(req)
        auth = req.headers.get("Authorization") or ""
        token = auth[len("Bearer "):] if auth.startswith("Bearer ") else params.pop("token", None)
        params.pop("token", None)
        self.requests.append((method, params))
        if not token:
            return Response.json({"ok": False, "error": "not_authed"})
        if token != self.token:
            return Response.json({"ok": False, "error": "invalid_auth"})
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        if handler is None:
            return Response.json({"ok": False, "error": "unknown_method", "req_method": method}, 404)
        scope_header = {"X-OAuth-Scopes": ",".join(self.scopes)}
        needed = self._scope_needed(method, params)
        if needed:
            return Response.json({"ok": False, "error": "missing_scope", "needed": needed,
                                  "provided": ",".join(self.scopes)}, 200, scope_header)
        wait = self.limiter.check(method)
        if wait:
            return Response.json({"ok": False, "error": "ratelimited"}, 429, {"Retry-After": str(wait)})
        try:
            with self._lock:
                result = handler(params)
        except SlackError as e:
            return Response.json({"ok": False, "error": e.error, **e.extra}, 200, scope_header)
        return Response.json({"ok": True, **result}, 200, scope_header)

    # Web API methods: each takes the merged params and returns the body besides "ok".
    def _m_api_test(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"args": p}

    def _m_auth_test(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"url": f"{self.url}/", "team": "AOF Sandbox (not Slack)", "user": "aof-bot", "team_id": TEAM_ID,
                "user_id": BOT_USER_ID, "bot_id": BOT_ID, "is_enterprise_install": False}

    def _m_chat_postMessage(self, p: dict[str, Any]) -> dict[str, Any]:
        cid = self._channel(str(p.get("channel", "")))
        blocks, attachments = _jsonish(p.get("blocks")), _jsonish(p.get("attachments"))
        check_blocks(blocks)
        text, warn = _truncated(str(p.get("text") or ""))
        if not text and not blocks and not attachments:
            raise SlackError("no_text")
        broadcast = str(p.get("reply_broadcast", "")).lower() in ("1", "true")
        msg = self._post(cid, BOT_USER_ID, text, blocks, attachments, p.get("thread_ts") or None, broadcast)
        return {"channel": cid, "ts": msg.ts, "message": msg.to_api(), **warn}

    def _m_chat_update(self, p: dict[str, Any]) -> dict[str, Any]:
        cid = self._channel(str(p.get("channel", "")), by_name=False)
        msg = self._get(cid, p.get("ts"))
        if msg.user != BOT_USER_ID:
            raise SlackError("cant_update_message")
        if "text" in p:
            msg.text = _truncated(str(p["text"]))[0]
        if "blocks" in p:
            msg.blocks = check_blocks(_jsonish(p["blocks"]))
        if "attachments" in p:
            msg.attachments = _jsonish(p["attachments"])
        msg.edited = {"user": BOT_USER_ID, "ts": self._new_ts()}
        self._changed.notify_all()
        return {"channel": cid, "ts": msg.ts, "text": msg.text, "message": msg.to_api(self._replies(cid, msg))}

    def _m_chat_delete(self, p: dict[str, Any]) -> dict[str, Any]:
        cid = self._channel(str(p.get("channel", "")), by_name=False)
        msg = self._get(cid, p.get("ts"))
        del self._messages[cid][msg.ts]
        return {"channel": cid, "ts": msg.ts}

    def _m_chat_getPermalink(self, p: dict[str, Any]) -> dict[str, Any]:
        cid = self._channel(str(p.get("channel", "")), by_name=False)
        msg = self._get(cid, p.get("message_ts"))
        link = f"{self.url}/archives/{cid}/p{msg.ts.replace('.', '')}"
        if msg.is_reply:
            link += f"?thread_ts={msg.thread_ts}&cid={cid}"
        return {"channel": cid, "permalink": link}

    def _window(self, msgs: list[_Message], p: dict[str, Any]) -> list[_Message]:
        oldest, latest = float(p.get("oldest") or 0), float(p.get("latest") or 1e12)
        inclusive = str(p.get("inclusive", "")).lower() in ("1", "true")
        if inclusive:
            return [m for m in msgs if oldest <= float(m.ts) <= latest]
        return [m for m in msgs if oldest < float(m.ts) < latest]

    def _m_conversations_history(self, p: dict[str, Any]) -> dict[str, Any]:
        cid = self._channel(str(p.get("channel", "")), by_name=False)
        msgs = [m for m in self._messages[cid].values() if not m.is_reply or m.broadcast]
        msgs = sorted(self._window(msgs, p), key=lambda m: float(m.ts), reverse=True)
        cursor = _decode_cursor(p.get("cursor"))
        if cursor is not None:
            msgs = [m for m in msgs if float(m.ts) < cursor]
        limit = min(int(p.get("limit") or 100), 999)
        page, more = msgs[:limit], len(msgs) > limit
        return {
            "messages": [m.to_api(self._replies(cid, m)) for m in page],
            "has_more": more, "pin_count": 0, "channel_actions_count": 0,
            "response_metadata": {"next_cursor": _encode_cursor(page[-1].ts) if more else ""},
        }

    def _m_conversations_replies(self, p: dict[str, Any]) -> dict[str, Any]:
        cid = self._channel(str(p.get("channel", "")), by_name=False)
        msg = self._messages[cid].get(str(p.get("ts") or ""))
        if not msg:
            raise SlackError("thread_not_found")
        if msg.is_reply:
            msg = self._get(cid, msg.thread_ts)
        replies = self._replies(cid, msg)
        picked = [msg] + self._window(replies, p) if p.get("oldest") or p.get("latest") else [msg] + replies
        cursor = _decode_cursor(p.get("cursor"))
        if cursor is not None:
            picked = [m for m in picked if float(m.ts) > cursor]
        limit = min(int(p.get("limit") or 1000), 1000)
        page, more = picked[:limit], len(picked) > limit
        return {
            "messages": [m.to_api(replies if m is msg else None) for m in page], "has_more": more,
            "response_metadata": {"next_cursor": _encode_cursor(page[-1].ts) if more else ""},
        }

    def _m_reactions_get(self, p: dict[str, Any]) -> dict[str, Any]:
        cid = self._channel(str(p.get("channel", "")), by_name=False)
        msg = self._get(cid, p.get("timestamp"))
        return {"type": "message", "channel": cid, "message": msg.to_api(self._replies(cid, msg))}

    def _m_reactions_add(self, p: dict[str, Any]) -> dict[str, Any]:
        cid = self._channel(str(p.get("channel", "")), by_name=False)
        name = str(p.get("name") or "").strip(":")
        if not name:
            raise SlackError("invalid_name")
        self._add_reaction(cid, str(p.get("timestamp") or ""), name, BOT_USER_ID)
        return {}

    def _m_reactions_remove(self, p: dict[str, Any]) -> dict[str, Any]:
        cid = self._channel(str(p.get("channel", "")), by_name=False)
        self._remove_reaction(cid, str(p.get("timestamp") or ""), str(p.get("name") or "").strip(":"), BOT_USER_ID)
        return {}

    def _m_users_info(self, p: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(str(p.get("user") or ""))
        if not user:
            raise SlackError("user_not_found")
        return {"user": user.to_api()}

    def _m_users_list(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"members": [u.to_api() for u in self.users.values()], "response_metadata": {"next_cursor": ""}}

    def _m_usergroups_list(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"usergroups": [
            {"id": gid, "team_id": TEAM_ID, "handle": h, "name": h, "user_count": len(m),
             **({"users": list(m)} if str(p.get("include_users", "")).lower() in ("1", "true") else {})}
            for gid, (h, m) in self.usergroups.items()
        ]}

    def _m_usergroups_users_list(self, p: dict[str, Any]) -> dict[str, Any]:
        group = self.usergroups.get(str(p.get("usergroup") or ""))
        if not group:
            raise SlackError("no_such_subteam")
        return {"users": list(group[1])}

    def _channel_api(self, cid: str) -> dict[str, Any]:
        return {"id": cid, "name": self._names[cid], "is_channel": True, "is_private": cid in self._private,
                "is_archived": False, "is_member": True, "num_members": len(self.users),
                "topic": {"value": "SANDBOX -- not Slack"}, "purpose": {"value": ""}}

    def _m_conversations_list(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"channels": [self._channel_api(c) for c in self._names], "response_metadata": {"next_cursor": ""}}

    def _m_conversations_info(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"channel": self._channel_api(self._channel(str(p.get("channel", "")), by_name=False))}

    def _m_conversations_join(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"channel": self._channel_api(self._channel(str(p.get("channel", "")), by_name=False))}


def _truncated(text: str) -> tuple[str, dict[str, Any]]:
    """Slack posts text past 40,000 characters cut short, with a warning (changelog 2018-04)."""
    if len(text) <= MAX_TEXT:
        return text, {}
    return text[:MAX_TEXT], {"warning": "message_truncated", "response_metadata": {
        "warnings": ["message_truncated"],
        "messages": ["[WARN] Your message was truncated but still posted. The `text` field accepts up to 40,000 characters."]}}


# Block Kit's documented limits (docs.slack.dev, "Blocks" and "Block elements"): the ones the product can reach.
MAX_BLOCKS, SECTION_TEXT, SECTION_FIELDS, FIELD_TEXT, HEADER_TEXT = 50, 3000, 10, 2000, 150
BUTTON_TEXT, BUTTON_VALUE, ID_LENGTH, ACTIONS_ELEMENTS, CONTEXT_ELEMENTS = 75, 2000, 255, 25, 10
BLOCK_TYPES = {"section", "actions", "context", "divider", "header", "image", "rich_text", "markdown", "input", "file",
               "video", "table", "context_actions"}


def check_blocks(blocks: Any) -> Any:
    """`blocks` as Slack would take them, or SlackError("invalid_blocks") with Slack's json-pointer errors."""
    if blocks is None:
        return None
    errors: list[str] = []

    def bad(msg: str, where: str) -> None:
        errors.append(f"{msg} [json-pointer:{where}]")

    def text_obj(t: Any, where: str, limit: int, plain_only: bool = False) -> None:
        if not isinstance(t, dict) or t.get("type") not in ("plain_text", "mrkdwn") or not isinstance(t.get("text"), str):
            return bad("must provide an object with a type and a text", where)
        if plain_only and t["type"] != "plain_text":
            bad("must be a plain_text object", where)
        if not t["text"]:
            bad("must be more than 0 characters", f"{where}/text")
        if len(t["text"]) > limit:
            bad(f"must be less than {limit + 1} characters", f"{where}/text")

    if not isinstance(blocks, list):
        raise SlackError("invalid_blocks_format")
    if len(blocks) > MAX_BLOCKS:
        bad(f"must be less than {MAX_BLOCKS + 1} items", "/blocks")
    for i, b in enumerate(blocks):
        at = f"/blocks/{i}"
        if not isinstance(b, dict) or b.get("type") not in BLOCK_TYPES:
            bad("failed to match all allowed schemas", at)
            continue
        if len(str(b.get("block_id", ""))) > ID_LENGTH:
            bad(f"must be less than {ID_LENGTH + 1} characters", f"{at}/block_id")
        if b["type"] == "section":
            if "text" not in b and "fields" not in b:
                bad("must provide either text or fields", at)
            if "text" in b:
                text_obj(b["text"], f"{at}/text", SECTION_TEXT)
            fields = b.get("fields") or []
            if len(fields) > SECTION_FIELDS:
                bad(f"must be less than {SECTION_FIELDS + 1} items", f"{at}/fields")
            for j, f in enumerate(fields):
                text_obj(f, f"{at}/fields/{j}", FIELD_TEXT)
        elif b["type"] == "header":
            text_obj(b.get("text"), f"{at}/text", HEADER_TEXT, plain_only=True)
        elif b["type"] in ("actions", "context"):
            elements = b.get("elements") or []
            limit = ACTIONS_ELEMENTS if b["type"] == "actions" else CONTEXT_ELEMENTS
            if not elements or len(elements) > limit:
                bad(f"must provide between 1 and {limit} items", f"{at}/elements")
            for j, e in enumerate(elements):
                where = f"{at}/elements/{j}"
                if b["type"] == "actions" and isinstance(e, dict) and e.get("type") == "button":
                    text_obj(e.get("text"), f"{where}/text", BUTTON_TEXT, plain_only=True)
                    if len(str(e.get("value", ""))) > BUTTON_VALUE:
                        bad(f"must be less than {BUTTON_VALUE + 1} characters", f"{where}/value")
                    if len(str(e.get("action_id", ""))) > ID_LENGTH:
                        bad(f"must be less than {ID_LENGTH + 1} characters", f"{where}/action_id")
                elif b["type"] == "context" and isinstance(e, dict) and e.get("type") in ("plain_text", "mrkdwn"):
                    text_obj(e, where, SECTION_TEXT)
    if errors:
        raise SlackError("invalid_blocks", errors=errors,
                         response_metadata={"messages": [f"[ERROR] {e}" for e in errors]})
    return blocks


def _jsonish(value: Any) -> Any:
    """Form-encoded calls carry blocks/attachments as JSON strings; JSON calls carry lists."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise SlackError("invalid_blocks")
    return value


def _encode_cursor(ts: str) -> str:
    return base64.b64encode(f"ts:{ts}".encode()).decode()


def _decode_cursor(cursor: Any) -> float | None:
    if not cursor:
        return None
    try:
        return float(base64.b64decode(str(cursor)).decode().split(":", 1)[1])
    except (ValueError, IndexError):
        raise SlackError("invalid_cursor")
