"""The seed flow, as written, on an incident whose title is 600 KB and whose custom details are 300 KB (PagerDuty
allows details up to 512 KB): before, `parse-alert` died with `OSError: Argument list too long: 'bash'` and
the incident was never diagnosed. Now every node that reads them runs, in real Airflow (dag.test)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fakes.llm_api import FakeLLM
from tests.integration.factory.test_seed_flow_runs import DIAG, VERIFY, new_id, payload, remediation, states

pytestmark = pytest.mark.integration
TITLE = '"; touch /tmp/pwned-large-seed # $(touch /tmp/pwned-large-seed) ' + "pod OOMKilled é " * 37_500  # 600 KB
DETAIL = "deployment/api " + "x" * 300_000


def test_a_600_kb_title_and_300_kb_details_are_parsed_diagnosed_and_resolved(run_flow, slack, pagerduty):
    inc = new_id()
    pagerduty.add_incident(inc, "large")
    with FakeLLM() as llm:
        llm.reply("Diagnose this incident", DIAG)
        llm.reply("Execute the following remediation", remediation("success"))
        llm.reply("Verify the incident is resolved", VERIFY)
        out = run_flow(payload(inc, title=TITLE, custom_details={"namespace": "default", "resource": DETAIL}), llm.env())
    ran, skipped, failed = states(out)
    assert out["state"].endswith("success") and not failed, out["log"][-3000:]
    assert {"parse-alert", "diagnose", "notify-diagnosis", "remediate", "close-pagerduty", "log-incident"} <= ran
    exported = out["xcom"]["parse-alert"]["return_value"]
    assert exported["INCIDENT_TITLE"] == TITLE and exported["K8S_RESOURCE"] == DETAIL
    assert pagerduty.incident(inc)["status"] == "resolved"
    record = json.loads(Path(f"/tmp/incident-{inc}.json").read_text())  # the seed's heredoc, with 600 KB in it
    Path(f"/tmp/incident-{inc}.json").unlink()
    assert record["title"] == TITLE
    assert not Path("/tmp/pwned-large-seed").exists()
