"""Which flows a Slack message starts: the flows' own `Slack` triggers and the Slack `kind: Trigger` documents.

A message is one run per flow, whatever Slack delivers: the run id is derived from the message (channel +
ts), so Slack's retries and the `message` event that accompanies an `app_mention` of the same post map to
the run already stored. Messages written by bots (this app's included), edits and other subtypes start
nothing: automation answering automation is how loops begin.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

from aof_airflow.spec.models import AgentFlow
from aof_airflow.spec.trigger_docs import SlackTriggerSpec, TriggerDocument, bindings
from aof_airflow.spec.triggers import MatchTrigger, SlackConfig, SlackTrigger

log = logging.getLogger(__name__)
CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{6,}$")
LEADING_MENTIONS = re.compile(r"^\s*(?:<@[A-Z0-9]+(?:\|[^>]*)?>[\s:,]*)+")
HUMAN_SUBTYPES = {None, "thread_broadcast", "file_share"}  # a person's new message; edits, joins, bots are not


@dataclass(frozen=True)
class SlackRoute:
    flow: AgentFlow
    config: SlackConfig
    command: str | None = None  # a Trigger document's command: the message must start with it
    source: str = "spec.trigger"

    @property
    def dag_id(self) -> str:
        return self.flow.name

    @property
    def flow_patterns(self) -> list[str]:
        """AOF's typeless `spec.trigger.patterns` of the flow: a further filter on what a Trigger routes to it."""
        trig = self.flow.spec.trigger
        return list(trig.patterns) if isinstance(trig, MatchTrigger) else []


def build_slack_routes(flows: Mapping[str, AgentFlow], triggers: Iterable[TriggerDocument] = ()) -> list[SlackRoute]:
    routes = [SlackRoute(f, f.spec.trigger.config) for _, f in sorted(flows.items())
              if isinstance(f.spec.trigger, SlackTrigger)]
    for doc in triggers:
        if isinstance(doc.spec, SlackTriggerSpec):
            routes += [SlackRoute(flows[b.flow], doc.spec.config, b.command, f"Trigger {doc.name}")
                       for b in bindings(doc) if b.flow in flows]
    return routes


def message_text(event: Mapping[str, Any]) -> str:
    """The text with the leading bot mention(s) removed (`<@U123> deploy api` -> `deploy api`)."""
    return LEADING_MENTIONS.sub("", str(event.get("text") or ""), count=1).strip()


def from_a_person(envelope: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    if event.get("bot_id") or event.get("bot_profile") or event.get("subtype") not in HUMAN_SUBTYPES:
        return False
    user = event.get("user")
    bots = {a.get("user_id") for a in envelope.get("authorizations") or () if isinstance(a, dict) and a.get("is_bot")}
    return bool(user) and user not in bots


def matches(route: SlackRoute, event: Mapping[str, Any], channel_name: Callable[[SlackRoute, str], str | None]) -> bool:
    cfg = route.config
    if event.get("type") not in cfg.events:
        return False
    if cfg.users and event.get("user") not in cfg.users:
        return False
    channel = str(event.get("channel") or "")
    if cfg.channels and not _channel_listed(route, channel, channel_name):
        return False
    text = message_text(event)
    if route.command:
        first = text.split(maxsplit=1)[0] if text else ""
        if first.lower() != route.command.lower():
            return False
    for patterns in (cfg.patterns, route.flow_patterns):
        if patterns and not any(re.search(p, text, re.IGNORECASE) for p in patterns):
            return False
    return True


def _channel_listed(route: SlackRoute, channel: str, channel_name: Callable[[SlackRoute, str], str | None]) -> bool:
    wanted = [c.lstrip("#") for c in route.config.channels]
    if channel in wanted:
        return True
    if all(CHANNEL_ID.match(c) for c in wanted):
        return False
    name = channel_name(route, channel)
    if name is None:
        log.warning("slack: the name of channel %s is unknown (flow %s lists channels by name); not started",
                    channel, route.flow.name)
        return False
    return name in wanted
