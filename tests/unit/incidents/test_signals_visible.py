"""Signals attached to a run or held back are visible where incidents are: the incidents page and
`aofctl flow logs` (table and JSON), each with the run's outcome."""

from __future__ import annotations

import json

from aof_airflow.cli import main
from aof_airflow.incidents import records, signals
from aof_airflow.incidents.ui import render_page

FLOW = "am-flow"
TARGET = "shop/deployment/cart"


def _storm(db) -> str:
    run = "am-0123456789abcdef-20261207010000"
    for i in range(20):
        d = signals.admit(f"{TARGET}#KubePodCrashLooping", TARGET, FLOW, run if i == 0 else f"other-{i}",
                          source="alertmanager", suppress_seconds=600, open_seconds=600, engine=db)
        assert d.run_id == run
    records.save(records.IncidentRecord(dag_id=FLOW, run_id=run, result="no_action", incident_id="am-0123456789abcdef"))
    held = signals.admit(f"{TARGET}#KubePodCrashLooping", TARGET, FLOW, "later", source="alertmanager",
                         suppress_seconds=600, open_seconds=600, engine=db)
    assert held.kind == "suppress" and held.run_id == run
    return run


def test_incidents_page_lists_the_signals_with_the_outcome(db):
    run = _storm(db)
    page = render_page(flow=FLOW, days=7, limit=50)
    assert 'id="signals-table"' in page
    row = page[page.index('id="signals-table"'):]
    assert "1 started, 19 attached, 1 suppressed" in row and "no_action" in row and run in row and TARGET in row


def test_flow_logs_prints_the_signals(db, capsys):
    run = _storm(db)
    assert main(["flow", "logs", FLOW, "--incidents"]) == 0
    out = capsys.readouterr().out
    assert "Signals (one remediation per target):" in out and "1 started, 19 attached, 1 suppressed" in out
    assert main(["flow", "logs", FLOW, "--incidents", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)["signals"]
    assert got[0]["run_id"] == run and got[0]["counts"] == {"started": 1, "attached": 19, "suppressed": 1}
    assert got[0]["outcome"] == "no_action"
