"""`aofctl flow metrics|logs|describe` over the hand-computed fixture stored in a real (SQLite) table."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from aof_airflow.cli import main
from aof_airflow.incidents import records
from tests.unit.incidents.fixtures import EXPECTED, FLOW
from tests.unit.incidents.fixtures import records as fixture

UNTIL = "2026-11-20T12:00:00+00:00"


def test_flow_metrics_json_matches_hand_computed_numbers(db, capsys):
    records.save_many(fixture(), db)
    assert main(["flow", "metrics", FLOW, "--window", "7d", "--until", UNTIL, "--json"]) == 0
    m = json.loads(capsys.readouterr().out)
    assert m["runs"] == 8
    assert m["results"] == EXPECTED["results"]
    assert (m["success_rate"], m["auto_resolved_rate"], m["escalation_rate"]) == (0.75, 0.5, 0.375)
    assert m["approvals"]["wait_seconds"] == EXPECTED["approval_wait"]
    assert m["mttr_seconds"]["all"] == EXPECTED["mttr_all"]
    assert m["mttr_seconds"]["by_severity"]["high"] == EXPECTED["mttr_high"]


def test_flow_metrics_table(db, capsys):
    records.save_many(fixture(), db)
    assert main(["flow", "metrics", FLOW, "--window", "7d", "--until", UNTIL]) == 0
    out = capsys.readouterr().out
    rows = {ln.split()[0]: ln.split()[1] for ln in out.splitlines()[2:] if len(ln.split()) == 2}
    assert rows["runs"] == "8"
    assert rows["success_rate"] == "75.0%"
    assert rows["auto_resolved_rate"] == "50.0%"
    assert rows["escalation_rate"] == "37.5%"
    assert rows["approval_wait_median"] == "90s"
    assert rows["mttr_median"] == "3.5m"  # 210 s
    assert "high      3         2.0m         5.0m" in out  # MTTR by severity: count, median 120 s, p90 300 s


def test_wider_window_counts_the_older_record(db, capsys):
    records.save_many(fixture(), db)
    main(["flow", "metrics", FLOW, "--window", "30d", "--until", UNTIL, "--json"])
    assert json.loads(capsys.readouterr().out)["runs"] == 9


def test_flow_logs_lists_every_incident_response(db, capsys):
    records.save_many(fixture(), db)
    assert main(["flow", "logs", FLOW, "--incidents", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)["incidents"]
    # newest first; records 1-8 ended at the same moment (latest written first), record 9 a week earlier
    assert [r["incident_id"] for r in got] == [f"INC{i:03d}" for i in (8, 7, 6, 5, 4, 3, 2, 1, 9)]
    assert main(["flow", "logs", FLOW, "--incidents"]) == 0
    out = capsys.readouterr().out
    assert "INC007" in out and "failed" in out and "remediate" in out


def test_flow_logs_says_why_it_cannot_show_node_logs(db, capsys, monkeypatch):
    """No Airflow to read (here: a records-only database): the table, then the reason, and a non-zero exit."""
    monkeypatch.delenv("AOF_AIRFLOW_API_URL", raising=False)
    records.save_many(fixture(), db)
    assert main(["flow", "logs", FLOW]) == 1
    got = capsys.readouterr()
    assert "INC007" in got.out
    assert f"cannot read the runs of {FLOW}" in got.err and "prints the environment file to source" in got.err


def test_describe_and_agent_logs_say_where_they_looked(db, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("AOF_FLOWS_FOLDER", str(tmp_path))
    assert main(["flow", "describe", FLOW]) == 1
    err = capsys.readouterr().err
    assert f"no flow {FLOW!r} in {tmp_path}" in err and "trigger" in err
    assert main(["agent", "logs", "incident-diagnostic"]) == 2
    assert f"no flow node running agent 'incident-diagnostic' in {tmp_path}" in capsys.readouterr().err


def test_describe_has_a_success_rate_line_for_grep(db, tmp_path):
    """The tutorial: `aofctl flow describe incident-auto-response | grep success_rate` (console script)."""
    records.save_many(fixture(), db)
    env = {**os.environ, "AOF_FLOWS_FOLDER": str(Path(__file__).parents[3] / "dags" / "flows"),
           "AOF_DATABASE_URL": os.environ["AOF_DATABASE_URL"], "AOF_AIRFLOW_API_URL": ""}
    exe = Path(sys.executable).parent / "aofctl"
    r = subprocess.run([str(exe), "flow", "describe", FLOW, "--window", "3650d", "--source", "db"],
                       capture_output=True, text=True, env=env, timeout=120)
    # no Airflow tables in this records-only DB: everything else is shown, then why the DAG's state is not
    assert r.returncode == 1 and "no such table: dag" in r.stderr, r.stderr
    assert "dag_loaded: False" in r.stdout
    lines = [ln for ln in r.stdout.splitlines() if "success_rate" in ln]
    assert lines == ["success_rate: 0.6667"]  # 6 of 9 records of this flow (all time) completed
    assert "nodes: parse-alert(Transform), diagnose(Agent)" in r.stdout
