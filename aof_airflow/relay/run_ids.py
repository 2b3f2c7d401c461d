"""DAG run ids the relay asks Airflow for: derived from the occurrence, and always ones Airflow accepts.

Airflow 3.3 refuses a run id containing `..`, one not matching `[scheduler] allowed_run_id_pattern`
(default `^[A-Za-z0-9_.~:+-]+$`), one longer than 250 characters, and one starting with a reserved prefix
(`manual__`, `scheduled__`, ...). Run ids also travel in REST paths (`/dagRuns/{run_id}`). So a run id is
built from letters, digits, `_` and `-` only, starts with `pd-`, and stays under 200 characters; an id that
does not fit is shown in a readable form plus a digest of the original (the original stays in the conf).

Occurrence: an incident's `incident.triggered` is its first run (`pd-<incident>`, the tutorial's run ids);
every other event a trigger names (a reopen, an escalation, a workflow) is an occurrence of its own, keyed
on PagerDuty's event id (`pd-<incident>-<event>-<event id>`), so a reopened incident runs again while a
redelivery of the same event maps to the run already stored.
"""

from __future__ import annotations

import hashlib
import re

SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
UNSAFE_CHARS = re.compile(r"[^A-Za-z0-9_-]+")
FIRST_EVENT = "incident.triggered"
MAX_RUN_ID = 200  # Airflow's column holds 250


def digest(value: str | bytes, n: int = 12) -> str:
    data = value.encode("utf-8", "surrogatepass") if isinstance(value, str) else value
    return hashlib.sha256(data).hexdigest()[:n]


def safe_part(value: str, keep: int = 40) -> str:
    """`value` itself when it is a plain id, else a readable part of it and a digest of all of it."""
    if SAFE.match(value):
        return value
    readable = UNSAFE_CHARS.sub("_", value)[:keep].strip("_-") or "id"
    return f"{readable}-{digest(value)}"


def incident_run_id(incident_id: str, event_type: str, occurrence: str) -> str:
    """The run of one occurrence of an incident (see the module docstring)."""
    base = f"pd-{safe_part(incident_id)}"
    if event_type == FIRST_EVENT:
        return base
    kind = safe_part(event_type.removeprefix("incident.").replace(".", "_"), 30)
    return f"{base}-{kind}-{safe_part(occurrence)}"[:MAX_RUN_ID]


def failed_run_id(occurrence: str) -> str:
    """A key for a delivery that cannot become a run (no usable incident id): one row per occurrence."""
    return f"pd-unusable-{safe_part(occurrence)}"
