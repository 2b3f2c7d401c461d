"""docker-compose.yaml cannot run here (no Docker engine): these checks keep it correct instead.

They read the file the way Compose does (anchors and `<<` merges), then ask the real tools: Airflow's own
CLI parser for every Airflow command, aofctl's for the relay, our code for every AOF_* setting it sets.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from aof_airflow.config import AofSettings

ROOT = Path(__file__).resolve().parents[3]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yaml").read_text())
SERVICES = COMPOSE["services"]
AIRFLOW = ["airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer", "airflow-worker"]
LONG_RUNNING = ["postgres", "redis", "relay", *AIRFLOW]


def command_words(svc: dict) -> list[str]:
    cmd = svc.get("command", [])
    return shlex.split(cmd) if isinstance(cmd, str) else list(cmd)


def test_the_official_topology_is_there():
    assert set(SERVICES) >= {"postgres", "redis", "airflow-init", "relay", *AIRFLOW}
    assert SERVICES["airflow-worker"]["deploy"]["replicas"] >= 1
    assert SERVICES["relay"]["deploy"]["replicas"] == 2


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_every_long_running_service_has_a_health_check(name):
    check = SERVICES[name]["healthcheck"]["test"]
    assert check[0] in ("CMD", "CMD-SHELL") and len(check) > 1


@pytest.mark.parametrize("name", AIRFLOW + ["airflow-init", "relay"])
def test_airflow_services_share_the_image_and_the_celery_settings(name):
    svc = SERVICES[name]
    assert svc["image"] == "aof-airflow:0.1.0" and svc["build"] == "."
    env = svc["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
    assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://")
    assert env["AOF_DATABASE_URL"].startswith("postgresql+psycopg2://")  # Airflow hides its own URL from tasks
    assert env["AIRFLOW__CORE__DEFAULT_TASK_RETRIES"] == "1"  # a task whose worker died runs again elsewhere
    module, _, name = env["AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS"].rpartition(".")
    assert "task_publish_retry_policy" in getattr(__import__(module, fromlist=[name]), name)
    assert "AIRFLOW__API_AUTH__JWT_SECRET" in env
    assert "./dags:/opt/airflow/dags" in svc["volumes"]
    assert svc["env_file"] == [".env"]
    assert svc["depends_on"]["postgres"]["condition"] == "service_healthy"


@pytest.mark.parametrize("name", AIRFLOW)
def test_airflow_commands_parse_with_airflows_own_cli(name):
    from airflow.cli.cli_parser import get_parser

    args = get_parser().parse_args(command_words(SERVICES[name]))
    assert callable(args.func)


def test_relay_command_parses_with_aofctl():
    from aof_airflow.cli import build

    words = command_words(SERVICES["relay"])
    assert words[0] == "aofctl"
    args = build().parser.parse_args(words[1:])
    assert callable(args.func)


def test_dockerfile_matches_the_pinned_airflow():
    pinned = re.search(r"^apache-airflow==(\S+)$", (ROOT / "constraints.txt").read_text(), re.M).group(1)
    docker = (ROOT / "Dockerfile").read_text()
    assert f"ARG AIRFLOW_VERSION={pinned}" in docker
    assert re.search(r"^FROM apache/airflow:\$\{AIRFLOW_VERSION\}-python3\.11", docker.replace("${PYTHON_VERSION}", "3.11"), re.M)
    assert "-c /opt/aof/constraints.txt" in docker


def test_every_secret_compose_reads_is_documented_in_env_example():
    text = (ROOT / "docker-compose.yaml").read_text()
    used = set(re.findall(r"(?<!\$)\$\{([A-Z_][A-Z0-9_]*)", text))
    documented = set(re.findall(r"^([A-Z_][A-Z0-9_]*)=", (ROOT / ".env.example").read_text(), re.M))
    assert used - documented == set()


def test_every_aof_setting_compose_sets_is_read_by_the_code():
    env = SERVICES["airflow-scheduler"]["environment"]
    code = "\n".join(p.read_text() for p in (ROOT / "aof_airflow").rglob("*.py"))
    for key in (k for k in env if k.startswith("AOF_")):
        name = key[len("AOF_"):].lower()
        # a setting is read through `setting("name")`, or declared in AofSettings and read as `settings().name`
        declared = name in AofSettings.model_fields and re.search(rf"settings\(\)\.{name}\b", code)
        assert declared or re.search(rf"""setting\(\s*["']{name}["']|["']{name}["']\s*:""", code), \
            f"{key}: nothing reads {name!r}"
