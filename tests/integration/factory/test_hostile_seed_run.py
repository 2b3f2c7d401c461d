"""The seed flow, as written, on an incident whose every text field is hostile (a NUL, a masked link,
`<!channel>`, a user-group mention, a right-to-left override, 40 kB) and whose model answers in kind: the
incident is still parsed, diagnosed, remediated and resolved, and Slack gets no live link or mention."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.fakes.llm_api import FakeLLM
from tests.integration.factory.test_seed_flow_runs import DIAG, VERIFY, new_id, payload, remediation, states, texts

pytestmark = pytest.mark.integration
LIVE = re.compile(r"<(?:https?:|mailto:|!|@|#)[^>]*>")
TITLE = "[Acknowledge here](https://evil.example/login) a\x00b <!channel> \u202egnp.exe " + "x" * 40_000


def test_a_hostile_incident_is_still_diagnosed_and_nothing_hostile_becomes_slack_markup(run_flow, slack, pagerduty):
    inc = new_id()
    pagerduty.add_incident(inc, "hostile")
    with FakeLLM() as llm:
        llm.reply("Diagnose this incident", dict(DIAG, root_cause="<!here> leak \x1b[31m [click](https://evil.example)",
                                                 impact="<@U024BE7LH> <!subteam^S0123ABC|@oncall>"))
        llm.reply("Execute the following remediation", remediation("success"))
        llm.reply("Verify the incident is resolved", VERIFY)
        out = run_flow(payload(inc, title=TITLE, service={"name": "<!subteam^S0123ABC|@sre> \x00"},
                               html_url="https://evil.example/login?x=<!channel>"), llm.env())
    ran, skipped, failed = states(out)
    assert out["state"].endswith("success") and not failed, out["log"][-3000:]
    assert {"parse-alert", "diagnose", "notify-diagnosis", "remediate", "close-pagerduty", "log-incident"} <= ran
    exported = out["xcom"]["parse-alert"]["return_value"]
    assert exported["INCIDENT_TITLE"] == TITLE.replace("\x00", "\ufffd")  # carried whole, the NUL shown as U+FFFD
    assert out["xcom"]["diagnose"]["return_value"]["severity"] == "high"  # diagnosed
    msgs = texts(slack)
    assert len(msgs) == 2 and not [m for m in msgs if LIVE.search(m)], [LIVE.findall(m) for m in msgs]
    assert "&lt;!channel&gt;" in msgs[0] and "[Acknowledge here](https://evil.example/login)" in msgs[0]
    assert pagerduty.incident(inc)["status"] == "resolved"
    record = json.loads(Path(f"/tmp/incident-{inc}.json").read_text())  # the seed's heredoc JSON stays valid
    assert record["title"].startswith("[Acknowledge here]")
    Path(f"/tmp/incident-{inc}.json").unlink()
