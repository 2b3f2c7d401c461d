"""The sandbox Slack's browser page: a channel view where a person clicks ✅ ⏸️ ❌ as a sandbox user.

Server-rendered (it works without JavaScript), with a small script that re-fetches the message list
every two seconds and posts reactions to `/sandbox/react`.
"""

from __future__ import annotations

import html
import re
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from aof_lab.sandbox.httpserver import Request, Response

if TYPE_CHECKING:
    from aof_lab.sandbox.slack import SlackWebAPI

EMOJI = {
    "white_check_mark": "✅", "double_vertical_bar": "⏸️", "x": "❌", "rotating_light": "🚨",
    "warning": "⚠️", "red_circle": "🔴", "eyes": "👀", "+1": "👍", "thumbsup": "👍", "fire": "🔥",
    "heavy_check_mark": "✔️", "large_green_circle": "🟢", "hourglass": "⌛", "rocket": "🚀",
}
DECISIONS = {"white_check_mark": "approve", "double_vertical_bar": "pause", "x": "skip"}
BANNER = "SANDBOX -- not Slack"


def mrkdwn(text: str, names: dict[str, str] | None = None) -> str:
    """Slack mrkdwn to HTML, simply: escapes first, then code, links, bold, italic, strike, emoji.

    Slack's own text escapes `&lt;` `&gt;` `&amp;` (how a message carries a literal < > &) are already HTML:
    after our one escape they read `&amp;lt;`..., so they are turned back in one pass at the end, never
    unescaped twice -- what Slack shows as `<`, the page shows as `<`, and no raw `<` ever reaches the DOM.
    """
    out = html.escape(text, quote=False)
    blocks: list[str] = []  # rendered pieces kept out of later substitutions
    out = re.sub(r"```(.+?)```", lambda m: _stash(blocks, f"<pre>{m.group(1)}</pre>"), out, flags=re.S)
    out = re.sub(r"`([^`\n]+)`", lambda m: _stash(blocks, f"<code>{m.group(1)}</code>"), out)
    out = re.sub(r"&lt;(https?://[^|&]+?)\|([^&]+?)&gt;", lambda m: _stash(blocks, f'<a href="{_attr(m.group(1))}">{m.group(2)}</a>'), out)
    out = re.sub(r"&lt;(https?://[^&]+?)&gt;", lambda m: _stash(blocks, f'<a href="{_attr(m.group(1))}">{m.group(1)}</a>'), out)
    out = re.sub(r"&lt;!subteam\^(\w+)(?:\|([^&]+))?&gt;", lambda m: f'<span class="mention">{m.group(2) or "@" + m.group(1)}</span>', out)
    out = re.sub(r"&lt;@(\w+)&gt;", lambda m: f'<span class="mention">@{html.escape((names or {}).get(m.group(1), m.group(1)))}</span>', out)
    out = re.sub(r"(?<![\w*])\*\*?([^*\n]+?)\*\*?(?![\w*])", r"<b>\1</b>", out)
    out = re.sub(r"(?<![\w_])_([^_\n]+?)_(?![\w_])", r"<i>\1</i>", out)
    out = re.sub(r"(?<![\w~])~([^~\n]+?)~(?![\w~])", r"<s>\1</s>", out)
    out = re.sub(r":([a-z0-9_+\-]+):", lambda m: EMOJI.get(m.group(1), m.group(0)), out)
    out = out.replace("\n", "<br>")
    out = re.sub(r"\x00(\d+)\x00", lambda m: blocks[int(m.group(1))], out)
    return _SLACK_ENTITY.sub(r"&\1;", out)


_SLACK_ENTITY = re.compile(r"&amp;(lt|gt|amp);")  # Slack's three escapes, as our html.escape left them


def _attr(url: str) -> str:
    """An href value: the text is escaped already (no < > &), quotes must not end the attribute."""
    return url.replace('"', "&quot;").replace("'", "&#x27;")


def _stash(blocks: list[str], rendered: str) -> str:
    blocks.append(rendered)
    return f"\x00{len(blocks) - 1}\x00"


def _block_text(blocks: list[Any] | None) -> str:
    parts: list[str] = []
    for b in blocks or []:
        t = b.get("text") if isinstance(b, dict) else None
        if isinstance(t, dict) and t.get("text"):
            parts.append(str(t["text"]))
        for f in (b.get("fields") or []) if isinstance(b, dict) else []:
            if isinstance(f, dict) and f.get("text"):
                parts.append(str(f["text"]))
    return "\n".join(parts)


def _message_html(srv: SlackWebAPI, channel: str, m: dict[str, Any], reply: bool = False) -> str:
    user = srv.users.get(m.get("user", ""))
    who = html.escape(user.real_name if user else m.get("user", "?"))
    when = time.strftime("%H:%M:%S", time.localtime(float(m["ts"])))
    body = mrkdwn(m.get("text") or _block_text(m.get("blocks")), {u.id: u.name for u in srv.users.values()})
    reacts = "".join(
        f'<span class="reaction" title="{html.escape(", ".join(r["users"]))}">'
        f'{EMOJI.get(r["name"], "")} :{html.escape(r["name"])}: {r["count"]} '
        f'<small>{html.escape(", ".join(srv.users[u].name if u in srv.users else u for u in r["users"]))}</small></span>'
        for r in m.get("reactions", [])
    )
    buttons = "".join(
        f'<button class="react" data-channel="{html.escape(channel)}" data-ts="{m["ts"]}" data-name="{n}" '
        f'id="react-{n}-{m["ts"].replace(".", "-")}" title="react :{n}:">{EMOJI[n]} {label}</button>'
        for n, label in DECISIONS.items()
    )
    edited = ' <small class="edited">(edited)</small>' if m.get("edited") else ""
    return (
        f'<div class="msg{" reply" if reply else ""}" id="m{m["ts"].replace(".", "")}" data-ts="{m["ts"]}">'
        f'<div class="meta"><b>{who}</b> <span class="ts">{when} · ts {m["ts"]}</span> '
        f'<span class="sandbox-tag">sandbox</span></div>'
        f'<div class="text">{body}{edited}</div>'
        f'<div class="reactions">{reacts}</div><div class="buttons">{buttons}</div></div>'
    )


def messages_fragment(srv: SlackWebAPI, channel: str) -> str:
    parts: list[str] = []
    for m in srv.messages(channel):
        parts.append(_message_html(srv, channel, m))
        if m.get("reply_count"):
            parts.append('<div class="thread">')
            parts.extend(_message_html(srv, channel, r, reply=True) for r in srv.thread(channel, m["ts"])[1:])
            parts.append("</div>")
    return "".join(parts) or '<p class="empty">No messages yet. The flow posts here.</p>'


def channel_page(srv: SlackWebAPI, channel: str) -> str:
    name = channel.lstrip("#")
    chans = "".join(
        f'<li{" class=cur" if c == name else ""}><a href="/channel/{quote(c)}">#{html.escape(c)}</a></li>'
        for c in srv.channel_names()
    )
    users = "".join(
        f'<option value="{u.id}"{" selected" if u.id == "U_ONCALL" else ""}>{html.escape(u.real_name)} '
        f'({u.id}{", " + html.escape(u.note) if u.note else ""})</option>'
        for u in srv.users.values() if not u.is_bot
    )
    return _PAGE.format(
        banner=BANNER, channel=html.escape(name), channels=chans, users=users,
        messages=messages_fragment(srv, name), qchannel=quote(name),
    )


def route(srv: SlackWebAPI, req: Request) -> Response:
    from aof_lab.sandbox.slack import SlackError

    path = req.path
    try:
        if req.method == "POST" and path == "/sandbox/react":
            body = req.json() or {}
            srv.react(str(body["channel"]), str(body["ts"]), str(body["name"]), str(body.get("user") or "U_ONCALL"))
            return Response.json({"ok": True})
        if path == "/sandbox/messages":
            channel = req.q("channel", "incidents") or "incidents"
            msgs = srv.messages(channel)
            for m in msgs:
                if m.get("reply_count"):
                    m["replies"] = srv.thread(channel, m["ts"])[1:]
            return Response.json({"ok": True, "sandbox": True, "channel": channel, "messages": msgs})
        if path.startswith("/sandbox/fragment/"):
            return Response.html(messages_fragment(srv, path.rsplit("/", 1)[1]))
        if path in ("/", "/index.html"):
            return Response.html(channel_page(srv, "incidents"))
        if path.startswith("/channel/"):
            return Response.html(channel_page(srv, path[len("/channel/"):]))
        if path.startswith("/archives/"):  # permalinks: /archives/<cid>/p<ts>
            cid = path.split("/")[2]
            return Response.html(channel_page(srv, srv._names.get(cid, cid)))
        if path == "/healthz":
            return Response.json({"ok": True, "sandbox": "slack"})
    except SlackError as e:
        return Response.json({"ok": False, "error": e.error}, 400 if req.method == "POST" else 404)
    except (KeyError, ValueError, TypeError) as e:
        return Response.json({"ok": False, "error": f"bad request: {e}"}, 400)
    return Response.text("not found (sandbox Slack)", 404)


_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>#{channel} -- {banner}</title>
<style>
body {{ font-family: -apple-system, Segoe UI, Helvetica, Arial, sans-serif; margin: 0; background: #fff; color: #1d1c1d; }}
header {{ background: #b00020; color: #fff; padding: 8px 16px; font-weight: bold; }}
header small {{ font-weight: normal; }}
.wrap {{ display: flex; min-height: calc(100vh - 40px); }}
nav {{ background: #3f0e40; color: #fff; width: 200px; padding: 12px; }}
nav a {{ color: #ddd; text-decoration: none; }} nav li.cur a {{ color: #fff; font-weight: bold; }}
nav ul {{ list-style: none; padding: 0; }} nav label {{ font-size: 12px; display: block; margin-top: 16px; }}
nav select {{ width: 100%; }}
main {{ flex: 1; padding: 12px 20px; }}
.msg {{ border-bottom: 1px solid #eee; padding: 8px 4px; }}
.msg:target {{ background: #fff8c5; }}
.thread {{ margin-left: 32px; border-left: 3px solid #ddd; padding-left: 8px; }}
.meta .ts {{ color: #888; font-size: 12px; }}
.sandbox-tag {{ background: #b00020; color: #fff; font-size: 10px; padding: 1px 4px; border-radius: 3px; }}
.text {{ margin: 4px 0; line-height: 1.4; }}
.reaction {{ display: inline-block; border: 1px solid #1d9bd1; border-radius: 12px; padding: 1px 8px; margin-right: 4px; background: #e8f5fa; }}
.buttons button {{ font-size: 16px; margin-right: 4px; cursor: pointer; }}
.mention {{ background: #e8f5fa; color: #1264a3; }}
pre {{ background: #f6f6f6; padding: 6px; }}
</style></head>
<body>
<header>{banner} <small>· local stand-in for Slack run by aof-airflow's sandbox; nothing here reaches a real workspace</small></header>
<div class="wrap">
<nav><div>AOF Sandbox</div><ul>{channels}</ul>
<label for="user">React as</label><select id="user">{users}</select>
<label><small>Reactions count only from approvers the flow is configured with.</small></label></nav>
<main><h2>#{channel}</h2><div id="messages">{messages}</div></main>
</div>
<script>
const channel = decodeURIComponent("{qchannel}");
const userSel = document.getElementById("user");
if (localStorage.getItem("aofSandboxUser")) userSel.value = localStorage.getItem("aofSandboxUser");
userSel.addEventListener("change", () => localStorage.setItem("aofSandboxUser", userSel.value));
document.addEventListener("click", async (ev) => {{
  const b = ev.target.closest("button.react");
  if (!b) return;
  const r = await fetch("/sandbox/react", {{method: "POST", headers: {{"Content-Type": "application/json"}},
    body: JSON.stringify({{channel: b.dataset.channel, ts: b.dataset.ts, name: b.dataset.name, user: userSel.value}})}});
  const j = await r.json();
  if (!j.ok) alert("sandbox: " + j.error);
  refresh();
}});
let last = "";
async function refresh() {{
  try {{
    const r = await fetch("/sandbox/fragment/" + encodeURIComponent(channel));
    const t = await r.text();
    if (t !== last) {{ last = t; document.getElementById("messages").innerHTML = t; }}
  }} catch (e) {{}}
}}
setInterval(refresh, 2000);
</script>
</body></html>
"""
