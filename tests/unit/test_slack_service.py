"""One Slack module (aof_airflow/services/slack.py): the only place a Slack client is built, with one retry
policy, one hook per Connection, and the one definition of the action prefix and the reaction vocabulary."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler

from aof_airflow.services import slack

PRODUCT = Path(__file__).resolve().parents[2] / "aof_airflow"
SLACK_MODULE = PRODUCT / "services/slack.py"


def _trees():
    for path in sorted(PRODUCT.rglob("*.py")):
        yield path, ast.parse(path.read_text())


def test_no_module_but_the_slack_module_builds_a_slack_client():
    built = [f"{p.relative_to(PRODUCT)}:{n.lineno}" for p, t in _trees() if p != SLACK_MODULE for n in ast.walk(t)
             if isinstance(n, ast.Call) and getattr(n.func, "id", getattr(n.func, "attr", None))
             in ("SlackHook", "WebClient", "AsyncWebClient")]
    assert built == []


@pytest.mark.parametrize("name", ["ACTION_PREFIX", "OUTCOMES", "DECISION_REACTIONS", "APPROVE", "LOOK_ALIKE"])
def test_the_vocabulary_is_defined_once(name):
    defined = [str(p.relative_to(PRODUCT)) for p, t in _trees() for n in ast.walk(t)
               if isinstance(n, (ast.Assign, ast.AnnAssign))
               for target in (n.targets if isinstance(n, ast.Assign) else [n.target])
               for el in (target.elts if isinstance(target, ast.Tuple) else [target])
               if isinstance(el, ast.Name) and el.id == name]
    assert defined == ["services/slack.py"]


def test_one_hook_per_connection_with_one_retry_policy(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_SLACK_A", json.dumps({"conn_type": "slack", "password": "xoxb-a"}))
    monkeypatch.setenv("AIRFLOW_CONN_SLACK_B", json.dumps({"conn_type": "slack", "password": "xoxb-b"}))
    a, b = slack.hook("slack_a"), slack.hook("slack_b")
    assert slack.hook("slack_a") is a and a is not b and a.client is slack.hook("slack_a").client
    kinds = [type(h) for h in a.retry_handlers]
    assert kinds == [ConnectionErrorRetryHandler, RateLimitErrorRetryHandler]
    assert a.retry_handlers[1].max_retry_count == slack.RATE_LIMIT_RETRIES
    assert [type(h) for h in slack.hook("slack_a", waits=False).retry_handlers] == [ConnectionErrorRetryHandler]
    monkeypatch.setenv("AIRFLOW_CONN_SLACK_A", json.dumps({"conn_type": "slack", "password": "xoxb-rotated"}))
    assert slack.hook("slack_a") is not a  # a rotated token is picked up by a long-lived process


def test_reactions_and_recorded_words_map_to_one_outcome():
    assert [slack.outcome_of(r) for r in ("white_check_mark", ":x:", "double_vertical_bar", "approved", "rejected",
                                           "thumbsup")] == ["approved", "skipped", "paused", "approved", "skipped", None]


def test_entity_escaping_is_written_once():
    """`&amp;` is spelled in the Slack module only (the Markdown converter links a URL's `&` through it too)."""
    spelled = [f"{p.relative_to(PRODUCT)}" for p, t in _trees() if p != SLACK_MODULE for n in ast.walk(t)
               if isinstance(n, ast.Constant) and isinstance(n.value, str) and n.value == "&amp;"]
    assert spelled == []
