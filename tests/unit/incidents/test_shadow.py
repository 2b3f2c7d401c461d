"""Shadow mode in the incident records: what would have run is kept with its dry run, counted by the metrics,
listed by `aofctl flow metrics` and on the Incidents page -- and never counted as a change applied."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta, timezone

from fastapi.testclient import TestClient

from aof_airflow.agent.types import Action
from aof_airflow.cli import main
from aof_airflow.incidents import metrics, records, ui
from aof_airflow.incidents.collector import NodeRun, RunView, build_record
from aof_airflow.spec.roles import FlowRoles

WOULD = "kubectl patch deployment/api -n production --type=merge -p '{\"spec\":{}}'"
DRY = ("$ kubectl patch deployment/api --type=strategic -p '{}' --namespace=production --dry-run=server\n"
       "deployment.apps/api patched (server dry run)")


def shadow_run(run_id: str, end: datetime) -> RunView:
    shadow = Action(command=WOULD, dry_run=DRY, snapshot="apiVersion: apps/v1", ok=True, shadow=True,
                    result=f"SHADOW MODE: not applied. Would have run: {WOULD}")
    applied = Action(command="kubectl delete pod x -n production", dry_run="$ ...", snapshot="-", result="pod deleted", ok=True)
    t0 = end - timedelta(seconds=90)
    nodes = [
        NodeRun("parse-alert", "success", t0, t0 + timedelta(seconds=1), output={"INCIDENT_ID": "TEST001", "INCIDENT_TITLE": "High memory"}),
        NodeRun("remediate", "success", t0 + timedelta(seconds=10), t0 + timedelta(seconds=40),
                output={"action_taken": f"shadow: would have run {WOULD}", "result": "failed"},
                meta={"model": "builtin:k8s-rules", "actions": [asdict(shadow)] + ([asdict(applied)] if run_id == "r2" else [])}),
        NodeRun("escalate", "success", t0 + timedelta(seconds=60), t0 + timedelta(seconds=61), output={"ts": "1"}),
    ]
    return RunView(dag_id="incident-auto-response", run_id=run_id, state="success", conf={}, start=t0, end=end, nodes=nodes,
                   roles=FlowRoles(escalate=("escalate",)))


def test_shadow_actions_are_recorded_counted_and_shown(db, monkeypatch, capsys):
    now = datetime.now(timezone.utc).replace(microsecond=0)
    recs = [build_record(shadow_run("r1", now - timedelta(minutes=5))), build_record(shadow_run("r2", now - timedelta(minutes=2)))]
    assert recs[0].shadow_actions[0]["command"] == WOULD and recs[0].result == "escalated"
    records.save_many(recs, db)

    m = metrics.compute(records.query(dag_id="incident-auto-response"))
    assert m["shadow"]["would_have_run"] == 2 and m["shadow"]["runs"] == 2
    assert m["changes_applied"] == 1  # only r2's real delete: a shadow record is not a change
    assert m["shadow"]["latest"][0]["run_id"] == "r2" and "--dry-run=server" in m["shadow"]["latest"][0]["dry_run"]

    assert main(["flow", "metrics", "incident-auto-response", "--window", "1h"]) == 0
    out = capsys.readouterr().out
    assert "shadow_would_have_run" in out and "2 in 2 run(s)" in out
    assert "shadow mode: what would have run" in out and WOULD[:40] in out and "patched (server dry run)" in out

    monkeypatch.setenv("AOF_INCIDENTS_UI_AUTH", "false")
    page = TestClient(ui.create_app()).get("/", params={"days": 1}).text
    assert '<h2 id="shadow">Shadow mode: what would have run' in page and "2 change(s) in 2 run(s), none applied" in page
    assert "would have run: kubectl patch deployment/api" in page and "deployment.apps/api patched (server dry run)" in page
    assert "&#x27;{&quot;spec&quot;:{}}&#x27;" in page  # the command is escaped, not markup
