"""The Markdown -> mrkdwn converter and the Slack renderer under fuzzing (hypothesis, with a time bound):
any text converts without hanging or raising, and a value never adds a link or a mention."""

from __future__ import annotations

import re
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aof_airflow.operators.mrkdwn import escape, render_mrkdwn, to_mrkdwn
from aof_airflow.templating import TemplateContext

LIVE = re.compile(r"<(?:https?:|mailto:|!|@|#)[^>]*>")
MARKUP = "[]()*_~`<>&!@#^|:/ \n\t\x00\x01\x1b\r\u202e\u2066\ue000\ue001\ue002\ue003\ud800"
TEXT = st.one_of(st.text(max_size=300), st.text(alphabet=MARKUP + "ahttps", max_size=2000),
                 st.text(alphabet=MARKUP + "a", min_size=1, max_size=40).map(lambda s: s * (40_000 // len(s))))
BOUND = 2.0  # seconds for any one conversion
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _bounded(fn, *args):
    t0 = time.monotonic()
    out = fn(*args)
    assert time.monotonic() - t0 < BOUND, f"{fn.__name__} took {time.monotonic() - t0:.2f}s on {len(args[0])} chars"
    return out


def test_the_old_failures():
    assert to_mrkdwn("a\0b") == "a\ufffdb"  # hung: the hold marker was a NUL
    assert to_mrkdwn("\x001\x00") == "\ufffd1\ufffd"  # raised IndexError
    assert to_mrkdwn("**Incident**: x") == "*Incident*: x"
    assert to_mrkdwn("[PD](https://pd.example/i/1) *it* ~~no~~") == "<https://pd.example/i/1|PD> _it_ ~no~"


@FUZZ
@given(TEXT)
def test_any_text_converts_in_bounded_time_and_only_markdown_links_become_links(text):
    out = _bounded(to_mrkdwn, text)
    live = LIVE.findall(out)
    assert all(m.startswith(("<http://", "<https://")) for m in live), live  # never a mention
    assert len(live) <= text.count("](http")


@FUZZ
@given(TEXT)
def test_a_value_adds_no_markup_wherever_it_stands(value):
    template = "🚨 **Incident**: ${v}\n- [Open](https://pd.example/i/${v}) `${v}` ~~${v}~~ [${v}](${v})"
    plain = render_mrkdwn(template, TemplateContext({"v": "x"}, variables=None))
    out = _bounded(render_mrkdwn, template, TemplateContext({"v": value}, variables=None))
    assert len(LIVE.findall(out)) <= len(LIVE.findall(plain)) + (1 if re.fullmatch(r"https?://\S+", value) else 0)
    assert not re.search(r"<[!@#]", out)


@FUZZ
@given(st.text(max_size=500))
def test_escape_leaves_no_angle_bracket_and_no_control(value):
    out = escape(value)
    assert "<" not in out and ">" not in out
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]", out)
