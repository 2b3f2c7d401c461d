"""Remember each change an agent made, per (run, node, command), so a retried task never applies it twice.

The record lives in our table on the Airflow metadata DB (`aof_airflow.db`), shared by every worker. A call
outside a DAG run (no run_id, e.g. `aofctl agent exec`) is not recorded: there is no retry to protect.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict
from datetime import datetime, timezone

from sqlalchemy import Column, DateTime, String, Table, Text, select
from sqlalchemy.exc import IntegrityError

from aof_airflow import db
from aof_airflow.agent.types import Action, AgentScope

actions_table = Table(
    "aof_agent_actions",
    db.metadata,
    Column("key", String(64), primary_key=True),
    Column("run_id", String(250), nullable=False),
    Column("node_id", String(250), nullable=False),
    Column("command", Text, nullable=False),
    Column("action", Text, nullable=False),  # JSON of the Action
    Column("created_at", DateTime(timezone=True), nullable=False),
)


# `rollout restart` is sent as a patch stamped with the time it was made: a retry's restart of the same
# target is the same change, whatever the clock says by then.
_RESTART_STAMP = re.compile(r'("kubectl\.kubernetes\.io/restartedAt"\s*:\s*")[^"]*(")')


def _key(scope: AgentScope, command: str) -> str | None:
    if not scope.run_id:
        return None
    raw = json.dumps([scope.flow, scope.run_id, scope.node_id, _RESTART_STAMP.sub(r"\1*\2", command)])
    return hashlib.sha256(raw.encode()).hexdigest()


def recorded(scope: AgentScope, command: str) -> Action | None:
    """The Action already applied for this command in this run and node, if any."""
    key = _key(scope, command)
    if key is None:
        return None
    with db.ensure_tables().connect() as conn:
        row = conn.execute(select(actions_table.c.action).where(actions_table.c.key == key)).first()
    return Action(**json.loads(row[0])) if row else None


def record(scope: AgentScope, action: Action) -> None:
    key = _key(scope, action.command)
    if key is None:
        return
    row = {
        "key": key, "run_id": scope.run_id, "node_id": scope.node_id or "", "command": action.command,
        "action": json.dumps(asdict(action)), "created_at": datetime.now(timezone.utc),
    }
    try:
        with db.ensure_tables().begin() as conn:
            conn.execute(actions_table.insert().values(**row))
    except IntegrityError:  # a concurrent try recorded it first: theirs stands
        pass
