"""The tutorial's snippets (rate limit, runbook, metrics, daily report) fit the models as written."""

from __future__ import annotations

import textwrap

from aof_airflow.spec.loader import load_paths

from .spec_helpers import SNIPPETS, line_of, seed_files


def snippet(name: str, indent: int = 0) -> str:
    return textwrap.indent((SNIPPETS / name).read_text(), " " * indent)


def test_seed_flow_with_rate_limit_runbook_and_metrics_snippets(write):
    flow = seed_files()[0].read_text()
    rate = snippet("snippet-rate-limit.yaml").split("spec:\n", 1)[1]  # `  rate_limit:` block
    extra_nodes = snippet("snippet-runbook-nodes.yaml", 4) + snippet("snippet-track-metrics-node.yaml", 4)
    flow = flow.replace("\n  nodes:\n", "\n" + rate + "\n  nodes:\n" + extra_nodes, 1)
    flow += ("\n    - from: parse-alert\n      to: fetch-runbook\n"
             "\n    - from: fetch-runbook\n      to: diagnose-with-runbook\n"
             "\n    - from: diagnose\n      to: diagnose-with-runbook\n"
             "\n    - from: close-pagerduty\n      to: track-metrics\n")
    path = write("flow.yaml", flow)
    r = load_paths([path, *seed_files()[1:]])
    assert r.ok, "\n".join(map(str, r.problems))
    spec = r.flows["incident-auto-response"].spec
    assert (spec.rate_limit.max_concurrent, spec.rate_limit.queue_size, spec.rate_limit.timeout_seconds) == (3, 10, 1800)
    assert len(spec.nodes) == 17


def test_metrics_snippet_without_a_path_from_remediate_is_reported(write):
    flow = seed_files()[0].read_text().replace("\n  nodes:\n", "\n  nodes:\n" + snippet(
        "snippet-track-metrics-node.yaml", 4), 1) + "\n    - from: parse-alert\n      to: track-metrics\n"
    r = load_paths([write("flow.yaml", flow), *seed_files()[1:]])
    got = {(p.line, p.message.split(": ", 2)[1]) for p in r.problems}
    assert (line_of(flow, '"severity": "${diagnose.output.severity}"'), "${diagnose.output.severity}") in got
    assert (line_of(flow, '"auto_resolved"'), '${remediate.output.result == "success"}') in got
    assert len(r.problems) == 2


def test_daily_post_incident_flow_from_the_snippet(write):
    doc = ("apiVersion: aof.dev/v1\nkind: AgentFlow\nmetadata:\n  name: daily-post-incident\nspec:\n"
           "  trigger:\n    type: Schedule\n    config:\n      cron: '0 9 * * *'\n  nodes:\n"
           + snippet("snippet-daily-analysis-nodes.yaml", 4)
           + "  connections:\n    - from: daily-analysis\n      to: send-report\n")
    r = load_paths([write("daily.yaml", doc), *seed_files()[1:]])
    assert r.ok, "\n".join(map(str, r.problems))
    assert r.flows["daily-post-incident"].node("daily-analysis").config.agent == "post-incident-analyzer"
