"""The seed flow's DAG as the scheduler sees it: tasks, edges and trigger rules read from the SERIALIZED DAG."""

from __future__ import annotations

from pathlib import Path

import pytest

from aof_airflow.factory.scan import build_dags, scan

REPO = Path(__file__).resolve().parents[3]
FOLDERS = [REPO / "dags/flows", REPO / "dags/agents"]

EDGES = {
    ("parse-alert", "diagnose"), ("diagnose", "notify-diagnosis"), ("notify-diagnosis", "check-severity"),
    ("check-severity", "request-approval"), ("check-severity", "auto-approve"),  # the repeated `to:` fan-out
    ("request-approval", "remediate"), ("auto-approve", "remediate"), ("remediate", "verify-fix"),
    ("verify-fix", "remediation-failed"), ("remediation-failed", "rollback"), ("remediation-failed", "notify-success"),
    ("rollback", "escalate"), ("notify-success", "close-pagerduty"), ("close-pagerduty", "log-incident"),
}


@pytest.fixture(scope="module")
def serialized() -> dict:
    from airflow.serialization.serialized_objects import DagSerialization

    dags = build_dags(FOLDERS, use_cache=False)
    assert list(dags) == ["incident-auto-response"]
    return DagSerialization.to_dict(dags["incident-auto-response"])["dag"]


def _tasks(ser: dict) -> dict[str, dict]:
    out = {}
    for t in ser["tasks"]:
        d = t.get("__var", t)
        out[d["task_id"]] = d
    return out


def test_tasks_and_edges(serialized):
    tasks = _tasks(serialized)
    assert set(tasks) == {a for e in EDGES for a in e}
    edges = {(tid, d) for tid, t in tasks.items() for d in t.get("downstream_task_ids", [])}
    assert edges == EDGES


def test_trigger_rules_join_and_skip_propagation(serialized):
    tasks = _tasks(serialized)
    rules = {tid: t.get("trigger_rule", "all_success") for tid, t in tasks.items()}
    # the only join: auto-approved OR human-approved
    assert rules.pop("remediate") == "none_failed_min_one_success"
    assert set(rules.values()) == {"all_success"}  # one upstream: a skipped upstream skips the node


def test_the_conditionals_may_skip_their_branches(serialized):
    """Serialized like a branch operator's, so a cleared branch the conditional skipped stays skipped."""
    tasks = _tasks(serialized)
    can_skip = {tid for tid, t in tasks.items() if t.get("_can_skip_downstream")}
    assert can_skip == {"check-severity", "remediation-failed"}


def test_dag_level_settings(serialized):
    assert serialized["dag_id"] == "incident-auto-response"
    assert serialized.get("schedule") in (None, "null") or serialized.get("timetable", {}).get("__type", "").endswith("NullTimetable")
    assert "aof" in serialized["tags"]
    assert "close-pagerduty" in serialized["doc_md"]
    assert "event" in str(serialized.get("params"))


def test_operator_classes_and_callbacks(serialized):
    tasks = _tasks(serialized)
    kinds = {tid: t["task_type"] for tid, t in tasks.items()}
    assert kinds["parse-alert"] == kinds["auto-approve"] == kinds["log-incident"] == "TransformOperator"
    assert kinds["diagnose"] == kinds["remediate"] == "AgentOperator"
    assert kinds["check-severity"] == kinds["remediation-failed"] == "ConditionalOperator"
    assert kinds["notify-diagnosis"] == "SlackMessageOperator"
    assert kinds["request-approval"] == "ApprovalNodeSensor"
    assert kinds["close-pagerduty"] == "HttpNodeOperator"
    assert all(t.get("has_on_failure_callback") for t in tasks.values())  # failure escalation everywhere


def test_agent_timeouts_bound_the_tasks():
    from aof_airflow.spec.nodes.base import GRACE

    dag = build_dags(FOLDERS, use_cache=False)["incident-auto-response"]
    assert dag.get_task("diagnose").execution_timeout.total_seconds() == 180 + GRACE
    assert dag.get_task("remediate").execution_timeout.total_seconds() == 300 + GRACE


def test_scan_cache_by_content(tmp_path, monkeypatch):
    monkeypatch.setenv("AOF_CACHE_FOLDER", str(tmp_path / "cache"))
    first = scan(FOLDERS)
    assert list((tmp_path / "cache").glob("scan-*.pickle"))
    again = scan(FOLDERS)
    assert list(again.plans) == list(first.plans) and again.agents.keys() == first.agents.keys()


def test_bad_file_does_not_hide_the_good_flow(tmp_path):
    import shutil

    flows = tmp_path / "flows"
    shutil.copytree(REPO / "dags/flows", flows)
    (flows / "broken.yaml").write_text(
        "apiVersion: aof.dev/v1\nkind: AgentFlow\nmetadata:\n  name: broken\nspec:\n  nodes:\n"
        "    - id: a\n      type: Transform\n      config:\n        scrpt: echo hi\n")
    from aof_airflow.factory import errors

    dags = build_dags([flows, REPO / "dags/agents"], use_cache=False)
    assert list(dags) == ["incident-auto-response"]
    bad = [p for p in errors.LAST_PROBLEMS if p.file.endswith("broken.yaml")]
    assert bad and bad[0].line >= 9


def test_a_task_parse_loads_neither_the_yaml_checks_nor_the_approval_poller(tmp_path):
    """Every task process parses the DAG file: from the scan cache that takes the models and the operators,
    not the YAML loader, the `${...}` parser or the approval trigger (a tenth of a second per task)."""
    import subprocess
    import sys

    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "AIRFLOW_HOME": str(tmp_path / "airflow"),
           "AOF_CACHE_FOLDER": str(tmp_path / "cache"), "AOF_FLOWS_FOLDER": str(FOLDERS[0]),
           "AOF_AGENTS_FOLDER": str(FOLDERS[1])}
    probe = ("import runpy, sys; runpy.run_path(sys.argv[1]); "
             "print(sorted(m for m in ('aof_airflow.spec.loader', 'aof_airflow.templating', 'aof_airflow.approvals.trigger',"
             " 'aof_airflow.spec.marked_yaml') if m in sys.modules))")
    runs = [subprocess.run([sys.executable, "-c", probe, str(REPO / "dags/aof_flows.py")], env=env, cwd=tmp_path,
                           capture_output=True, text=True, timeout=120) for _ in range(2)]
    assert all(r.returncode == 0 for r in runs), runs[-1].stderr[-2000:]
    assert "aof_airflow.spec.loader" in runs[0].stdout  # the first parse reads and checks the YAML ...
    assert runs[1].stdout.strip().splitlines()[-1] == "[]"  # ... the next ones use the cache


def test_nodes_without_retries_take_the_deployments_default_task_retries(tmp_path):
    """`[core] default_task_retries` is how an Airflow deployment says "retry what dies with its worker";
    the seed's nodes say nothing, so they follow it. The approval never retries: a retry would ask again."""
    import json
    import os
    import subprocess
    import sys

    flow = (REPO / "dags/flows/incident-response-flow.yaml").read_text()
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "f.yaml").write_text(flow.replace("      type: Transform\n", "      type: Transform\n      retries: 0\n", 1))
    code = (f"import json; from aof_airflow.factory.scan import build_dags; "
            f"d = build_dags([{str(tmp_path / 'flows')!r}, {str(REPO / 'dags/agents')!r}], use_cache=False)"
            f"['incident-auto-response']; print(json.dumps({{t.task_id: t.retries for t in d.tasks}}))")
    env = {**os.environ, "AIRFLOW__CORE__DEFAULT_TASK_RETRIES": "2"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, cwd=REPO)
    assert out.returncode == 0, out.stderr[-2000:]
    retries = json.loads(out.stdout.strip().splitlines()[-1])
    assert retries.pop("parse-alert") == 0  # the first Transform node now says `retries: 0`
    assert retries.pop("request-approval") == 0
    assert set(retries.values()) == {2}, retries


@pytest.mark.parametrize("enabled", [True, False])
def test_building_leaves_the_callers_garbage_collector_as_it_was(enabled, monkeypatch):
    """build_dags pauses the cyclic collector while it builds (see `cyclic_gc_paused`) and gives it back."""
    import gc

    from aof_airflow.factory import builder

    seen: list[bool] = []
    real = builder.build_planned

    def spy(*args, **kwargs):
        seen.append(gc.isenabled())
        return real(*args, **kwargs)

    monkeypatch.setattr(builder, "build_planned", spy)
    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        assert list(build_dags(FOLDERS, use_cache=False)) == ["incident-auto-response"]
        assert seen == [False] and gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()


def test_a_finding_in_copies_of_one_flow_is_one_warning_naming_every_copy(tmp_path):
    """The seed's repeated `to:` in five copies: two warnings (one per finding), each at the first copy's line
    and naming the other copies, instead of ten that Airflow would all list on the DAG file."""
    import shutil
    import warnings

    flows = tmp_path / "flows"
    flows.mkdir()
    seed = (REPO / "dags/flows/incident-response-flow.yaml").read_text()
    for i in range(5):
        (flows / f"copy-{i}.yaml").write_text(seed.replace("name: incident-auto-response", f"name: copy-{i}"))
    shutil.copytree(REPO / "dags/agents", tmp_path / "agents")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dags = build_dags([flows, tmp_path / "agents"], use_cache=False)
    assert sorted(dags) == [f"copy-{i}" for i in range(5)]
    found = [w for w in caught if w.category.__name__ == "AofSpecWarning"]
    assert [(Path(w.filename).name, w.lineno) for w in found] == [("copy-0.yaml", 253), ("copy-0.yaml", 269)]
    for w in found:
        text = str(w.message)
        assert "repeated `to:` key" in text and "the same in 4 other place(s)" in text
        assert f"{flows / 'copy-1.yaml'}:{w.lineno}" in text and text.endswith("and 1 more)")
