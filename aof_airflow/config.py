"""Settings of aof-airflow: the `[aof]` section of airflow.cfg, overridable by `AOF_<NAME>` env vars.

Airflow itself maps `AIRFLOW__AOF__<NAME>` onto the same section, so all three spellings work.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULTS: dict[str, str] = {
    "flows_folder": "",  # default: <dags folder>/flows
    "agents_folder": "",  # default: <dags folder>/agents
}


def setting(name: str, default: str | None = None) -> str | None:
    env = os.environ.get(f"AOF_{name.upper()}")
    if env is not None:
        return env
    try:
        from airflow.configuration import conf

        if conf.has_option("aof", name):
            return conf.get("aof", name)
    except Exception:  # airflow not configured (plain CLI use): env and defaults still apply
        pass
    return DEFAULTS.get(name, default) if default is None else default


def dags_folder() -> Path:
    try:
        from airflow.configuration import conf

        return Path(conf.get("core", "dags_folder"))
    except Exception:
        return Path(os.environ.get("AIRFLOW__CORE__DAGS_FOLDER", "dags"))


def flows_folder() -> Path:
    return Path(setting("flows_folder") or dags_folder() / "flows")


def agents_folder() -> Path:
    return Path(setting("agents_folder") or dags_folder() / "agents")
