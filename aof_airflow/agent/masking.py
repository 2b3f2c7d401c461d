"""The one masker: secrets never reach a log. Register them with Airflow's masker (task log + supervisor) and
redact our own lines with it; node operators, the escalation notifier and the agent runtime all use this.

Outside a task (plain CLI use, `aofctl eval`) the same masker still works in-process. Airflow is imported
on first use, not at module import: loading it costs seconds where it is not loaded yet (the agent runtime
runs in `aofctl` too). If it cannot be imported we fall back to a local set, so redaction never silently
turns off.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("aof.agent")
_local: set[str] = set()


def mask(secret: str | None, name: str | None = None) -> None:
    """Register `secret` so no log line (ours or Airflow's) prints it."""
    if not secret or len(secret) < 4:
        return
    _local.add(secret)
    try:
        from airflow.sdk.log import mask_secret  # deferred: see the module docstring

        mask_secret(secret, name)
    except Exception:  # SDK unavailable: our own redact() below still covers our lines
        pass


def redact(value: Any) -> Any:
    """`value` with every registered secret replaced by ***; Airflow's masker first, then ours."""
    try:
        from airflow.sdk.log import redact as airflow_redact  # deferred: see the module docstring

        value = airflow_redact(value)
    except Exception:
        pass
    if isinstance(value, str):
        for s in _local:
            value = value.replace(s, "***")
    return value
