"""What automation may change, decided in code before any mutation: the deployment's namespaces, a budget of
changes per resource, a cap on concurrent remediations, and shadow mode.

WHY here (the guarded toolbox) and not in a prompt or a flow: every engine -- a language model or the rules --
changes the cluster only through the change guard (`change_guard.py`), so one check there bounds them all. The incident's own
`custom_details.namespace` is only a request: the deployment's `[aof] allowed_namespaces` /
`denied_namespaces` cap it (kube-system and friends are denied unless the operator says otherwise).

Settings (`[aof]` or `AOF_<NAME>`):
  allowed_namespaces             patterns (fnmatch) automation may change; empty: every namespace not denied
  denied_namespaces              patterns never changed (default: DEFAULT_DENIED)
  remediation_budget             changes to one resource within the window (default 3)
  remediation_budget_window      the window, e.g. 10m, 1h (default 1h)
  max_concurrent_remediations    remediations between their change and the end of their verification, over
                                 every flow of the deployment (default 2)
  shadow_mode                    true: every change is a server dry run, recorded as "would have run" (default false)
  shadow_flows                   patterns of flow names run in shadow mode (the rest act), e.g. incident-*
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import Column, DateTime, Integer, String, Table, Text, func, select, update

from aof_airflow import db
from aof_airflow.agent.types import AgentScope
from aof_airflow.config import setting

DEFAULT_DENIED = "kube-system,kube-public,kube-node-lease,kube-flannel,*-system,cert-manager,tigera-operator,local-path-storage"
LEASE = timedelta(minutes=15)  # a remediation whose process died stops counting as running after this

ledger = Table(
    "aof_remediation_ledger",
    db.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("namespace", String(253), nullable=False),
    Column("target", String(400), nullable=False),  # "deployment/api", "pod/x"
    Column("command", Text, nullable=False),
    Column("flow", String(250)),
    Column("run_id", String(250)),
    Column("node_id", String(250)),
    Column("state", String(16), nullable=False),  # applied | shadow
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("active_until", DateTime(timezone=True), nullable=False),  # running until then (or released)
)


@dataclass(frozen=True)
class Limits:
    allowed: tuple[str, ...]
    denied: tuple[str, ...]
    budget: int
    window: timedelta
    concurrent: int
    shadow: bool
    shadow_flows: tuple[str, ...]

    @classmethod
    def from_settings(cls) -> Limits:
        return cls(
            allowed=_patterns(setting("allowed_namespaces") or ""),
            denied=_patterns(setting("denied_namespaces", DEFAULT_DENIED) or ""),
            budget=int(setting("remediation_budget") or 3),
            window=parse_window(setting("remediation_budget_window") or "1h"),
            concurrent=int(setting("max_concurrent_remediations") or 2),
            shadow=_true(setting("shadow_mode")),
            shadow_flows=_patterns(setting("shadow_flows") or ""),
        )

    def namespace_refusal(self, namespace: str | None) -> str | None:
        """Why automation may not change `namespace` (None: it may)."""
        if not namespace:
            return None
        hit = next((p for p in self.denied if fnmatch.fnmatchcase(namespace, p)), None)
        if hit:
            return (f"namespace {namespace!r} is denied to automation ([aof] denied_namespaces matches {hit!r}); "
                    "diagnose read-only and escalate to a human")
        if self.allowed and not any(fnmatch.fnmatchcase(namespace, p) for p in self.allowed):
            return (f"namespace {namespace!r} is not among the namespaces automation may change "
                    f"([aof] allowed_namespaces = {', '.join(self.allowed)}); escalate to a human")
        return None

    def shadow_for(self, flow: str | None) -> bool:
        return self.shadow or bool(flow and any(fnmatch.fnmatchcase(flow, p) for p in self.shadow_flows))


def parse_window(text: str) -> timedelta:
    """'10m', '1h', '2d', '90s' -> timedelta."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd])\s*", text or "")
    if not m:
        raise ValueError(f"[aof] remediation_budget_window {text!r}: use a number and one of s, m, h, d (e.g. 10m, 1h)")
    unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[m.group(2)]
    return timedelta(**{unit: float(m.group(1))})


def targets_of(kind_targets: list[str]) -> list[str]:
    """`kubectl` positional targets as "kind/name": ["deployment/api"] stays, ["pod", "a", "b"] -> pod/a, pod/b."""
    if not kind_targets:
        return []
    if "/" in kind_targets[0]:
        return [t.lower() for t in kind_targets if "/" in t]
    kind, names = kind_targets[0].lower(), kind_targets[1:]
    return [f"{kind}/{n}" for n in names] or [kind]


def refusal(limits: Limits, scope: AgentScope, namespace: str, targets: list[str], *, now: datetime | None = None) -> str | None:
    """Why this change may not be made now: the resource's budget is spent, or too many remediations are
    running (None: it may). A run may always undo what it changed itself (its rollback)."""
    if not scope.run_id:
        return None  # a change outside a flow run (`aofctl agent exec`): a human is at the keyboard
    now = now or datetime.now(timezone.utc)
    t = ledger
    with db.ensure_tables().connect() as c:
        for target in targets:
            rows = c.execute(
                select(t.c.created_at, t.c.run_id, t.c.node_id, t.c.command)
                .where(t.c.namespace == namespace, t.c.target == target, t.c.state == "applied",
                       t.c.created_at >= _utc(now - limits.window))
                .order_by(t.c.created_at)).all()
            if any(r.run_id == scope.run_id for r in rows):
                continue  # its own earlier change: undoing or finishing it is this run's business
            if len(rows) >= limits.budget:
                history = "; ".join(f"{_iso(r.created_at)} run {r.run_id} ({r.node_id}): {_short(r.command)}" for r in rows[-5:])
                return (f"remediation budget spent: {len(rows)} change(s) to {target} in {namespace} within the last "
                        f"{_human(limits.window)} (at most {limits.budget}, [aof] remediation_budget); escalate with the "
                        f"history: {history}")
        running = c.execute(
            select(t.c.run_id, t.c.node_id, t.c.target, t.c.created_at)
            .where(t.c.state == "applied", t.c.active_until > _utc(now), t.c.run_id != scope.run_id)
            .order_by(t.c.created_at)).all()
    busy = list(dict.fromkeys((r.run_id, r.node_id, r.target) for r in running))
    if len(busy) >= limits.concurrent:
        who = "; ".join(f"run {r} ({n}) on {tg}" for r, n, tg in busy[:5])
        return (f"{len(busy)} mutating remediation(s) already running (at most {limits.concurrent}, "
                f"[aof] max_concurrent_remediations): {who}; escalate instead of adding another")
    return None


def record(scope: AgentScope, namespace: str, targets: list[str], command: str, state: str, *,
           deadline: datetime | None = None) -> list[int]:
    """Note the change (or the shadow change) in the ledger; running until `deadline` or `release`."""
    now = datetime.now(timezone.utc)
    until = min(deadline or now + LEASE, now + LEASE) if state == "applied" else now
    ids = []
    with db.ensure_tables().begin() as c:
        for target in targets or ["?"]:
            res = c.execute(ledger.insert().values(
                namespace=namespace, target=target, command=command, flow=scope.flow, run_id=scope.run_id,
                node_id=scope.node_id, state=state, created_at=now, active_until=until))
            ids.append(int(res.inserted_primary_key[0]))
    return ids


def held(scope: AgentScope, *, now: datetime | None = None) -> list[int]:
    """The ledger rows this run's node still holds as running. At the end of a try they include those of an
    earlier try that died before releasing them: this node's remediation is over, so they end too, instead of
    counting against `max_concurrent_remediations` until their lease (`LEASE`) runs out."""
    if not scope.run_id:
        return []
    now = now or datetime.now(timezone.utc)
    with db.ensure_tables().connect() as c:
        rows = c.execute(select(ledger.c.id).where(
            ledger.c.run_id == scope.run_id, ledger.c.node_id == scope.node_id, ledger.c.state == "applied",
            ledger.c.active_until > _utc(now))).all()
    return [int(r.id) for r in rows]


def release(ids: list[int]) -> None:
    """The remediation that made these changes has ended (its verification is over)."""
    if not ids:
        return
    now = datetime.now(timezone.utc)
    with db.ensure_tables().begin() as c:
        c.execute(update(ledger).where(ledger.c.id.in_(ids), ledger.c.active_until > now).values(active_until=now))


def history(namespace: str, target: str, *, since: datetime | None = None) -> list[dict[str, str]]:
    """The ledger of one resource, oldest first (for escalations and tests)."""
    q = select(ledger).where(ledger.c.namespace == namespace, ledger.c.target == target)
    if since is not None:
        q = q.where(ledger.c.created_at >= _utc(since))
    with db.ensure_tables().connect() as c:
        return [dict(r._mapping) for r in c.execute(q.order_by(ledger.c.created_at, ledger.c.id))]


def count(state: str) -> int:
    with db.ensure_tables().connect() as c:
        return int(c.execute(select(func.count()).select_from(ledger).where(ledger.c.state == state)).scalar() or 0)


def _patterns(text: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in text.split(",") if p.strip())


def _true(v: str | None) -> bool:
    return (v or "").strip().lower() in ("1", "true", "yes", "on")


def _utc(v: datetime) -> datetime:
    # SQLite keeps the wall clock only: compare in UTC (what is stored).
    return v.astimezone(timezone.utc) if v.tzinfo else v.replace(tzinfo=timezone.utc)


def _iso(v: datetime) -> str:
    return _utc(v).strftime("%Y-%m-%dT%H:%M:%SZ")


def _short(command: str) -> str:
    return re.sub(r"-p '\{.*\}'", "-p '{restartedAt patch}'", command)[:160]


def _human(d: timedelta) -> str:
    s = d.total_seconds()
    return f"{s / 3600:g}h" if s >= 3600 and s % 3600 == 0 else (f"{s / 60:g}m" if s >= 60 else f"{s:g}s")
