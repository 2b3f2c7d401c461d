"""Agent memory: short summaries of past incidents, offered to the agent for the same service.

`SQLite` (the seed's): a file at the spec's path; a relative path is resolved against `[aof] memory_dir`
(default: the current directory, as the seed's `./incident-diagnostics.db` implies). `Airflow`: a table on
the metadata DB via `aof_airflow.db`, so several workers share one memory.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Column, DateTime, Integer, String, Table, Text, select

from aof_airflow import db
from aof_airflow.agent.types import AgentResult, AgentScope
from aof_airflow.config import settings
from aof_airflow.spec.models import Agent

memory_table = Table(
    "aof_agent_memory",
    db.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("agent", String(200), nullable=False, index=True),
    Column("service", String(250), nullable=False, index=True),
    Column("summary", Text, nullable=False),  # JSON
    Column("created_at", DateTime(timezone=True), nullable=False),
)
FIELDS = ("service", "incident_id", "when", "severity", "root_cause", "action", "result")


class MemoryStore(Protocol):
    def recent(self, service: str, limit: int) -> list[dict[str, Any]]: ...
    def add(self, service: str, summary: dict[str, Any]) -> None: ...


class SQLiteMemory:
    def __init__(self, path: Path, agent: str) -> None:
        self.path, self.agent = path, agent
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._conn() as c:
            c.execute(
                "CREATE TABLE IF NOT EXISTS incidents (id INTEGER PRIMARY KEY AUTOINCREMENT, agent TEXT NOT NULL,"
                " service TEXT NOT NULL, summary TEXT NOT NULL, created_at TEXT NOT NULL)"
            )

    def _conn(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30)

    def recent(self, service: str, limit: int) -> list[dict[str, Any]]:
        with self._conn() as c:
            rows = c.execute(
                "SELECT summary FROM incidents WHERE agent=? AND service=? ORDER BY id DESC LIMIT ?",
                (self.agent, service, limit),
            ).fetchall()
        return [json.loads(r[0]) for r in rows]

    def add(self, service: str, summary: dict[str, Any]) -> None:
        with self._conn() as c:
            c.execute(
                "INSERT INTO incidents (agent, service, summary, created_at) VALUES (?, ?, ?, ?)",
                (self.agent, service, json.dumps(summary), summary["when"]),
            )


class AirflowMemory:
    def __init__(self, agent: str) -> None:
        self.agent = agent

    def recent(self, service: str, limit: int) -> list[dict[str, Any]]:
        t = memory_table
        q = select(t.c.summary).where(t.c.agent == self.agent, t.c.service == service).order_by(t.c.id.desc()).limit(limit)
        with db.ensure_tables().connect() as conn:
            return [json.loads(r[0]) for r in conn.execute(q)]

    def add(self, service: str, summary: dict[str, Any]) -> None:
        with db.ensure_tables().begin() as conn:
            conn.execute(memory_table.insert().values(
                agent=self.agent, service=service, summary=json.dumps(summary), created_at=datetime.now(timezone.utc),
            ))


def store_for(agent: Agent) -> MemoryStore | None:
    mem = agent.spec.memory
    if mem is None:
        return None
    # Several workers (CeleryExecutor) cannot share a local SQLite file: `[aof] memory_backend = airflow`
    # moves every agent's memory into the metadata DB without editing the agents' YAML.
    if mem.type == "Airflow" or settings().memory_backend.lower() == "airflow":
        return AirflowMemory(agent.name)
    path = Path(mem.config.path or f"{agent.name}-memory.db").expanduser()
    if not path.is_absolute():
        path = Path(settings().memory_dir or ".").expanduser() / path
    return SQLiteMemory(path.resolve(), agent.name)


def summarize(result: AgentResult, scope: AgentScope) -> dict[str, Any]:
    """service, root cause, action, result: what a later run of the same service should know."""
    out = result.output if isinstance(result.output, dict) else {}
    text = result.text if not out else ""
    applied = "; ".join(a.command for a in result.actions)
    outcome = out.get("result")
    if not outcome and result.actions:
        outcome = "ok" if all(a.ok for a in result.actions) else "failed"
    summary = {
        "service": scope.service,
        "incident_id": scope.incident_id,
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "severity": out.get("severity"),
        "root_cause": out.get("root_cause") or (text[:300] if text else None),
        "action": applied or out.get("action_taken") or out.get("recommended_action"),
        "result": outcome,
    }
    return {k: v for k, v in summary.items() if v not in (None, "")}


def as_prompt(service: str, past: list[dict[str, Any]]) -> str:
    if not past:
        return ""
    lines = [f"Past incidents of service {service} (most recent first, from memory):"]
    for p in past:
        parts = [f"{k}: {p[k]}" for k in FIELDS[2:] if p.get(k)]
        lines.append(f"- {p.get('incident_id', '?')}: " + "; ".join(parts))
    return "\n".join(lines)
