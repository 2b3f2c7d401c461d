"""The part each node plays in an incident, read from the flow's shape instead of guessed from node ids.

- approval: the nodes a human decides in (Approval / HumanApproval, a Slack node that waits for a reaction);
- rollback: an Agent node that runs on a condition and runs the same agent as an Agent node upstream of it
  (the second run of the agent that changed the cluster, when the change was not verified: its undo);
- escalate: the nodes after a rollback (they tell a human the fix did not hold);
- resolve: the nodes decided by the same node as a rollback but not on its branch, and what follows them (the
  "it worked" path: notify, close the incident).

A flow whose shape says otherwise names its nodes in annotations, each a comma-separated list of node ids:
`aof.dev/role-approval`, `aof.dev/role-rollback`, `aof.dev/role-escalate`, `aof.dev/role-resolve`. A DAG written
by hand (no AgentFlow behind it) says the same in its tags: `aof.dev/role-escalate:escalate`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields

from aof_airflow.spec.edges import decided_children, effective_conditions
from aof_airflow.spec.graph import ancestor_table
from aof_airflow.spec.models import AgentFlow, AgentNode

ANNOTATION_PREFIX = "aof.dev/role-"


@dataclass(frozen=True)
class FlowRoles:
    approval: tuple[str, ...] = ()
    rollback: tuple[str, ...] = ()
    escalate: tuple[str, ...] = ()
    resolve: tuple[str, ...] = ()

    @classmethod
    def for_flow(cls, flow: AgentFlow) -> FlowRoles:
        anc = ancestor_table(flow)
        agents = {n.id: n.config.agent_name for n in flow.spec.nodes if isinstance(n, AgentNode)}
        approval = [n.id for n in flow.spec.nodes if n.operator_key() == "Approval"]
        conditional = effective_conditions(flow)
        rollback = [nid for nid, agent in agents.items()
                    if conditional[nid] and any(agents.get(a) == agent for a in anc[nid])]
        escalate = [nid for nid in anc if nid not in rollback and any(r in anc[nid] for r in rollback)]
        deciders = {parent for parent, children in decided_children(flow).items() if set(children) & set(rollback)}
        first = [c for d in deciders for c in decided_children(flow)[d] if c not in rollback]
        resolve = [nid for nid in anc if nid in first or any(f in anc[nid] for f in first)]
        found = cls(tuple(approval), tuple(rollback), tuple(escalate), tuple(resolve))
        notes = flow.metadata.annotations
        named = {f.name: tuple(x.strip() for x in str(notes[ANNOTATION_PREFIX + f.name]).split(",") if x.strip())
                 for f in fields(cls) if ANNOTATION_PREFIX + f.name in notes}
        return cls(**{**found.__dict__, **named})

    @classmethod
    def from_tags(cls, tags: Iterable[str]) -> FlowRoles:
        """The roles a hand-written DAG's tags name (`aof.dev/role-<role>:<task id>[,<task id>...]`)."""
        named: dict[str, tuple[str, ...]] = {}
        roles = {f.name for f in fields(cls)}
        for tag in tags:
            key, sep, ids = tag.partition(":")
            role = key.removeprefix(ANNOTATION_PREFIX)
            if sep and key.startswith(ANNOTATION_PREFIX) and role in roles:
                named[role] = named.get(role, ()) + tuple(x.strip() for x in ids.split(",") if x.strip())
        return cls(**named)
