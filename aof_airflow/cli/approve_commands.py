"""`aofctl approve RUN_ID --decision approve|pause|skip --user ID`: decide a pending approval without Slack.

Why: Slack may be down, or the on-call engineer is in a terminal. The decision is appended to the waiting task
instance's XCom (`aof_approval_decisions`, via the metadata DB) and the trigger picks it up within seconds; it counts only if USER is an approver, the same
rule as for reactions, and the outcome is still written to the Slack thread. An approval already decided
(in Slack, in Airflow's Required Actions, or by an earlier `aofctl approve`) is answered with who decided
it, where and when, and nothing is recorded.
"""

from __future__ import annotations

import argparse
import sys

from aof_airflow.approvals import decisions
from aof_airflow.approvals.outcome import DECISION_REACTIONS


def register(cli) -> None:
    p = cli.command("approve", approve, "Record a decision on a pending Slack approval (approve, pause, skip)")
    p.add_argument("run_id", metavar="RUN_ID", help="the DAG run id")
    p.add_argument("--decision", required=True, choices=["approve", "pause", "skip"])
    p.add_argument("--user", required=True, help="the Slack user id deciding (must be an approver)")
    p.add_argument("--node", default="request-approval", help="the approval node id (task id)")
    p.add_argument("--dag", default=None, help="the DAG id, when RUN_ID exists in several DAGs")


def approve(args: argparse.Namespace) -> int:
    done = decisions.decided(args.run_id, args.node, args.dag)
    if done:
        for ref, d in done:
            print(f"{ref.dag_id}/{ref.run_id}/{ref.task_id}: {d}; your {args.decision} was not recorded",
                  file=sys.stderr)
        return 1
    waiting = decisions.waiting_approvals(args.run_id, args.node, args.dag)
    if not waiting:
        print(f"no approval waiting for run {args.run_id!r} node {args.node!r} (not deferred, already decided, "
              "or no such run)", file=sys.stderr)
        return 1
    dags = {ref.dag_id for ref, _state, _kw in waiting}
    if len(dags) > 1:
        print(f"run {args.run_id!r} exists in several DAGs ({', '.join(sorted(dags))}); pass --dag", file=sys.stderr)
        return 2
    for ref, _state, kw in waiting:
        decisions.record_decision(ref, reaction=DECISION_REACTIONS[args.decision], user=args.user, source="cli")
        print(f"recorded {args.decision} by {args.user} for {ref.dag_id}/{ref.run_id}/{ref.task_id} "
              f"(message {kw.get('channel')}/{kw.get('ts')}); it counts if {args.user} is an approver")
    return 0
