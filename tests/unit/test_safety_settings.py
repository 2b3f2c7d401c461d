"""The safety settings are typed like every other: a typo stops the component as it starts, with an error
naming the setting and what it expects, instead of silently leaving shadow mode off or failing only when a
remediation runs (README "Settings")."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

import pytest

from aof_airflow.config import SettingsError, settings
from tests.locations import REPO

# setting, a typo, what the error must say it expects
TYPOS = [
    ("allowed_namespaces", "prod namespace", "namespace names or patterns"),
    ("denied_namespaces", "Kube-System", "namespace names or patterns"),
    ("remediation_budget", "three", "a whole number from 0 to 1000"),
    ("remediation_budget", "-1", "a whole number from 0 to 1000"),
    ("remediation_budget_window", "1 fortnight", "a duration"),
    ("remediation_budget_window", "0m", "a duration"),
    ("max_concurrent_remediations", "0", "a whole number from 1 to 1000"),
    ("max_concurrent_remediations", "two", "a whole number from 1 to 1000"),
    ("shadow_mode", "ture", "a boolean"),
    ("shadow_flows", "incident-* payments flow", "flow names or patterns"),
    ("model_changes_need_evidence", "maybe", "a boolean"),
    ("airflow_approvers", "alice bob", "a comma-separated list"),
    ("slack_api_url", "slack.com/api", "an http:// or https:// URL"),
    ("incident_all_dags", "yes please", "a boolean"),
    ("relay_mount", "flase", "a boolean"),
]


@pytest.fixture(autouse=True)
def _clean(monkeypatch):
    for k in list(os.environ):
        if k.startswith(("AOF_", "AIRFLOW__AOF__")):
            monkeypatch.delenv(k)


@pytest.mark.parametrize(("name", "typo", "expects"), TYPOS, ids=[f"{n}={t}" for n, t, _ in TYPOS])
def test_a_typo_in_a_safety_setting_is_an_error_naming_it(monkeypatch, name, typo, expects):
    monkeypatch.setenv(f"AOF_{name.upper()}", typo)
    with pytest.raises(SettingsError) as err:
        settings()
    msg = str(err.value)
    assert f"setting {name} = {typo!r}" in msg and expects in msg, msg
    assert f"AOF_{name.upper()}, AIRFLOW__AOF__{name.upper()} or [aof] {name}" in msg


def test_the_safety_settings_typed_values_and_defaults(monkeypatch):
    s = settings()
    assert (s.allowed_namespaces, s.remediation_budget, s.remediation_budget_window, s.max_concurrent_remediations,
            s.shadow_mode, s.shadow_flows, s.model_changes_need_evidence, s.airflow_approvers, s.slack_api_url) == (
        (), 3, timedelta(hours=1), 2, False, (), True, (), None)
    assert "kube-system" in s.denied_namespaces and "*-system" in s.denied_namespaces
    for k, v in {"ALLOWED_NAMESPACES": "prod-*, payments", "DENIED_NAMESPACES": "kube-system",
                 "REMEDIATION_BUDGET": "0", "REMEDIATION_BUDGET_WINDOW": "10m", "MAX_CONCURRENT_REMEDIATIONS": "5",
                 "SHADOW_MODE": "on", "SHADOW_FLOWS": "incident-*", "MODEL_CHANGES_NEED_EVIDENCE": "no",
                 "AIRFLOW_APPROVERS": "alice,bob", "SLACK_API_URL": "http://127.0.0.1:9/api/"}.items():
        monkeypatch.setenv(f"AOF_{k}", v)
    s = settings()
    assert (s.allowed_namespaces, s.denied_namespaces, s.remediation_budget, s.remediation_budget_window,
            s.max_concurrent_remediations, s.shadow_mode, s.shadow_flows, s.model_changes_need_evidence,
            s.airflow_approvers) == (("prod-*", "payments"), ("kube-system",), 0, timedelta(minutes=10), 5, True,
                                     ("incident-*",), False, ("alice", "bob"))


def test_the_guards_read_the_typed_limits(monkeypatch):
    from aof_airflow.agent.tools.guards import Limits

    monkeypatch.setenv("AOF_SHADOW_FLOWS", "incident-*")
    monkeypatch.setenv("AOF_REMEDIATION_BUDGET_WINDOW", "90")
    limits = Limits.from_settings()
    assert limits.shadow_for("incident-response") and not limits.shadow_for("nightly")
    assert limits.window == timedelta(seconds=90)
    assert limits.namespace_refusal("kube-system") and not limits.namespace_refusal("default")


def _start(code: str, env: dict[str, str], tmp_path) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AOF_", "AIRFLOW"))}
    clean.update({"AIRFLOW_HOME": str(tmp_path / "airflow"), "AOF_CACHE_FOLDER": str(tmp_path / "cache"), **env})
    return subprocess.run([sys.executable, "-c", code, str(REPO / "dags/aof_flows.py")], env=clean, cwd=tmp_path,
                          capture_output=True, text=True, timeout=180)


@pytest.mark.parametrize(("component", "code"), [
    ("the DAG file (dag-processor, every task)", "import runpy, sys; runpy.run_path(sys.argv[1])"),
    ("the relay", "from aof_airflow.relay.app import create_app; create_app(flows={})"),
    ("the plugin every Airflow component loads", "import aof_airflow.plugin"),
])
def test_a_typo_stops_each_component_as_it_starts(tmp_path, component, code):
    out = _start(code, {"AOF_SHADOW_MODE": "ture"}, tmp_path)
    assert out.returncode != 0, f"{component} started with shadow_mode = ture"
    assert "setting shadow_mode = 'ture'" in out.stderr and "expected a boolean" in out.stderr, out.stderr[-2000:]


LOAD_PLUGINS = ("from airflow import plugins_manager; plugins_manager.ensure_plugins_loaded(); "
                "print('LOADED WITHOUT', sorted(plugins_manager.get_import_errors()))")


@pytest.mark.parametrize(("name", "typo", "expects"), TYPOS, ids=[f"{n}={t}" for n, t, _ in TYPOS])
def test_airflows_plugin_loader_does_not_go_on_without_the_plugin(tmp_path, name, typo, expects):
    """Airflow's own loader (what every component runs at start) catches a plugin's `Exception` and goes on
    without it; a bad setting ends the process instead, naming the setting (the integration test
    tests/integration/harness/test_bad_settings_stop_airflow.py starts the real components)."""
    out = _start(LOAD_PLUGINS, {f"AIRFLOW__AOF__{name.upper()}": typo}, tmp_path)
    assert out.returncode != 0 and "LOADED WITHOUT" not in out.stdout, out.stdout[-2000:]
    assert "aof-airflow: not starting" in out.stderr and f"setting {name} = {typo!r}" in out.stderr, out.stderr[-2000:]
    assert expects in out.stderr


def test_a_task_process_does_not_run_without_the_plugin_either(tmp_path):
    """The task runner loads listeners through the Task SDK's own plugin loader (also `except Exception`)."""
    code = ("from airflow.sdk.listener import get_listener_manager; "
            "print('LOADED WITHOUT', get_listener_manager().has_listeners)")
    out = _start(code, {"AOF_REMEDIATION_BUDGET": "three"}, tmp_path)
    assert out.returncode != 0 and "LOADED WITHOUT" not in out.stdout, out.stdout[-2000:]
    assert "setting remediation_budget = 'three'" in out.stderr and "a whole number from 0 to 1000" in out.stderr
