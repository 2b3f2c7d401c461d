"""The change guard: the one place any engine changes the cluster, a wrapper around the Shell toolset.

A change (a mutating kubectl call, found by the scope guard) is, in order: not repeated when an earlier try of
this run already made it (`idempotency.py`); refused when the resource's budget is spent or too many
remediations run (`guards.py`, skipped in shadow mode); tried on the server first (`--dry-run=server`) while the
target's snapshot is taken (both only read); then made -- or, in shadow mode, recorded as what would have run.
A made change is recorded for retries and noted in the remediation ledger, whose lease ends at `close()`.

Changes of one Toolbox run one at a time, whichever thread asks: the record of what was made must be read and
written around each change, or two threads could both find it missing and both make it.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

from aof_airflow.agent.tools import guards, idempotency, shell
from aof_airflow.agent.tools.shell_toolset import SHELL, Command, ShellLayer, WrapperShell, with_status
from aof_airflow.agent.tools.toolset import ToolContext
from aof_airflow.agent.types import Action, ToolCall


class ChangeGuard(WrapperShell):
    """Idempotency, budget, dry run, snapshot, shadow mode and ledger around every change."""

    def __init__(self, wrapped: ShellLayer, ctx: ToolContext, limits: guards.Limits) -> None:
        super().__init__(wrapped)
        self.ctx = ctx
        self.limits = limits
        self.shadow = limits.shadow_for(ctx.scope.flow)  # every change a server dry run, recorded, not applied
        self._leases: list[int] = []  # ledger rows of changes made here: "running" until close()
        self._one_change = threading.Lock()

    def run(self, command: Command) -> ToolCall:
        if command.change is None or command.refused is not None:
            return self.wrapped.run(command)
        with self._one_change:
            return self._change(command)

    def _change(self, command: Command) -> ToolCall:
        call = command.change
        assert call is not None
        text = shell.quote(call.argv)
        note = self.ctx.journal.note
        try:
            previous = idempotency.recorded(self.ctx.scope, text)
        except Exception as e:  # the record is a safety net for retries; its outage must not block a fix
            previous = None
            note(f"could not read the change record ({type(e).__name__}: {e}); a retry may repeat: {text}")
        if previous is not None:
            self.ctx.journal.act(previous)
            note(f"already applied in an earlier try of this run, not repeated: {text}")
            return ToolCall(SHELL, command.args, previous.ok, f"(already applied earlier in this run)\n{previous.result}")
        namespace = call.namespace or ""
        targets = guards.targets_of(call.targets)
        if not self.shadow:
            refused = self._budget_refusal(namespace, targets)
            if refused:
                note(f"refused {text}: {refused}")
                return ToolCall(SHELL, command.args, False, f"refused: {refused}", refused=refused)
        dry_argv, snap_argv = call.dry_run_argv(), call.snapshot_argv()
        answers = self.wrapped.execute([dry_argv, *([snap_argv] if snap_argv else [])])
        dry, snap = answers[0], (answers[1] if snap_argv else None)
        if not dry.ok:
            return ToolCall(SHELL, command.args, False,
                            f"server dry run failed; the change was NOT made:\n{with_status(dry)}")
        snapshot = snap.output if snap and snap.ok else f"(no snapshot: {snap.output if snap else 'target not nameable'})"
        dry_record = f"$ {shell.quote(dry_argv)}\n{dry.output}"  # which dry run: restart's is a patch
        if self.shadow:
            said = f"SHADOW MODE: not applied. Would have run: {text}\nserver dry run: {dry.output.strip()}"
            self.ctx.journal.act(Action(command=text, dry_run=dry_record, snapshot=snapshot, result=said, ok=True,
                                        shadow=True))
            note(f"shadow mode: would have run {text}")
            self._ledger(namespace, targets, text, "shadow")
            return ToolCall(SHELL, command.args, True, said)
        real = self.wrapped.execute([call.argv])[0]
        action = Action(command=text, dry_run=dry_record, snapshot=snapshot, result=real.output, ok=real.ok)
        self.ctx.journal.act(action)
        if real.ok:
            try:
                idempotency.record(self.ctx.scope, action)
            except Exception as e:
                note(f"could not record the change ({type(e).__name__}: {e}): {text}")
            self._ledger(namespace, targets, text, "applied")
        out = f"dry run (server): {dry.output.strip()}\nsnapshot taken ({len(snapshot)} chars)\n{with_status(real)}"
        return ToolCall(SHELL, command.args, real.ok, out, truncated=real.truncated)

    def _budget_refusal(self, namespace: str, targets: list[str]) -> str | None:
        try:
            return guards.refusal(self.limits, self.ctx.scope, namespace, targets)
        except Exception as e:  # the budget cannot be known: a guard that cannot check does not let through
            return f"the remediation ledger is unavailable ({type(e).__name__}: {e}); no change without its check"

    def _ledger(self, namespace: str, targets: list[str], command: str, state: str) -> None:
        scope = self.ctx.scope
        if not scope.run_id:
            return
        until = None
        if self.ctx.deadline is not None:
            until = datetime.now(timezone.utc) + timedelta(seconds=max(0.0, self.ctx.deadline - time.monotonic()))
        try:
            self._leases += guards.record(scope, namespace, targets, command, state, deadline=until)
        except Exception as e:  # the change is made; only its count in the budget is lost
            self.ctx.journal.note(f"could not note the change in the remediation ledger ({type(e).__name__}: {e}): "
                                  f"{command}")

    def close(self) -> None:
        scope = self.ctx.scope
        with self._one_change:
            if self._leases or (scope.run_id and self.config and self.policy.may_mutate):
                try:  # this try's leases, and any an earlier try of this node left when its process died
                    guards.release(list(dict.fromkeys([*self._leases, *guards.held(scope)])))
                except Exception as e:  # the lease then ends by itself (guards.LEASE)
                    self.ctx.journal.note(f"could not end the remediation's lease ({type(e).__name__}: {e})")
                self._leases = []
        self.wrapped.close()

