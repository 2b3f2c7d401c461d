"""Settings (README "Settings"): `AOF_<NAME>`, then `AIRFLOW__AOF__<NAME>`, then `[aof]` in airflow.cfg, then the
default; typed, and a value that does not fit names the setting and the three places to fix it.

Each case runs in a fresh interpreter: Airflow reads airflow.cfg once, when `airflow.configuration` is imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

PROBE = textwrap.dedent("""
    import json
    from aof_airflow.config import setting, settings
    s = settings()
    print(json.dumps({"channel": s.escalation_channel, "timeout": s.approval_timeout_seconds,
                      "mount": s.relay_mount, "conn": s.slack_conn_id, "text": setting("approval_timeout_seconds"),
                      "secret": setting("slack_signing_secret"), "secret_repr": repr(s.slack_signing_secret)}))
""")


def probe(tmp_path, env: dict[str, str], cfg: str = "") -> subprocess.CompletedProcess:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    (home / "airflow.cfg").write_text(cfg)
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AOF_", "AIRFLOW"))}
    return subprocess.run([sys.executable, "-c", PROBE], env={**clean, "AIRFLOW_HOME": str(home), **env},
                          capture_output=True, text=True, timeout=120)


def values(out: subprocess.CompletedProcess) -> dict:
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


CFG = "[aof]\nescalation_channel = #from-cfg\napproval_timeout_seconds = 120\nrelay_mount = false\n" \
      "slack_signing_secret = s3cret-from-cfg\n"


def test_airflow_cfg_then_defaults(tmp_path):
    v = values(probe(tmp_path, {}, CFG))
    assert (v["channel"], v["timeout"], v["mount"], v["conn"]) == ("#from-cfg", 120.0, False, "slack_default")
    assert v["text"] == "120.0"
    assert v["secret"] == "s3cret-from-cfg" and "s3cret" not in v["secret_repr"]


def test_airflows_env_beats_the_file_and_ours_beats_both(tmp_path):
    v = values(probe(tmp_path, {"AIRFLOW__AOF__ESCALATION_CHANNEL": "#airflow-env",
                                "AIRFLOW__AOF__APPROVAL_TIMEOUT_SECONDS": "300"}, CFG))
    assert (v["channel"], v["timeout"]) == ("#airflow-env", 300.0)
    v = values(probe(tmp_path, {"AIRFLOW__AOF__ESCALATION_CHANNEL": "#airflow-env", "AOF_ESCALATION_CHANNEL": "#aof-env",
                                "AOF_SOME_FUTURE_SETTING": "env-value"}, CFG))
    assert (v["channel"], v["timeout"]) == ("#aof-env", 120.0)


def test_nothing_set_gives_the_documented_defaults(tmp_path):
    v = values(probe(tmp_path, {}))
    assert (v["channel"], v["timeout"], v["mount"], v["conn"]) == (None, None, True, "slack_default")


@pytest.mark.parametrize("where", ["AOF_APPROVAL_TIMEOUT_SECONDS", "cfg"])
def test_a_value_of_the_wrong_type_names_the_setting(tmp_path, where):
    env, cfg = ({where: "ten minutes"}, "") if where != "cfg" else ({}, "[aof]\napproval_timeout_seconds = ten minutes\n")
    out = probe(tmp_path, env, cfg)
    assert out.returncode != 0
    assert "setting approval_timeout_seconds = 'ten minutes'" in out.stderr
    assert "AOF_APPROVAL_TIMEOUT_SECONDS, AIRFLOW__AOF__APPROVAL_TIMEOUT_SECONDS or [aof] approval_timeout_seconds" in out.stderr


def test_a_changed_environment_is_seen_in_the_same_process(monkeypatch):
    from aof_airflow.config import settings

    monkeypatch.setenv("AOF_ESCALATION_CHANNEL", "#one")
    assert settings().escalation_channel == "#one"
    monkeypatch.setenv("AOF_ESCALATION_CHANNEL", "#two")
    assert settings().escalation_channel == "#two"


def test_a_pinned_span_reads_the_environment_once_and_then_lets_go(monkeypatch):
    """One parse of the DAG file pins the settings (thousands of operators read them); after it, changes show."""
    from aof_airflow.config import settings, settings_pinned

    monkeypatch.setenv("AOF_ESCALATION_CHANNEL", "#one")
    with settings_pinned() as pinned:
        monkeypatch.setenv("AOF_ESCALATION_CHANNEL", "#two")
        assert settings() is pinned and settings().escalation_channel == "#one"
    assert settings().escalation_channel == "#two"


def test_an_undeclared_name_is_an_error_not_a_fallback():
    from aof_airflow.config import setting

    with pytest.raises(KeyError, match="some_future_setting is not a declared setting"):
        setting("some_future_setting")


@pytest.mark.parametrize("where", ["cfg", "AIRFLOW__AOF__SHADOW_MOD"])
def test_an_unknown_name_in_the_aof_section_is_a_typo_and_an_error(tmp_path, where):
    env, cfg = ({where: "true"}, "") if where != "cfg" else ({}, "[aof]\nshadow_mod = true\n")
    out = probe(tmp_path, env, cfg)
    assert out.returncode != 0
    assert "[aof] shadow_mod is not a setting (did you mean shadow_mode?)" in out.stderr, out.stderr[-2000:]
