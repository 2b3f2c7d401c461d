"""One shared, rate-limit-aware poll per (Slack connection, channel) inside the triggerer process.

Why shared: a hundred pending approvals must not mean a hundred pollers. Every trigger waiting on a message
in the same channel registers a `Watch` with the process-wide `ChannelPoller` for that channel; one
`conversations.history` call since the oldest pending message returns the reactions of all of them
(`reactions.get` per message is only the fallback). The poller honours `Retry-After`, backs its interval off
while nothing changes, never exceeds a calls-per-minute budget however many messages are pending, and reads
decisions recorded in the metadata DB (aofctl, Slack buttons / Events) on a fast, Slack-free cadence.

Nothing here is durable on purpose: a trigger's state is its serialized kwargs + the DB + Slack itself, so a
restarted triggerer rebuilds all of this by re-registering the watches.

(Airflow 3.3's `BaseEventTrigger.shared_stream_key` fan-out was considered: it serves asset watchers, not
task deferral, and its poll kwargs are fixed at group creation, so it cannot follow "oldest pending ts".)
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable, Iterable

from aof_airflow.approvals.outcome import Decision, Ignored, pick_from_reactions, pick_from_records
from aof_airflow.retry_after import retry_after_seconds
from aof_airflow.services import slack

log = logging.getLogger(__name__)
DEFAULT_RATE_LIMIT_WAIT = 30.0  # a 429 without a readable Retry-After

ClientFactory = Callable[[str], Awaitable[Any]]  # conn_id -> slack_sdk AsyncWebClient
DecisionReader = Callable[[Any], Awaitable[list[dict]]]  # a watch's ref -> its recorded decisions


@dataclass
class PollSettings:
    min_interval: float = 2.0  # seconds between polls right after something changed
    max_interval: float = 10.0  # ceiling of the back-off while nothing changes
    backoff: float = 1.5
    max_calls_per_minute: float = 20.0  # all Slack calls of one poller, whatever the number pending
    db_interval: float = 1.0  # decisions from aofctl / Slack actions are seen within this...
    db_reads_per_second: float = 50.0  # ...or slower with many pending: bounded load on the api-server
    page_limit: int = 999  # Slack caps history pages at 999; fewer, larger pages keep 200+ pending in 1 call
    group_ttl: float = 300.0  # user-group membership cache

    @classmethod
    def from_settings(cls) -> PollSettings:
        from aof_airflow.config import settings

        s, conf = cls(), settings()
        for value, attr in ((conf.approval_poll_min_seconds, "min_interval"),
                            (conf.approval_poll_max_seconds, "max_interval"),
                            (conf.approval_slack_calls_per_minute, "max_calls_per_minute"),
                            (conf.approval_db_poll_seconds, "db_interval")):
            if value:
                setattr(s, attr, value)
        return s


@dataclass(eq=False)
class Watch:
    """One pending approval message, registered by its trigger."""

    ts: str
    ref: Any  # decisions.TIRef of the waiting task instance (where recorded decisions are kept)
    approvers: tuple[str, ...] | None  # raw: user ids and/or user-group ids (S...); None = anyone
    bot_user_id: str | None
    label: str = ""
    logger: Any = None
    future: asyncio.Future = field(default=None)  # type: ignore[assignment]
    _logged: set = field(default_factory=set)

    def note_ignored(self, items: Iterable[Ignored]) -> None:
        for it in items:
            key = (it.reaction, it.user, it.why)
            if key not in self._logged:
                self._logged.add(key)
                (self.logger or log).warning(
                    "approval %s: ignoring :%s: from %s (%s)", self.label or self.ts, it.reaction, it.user, it.why)


class RateLimited(Exception):
    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limited, retry after {retry_after}s")
        self.retry_after = retry_after


async def default_client_factory(conn_id: str) -> Any:
    return await slack.async_client(conn_id)


async def default_decision_reader(ref: Any) -> list[dict]:
    from aof_airflow.approvals.decisions import read_decisions

    return await read_decisions(ref)


class ChannelPoller:
    def __init__(self, conn_id: str, channel: str, *, settings: PollSettings | None = None,
                 client_factory: ClientFactory = default_client_factory,
                 db_reader: DecisionReader | None = default_decision_reader,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.conn_id, self.channel = conn_id, channel
        self.settings = settings or PollSettings()
        self._client_factory, self._db_reader, self._clock = client_factory, db_reader, clock
        self._client: Any = None
        self._watches: dict[str, list[Watch]] = {}
        self._task: asyncio.Task | None = None
        self._wake = asyncio.Event()
        self.interval = self.settings.min_interval
        self._next_slack = 0.0
        self._next_db = 0.0
        self._digest = ""
        self.mode = "history"  # or "reactions.get" after history is refused (scope, not_in_channel)
        self._groups: dict[str, tuple[float, frozenset[str]]] = {}
        # Observability for tests and the benchmark.
        self.calls: Counter[str] = Counter()
        self.call_times: list[float] = []
        self.rate_limited = 0
        self.polls = 0

    # ------------------------------------------------------------------ registration

    def watch(self, ts: str, approvers: Iterable[str] | None, bot_user_id: str | None,
              label: str = "", logger: Any = None, ref: Any = None) -> Watch:
        w = Watch(ts=ts, ref=ref, approvers=tuple(approvers) if approvers is not None else None,
                  bot_user_id=bot_user_id, label=label, logger=logger,
                  future=asyncio.get_running_loop().create_future())
        self._watches.setdefault(ts, []).append(w)
        if self._task is None or self._task.done():
            self._next_slack = self._clock()  # a fresh poller looks right away (e.g. after a restart)
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"aof-poller-{self.channel}")
        return w

    def unwatch(self, w: Watch) -> None:
        lst = self._watches.get(w.ts, [])
        if w in lst:
            lst.remove(w)
        if not lst:
            self._watches.pop(w.ts, None)
        if not w.future.done():
            w.future.cancel()
        self._wake.set()

    @property
    def pending(self) -> list[Watch]:
        return [w for ws in self._watches.values() for w in ws if not w.future.done()]

    # ------------------------------------------------------------------ loop

    async def _run(self) -> None:
        while self._watches:
            try:
                await self._tick()
            except asyncio.CancelledError:
                raise
            except Exception:  # one bad answer must not silently end the wait of every pending approval
                log.exception("approval poller %s: unexpected error; carrying on", self.channel)
                await asyncio.sleep(self.settings.min_interval)

    async def _tick(self) -> None:
        now = self._clock()
        if self._db_reader is not None and now >= self._next_db:
            await self.check_db()
            gap = max(self.settings.db_interval, len(self.pending) / self.settings.db_reads_per_second)
            self._next_db = self._clock() + gap
        if now >= self._next_slack and self.pending:
            await self.poll_slack()
        nxt = min(self._next_slack, self._next_db if self._db_reader else self._next_slack)
        delay = max(0.05, nxt - self._clock())
        self._wake.clear()
        try:
            await asyncio.wait_for(self._wake.wait(), delay)
        except TimeoutError:
            pass

    async def check_db(self) -> None:
        """Decisions recorded on the waiting task instances (aofctl, Slack buttons / Events); no Slack call."""
        pending = [w for w in self.pending if w.ref is not None]
        if not pending or self._db_reader is None:
            return
        for i in range(0, len(pending), 25):
            batch = pending[i:i + 25]
            results = await asyncio.gather(*(self._db_reader(w.ref) for w in batch), return_exceptions=True)
            for w, records in zip(batch, results):
                if isinstance(records, BaseException):
                    # a slow/unreachable API must not kill any pending approval: Slack polling still works
                    log.warning("approval %s: reading recorded decisions failed: %r", w.label or w.ts, records)
                    continue
                if records and not w.future.done():
                    decision, ignored = pick_from_records(records, await self._approver_set(w), w.bot_user_id)
                    w.note_ignored(ignored)
                    if decision:
                        self._resolve(w, decision)

    async def poll_slack(self) -> None:
        """One shared look at Slack for every pending message; schedules the next one."""
        pending = self.pending
        self.polls += 1
        wanted = {w.ts for w in pending}
        calls_before = sum(self.calls.values())
        reactions: dict[str, list] = {}
        try:
            if self.mode == "history":
                reactions = await self._history(wanted)
                missing = wanted - reactions.keys()
                if missing:  # not found in history (edited away? paginated past?): ask per message
                    reactions.update(await self._reactions_get(sorted(missing)))
            else:
                reactions = await self._reactions_get(sorted(wanted))
        except RateLimited as rl:
            self.rate_limited += 1
            log.warning("approval poller %s: Slack rate limit, waiting %.0fs (Retry-After)", self.channel,
                        rl.retry_after)
            self._next_slack = self._clock() + max(rl.retry_after, self.interval)
            return
        except Exception as exc:
            err = _slack_error(exc)
            if self.mode == "history" and err in {"not_in_channel", "missing_scope", "channel_not_found",
                                                  "method_deprecated", "ratelimited_history"}:
                log.warning("approval poller %s: conversations.history refused (%s); falling back to "
                            "reactions.get per message", self.channel, err)
                self.mode = "reactions.get"
                self._next_slack = self._clock() + self.settings.min_interval
                return
            log.warning("approval poller %s: poll failed: %r", self.channel, exc)
            self.interval = min(self.interval * self.settings.backoff, self.settings.max_interval)
            self._next_slack = self._clock() + self.interval
            return

        now_iso = datetime.now(timezone.utc).isoformat()
        changed = False
        for w in pending:
            if w.ts not in reactions:
                continue
            decision, ignored = pick_from_reactions(reactions[w.ts], await self._approver_set(w),
                                                    w.bot_user_id, now_iso)
            w.note_ignored(ignored)
            if decision:
                self._resolve(w, decision)
                changed = True
        digest = hashlib.sha1(repr(sorted((ts, _norm(r)) for ts, r in reactions.items())).encode()).hexdigest()
        if digest != self._digest:
            changed = True
            self._digest = digest
        self.interval = (self.settings.min_interval if changed
                         else min(self.interval * self.settings.backoff, self.settings.max_interval))
        used = sum(self.calls.values()) - calls_before
        budget_gap = used * 60.0 / self.settings.max_calls_per_minute
        self._next_slack = self._clock() + max(self.interval, budget_gap)

    def _resolve(self, w: Watch, decision: Decision) -> None:
        if not w.future.done():
            w.future.set_result(decision)

    # ------------------------------------------------------------------ Slack calls

    async def _call(self, method: str, **params: Any) -> dict:
        if self._client is None:
            self._client = await self._client_factory(self.conn_id)
        self.calls[method] += 1
        self.call_times.append(self._clock())
        from slack_sdk.errors import SlackApiError

        try:
            resp = await self._client.api_call(method, http_verb="GET", params=params)
        except SlackApiError as exc:
            r = exc.response
            if getattr(r, "status_code", None) == 429 or _slack_error(exc) == "ratelimited":
                wait = retry_after_seconds(getattr(r, "headers", None))
                raise RateLimited(max(1.0, DEFAULT_RATE_LIMIT_WAIT if wait is None else wait)) from exc
            raise
        return resp.data if hasattr(resp, "data") else resp

    async def _history(self, wanted: set[str]) -> dict[str, list]:
        oldest = min(wanted, key=float)
        found: dict[str, list] = {}
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"channel": self.channel, "oldest": oldest, "inclusive": "true",
                                      "limit": self.settings.page_limit}
            if cursor:
                params["cursor"] = cursor
            data = await self._call("conversations.history", **params)
            for m in data.get("messages", []):
                if m.get("ts") in wanted:
                    found[m["ts"]] = m.get("reactions") or []
            cursor = (data.get("response_metadata") or {}).get("next_cursor")
            if not cursor or len(found) == len(wanted):
                return found

    async def _reactions_get(self, tss: list[str]) -> dict[str, list]:
        found: dict[str, list] = {}
        for ts in tss:
            try:
                data = await self._call("reactions.get", channel=self.channel, timestamp=ts, full="true")
            except RateLimited:
                if found:
                    return found  # keep what we have; the budget gap spaces the next round
                raise
            except Exception as exc:
                log.warning("approval poller %s: reactions.get %s failed: %s", self.channel, ts, _slack_error(exc))
                continue
            found[ts] = (data.get("message") or {}).get("reactions") or []
        return found

    async def _approver_set(self, w: Watch) -> frozenset[str] | None:
        if w.approvers is None:
            return None
        users: set[str] = set()
        for a in w.approvers:
            if a.startswith("S"):
                users |= await self._group_members(a)
            else:
                users.add(a)
        return frozenset(users)

    async def _group_members(self, group: str) -> frozenset[str]:
        hit = self._groups.get(group)
        if hit and self._clock() - hit[0] < self.settings.group_ttl:
            return hit[1]
        try:
            data = await self._call("usergroups.users.list", usergroup=group)
            members = frozenset(data.get("users") or ())
        except Exception as exc:
            # Fail closed: an unknown group grants nobody; keep a stale list if we had one.
            log.warning("approval poller %s: expanding user group %s failed: %s", self.channel, group, exc)
            members = hit[1] if hit else frozenset()
        self._groups[group] = (self._clock(), members)
        return members


def _norm(reactions: list) -> tuple:
    return tuple(sorted((r.get("name", ""), tuple(sorted(r.get("users") or ()))) for r in reactions))


def _slack_error(exc: BaseException) -> str:
    resp = getattr(exc, "response", None)
    try:
        return str(resp["error"]) if resp is not None else type(exc).__name__
    except Exception:
        return type(exc).__name__


# ---------------------------------------------------------------------- the process-wide registry

_pollers: dict[tuple[str, str], ChannelPoller] = {}


def poller_for(conn_id: str, channel: str, **kwargs: Any) -> ChannelPoller:
    """The one poller of this triggerer process (and event loop) for `(conn_id, channel)`."""
    loop = asyncio.get_running_loop()
    key = (conn_id, channel)
    p = _pollers.get(key)
    if p is None or getattr(p, "_loop", None) is not loop:
        p = ChannelPoller(conn_id, channel, settings=kwargs.pop("settings", None) or PollSettings.from_settings(),
                          **kwargs)
        p._loop = loop  # type: ignore[attr-defined]
        _pollers[key] = p
    return p
