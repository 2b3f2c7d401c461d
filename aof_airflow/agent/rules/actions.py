"""The changes the engine can make, each with its preconditions and contraindications, as reviewable data.

WHY a table: whether a change may run without a human must not follow from the name of the cause (a wrong
class would then give a wrong, automatic change). Each action lists named checks, each with its reasoning and
a predicate over the raw observations that returns the quoted evidence when it holds. An action is proposed
without approval only when every precondition holds and no contraindication does; the same table guards a
language model's proposed change (`aof_airflow/agent/action_guard.py`).
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from typing import Callable

from . import facts as F
from . import release as R
from . import undo as U
from .budgets import budgets_allow_deleting
from .objects import Observation, Refuted, pod_name, pod_ready
from .outdated import on_update_revision, outdated_pods, stuck_outdated
from .release_scope import failure_outside_revision

Test = Callable[[Observation], "str | None"]


@dataclass(frozen=True)
class Check:
    """One named check: `test` returns the evidence sentence when it holds, None when the data do not show it,
    and (preconditions only) a `Refuted` sentence when the data show it false."""

    name: str
    reason: str
    test: Test


@dataclass(frozen=True)
class ActionRule:
    action: str
    preconditions: tuple[Check, ...]
    contraindications: tuple[Check, ...]


def _first(items: list[str]) -> str | None:
    return "; ".join(items[:2]) if items else None


def _controller(obs: Observation) -> str | None:
    return f"{obs.workload_ref} owns the pods" if obs.workload_ref else Refuted("no controller owns these pods")


def _not_stateful(obs: Observation) -> str | None:
    return None if obs.statefulset is not None else f"{obs.workload_ref or 'the workload'} is not a StatefulSet"


def _ran_healthily(obs: Observation) -> str | None:
    run = F.longest_run(obs)
    return run[1] if run and run[0] >= F.LONG_RUN_SECONDS else None


def _grows_or_stalled(obs: Observation) -> str | None:
    return (F.grows_with_uptime(obs) or F.exhausted_with_uptime(obs) or F.stalled_process(obs) or F.deadlock_in_every_pod(obs)
            or F.dependency_back(obs)
            or F.service_recreated_since_start(obs) or F.token_outlived(obs))


def _lost_under_pods(obs: Observation) -> str | None:
    lost = F.lost_nodes(obs)
    hit = sorted({p["spec"]["nodeName"] for p in F.failing_pods(obs) if p.get("spec", {}).get("nodeName") in lost})
    return "; ".join(lost[n] for n in hit) or None


def _forbidden_in_logs(obs: Observation) -> str | None:
    for key, text in sorted(obs.logs.items()):
        for ln in (text or "").splitlines():
            if "forbidden: User" in ln:
                return f"log of {key}: \"{ln.strip()[:160]}\""
    return None


def _saturation(obs: Observation) -> str | None:
    return F.cpu_saturated(obs)


def _capacity_missing(obs: Observation) -> str | None:
    w = obs.workload
    if w is not None and w.get("spec", {}).get("replicas", 1) == 0:
        raw = w["metadata"].get("annotations", {}).get("kubectl.kubernetes.io/last-applied-configuration")
        try:
            want = json.loads(raw).get("spec", {}).get("replicas") if raw else None
        except ValueError:
            want = None
        if isinstance(want, int) and want > 0:
            return f"{obs.workload_ref} runs 0 replicas; its last applied configuration asks for {want}"
    sat, rising = F.cpu_saturated(obs) or F.workers_busy(obs), F.load_rising(obs)
    return f"{sat}; {rising}" if sat and rising else None


def _no_hpa(obs: Observation) -> str | None:
    if obs.hpas is None:
        return None  # not read: unproven
    h = F.hpa_for(obs)
    if h is not None:
        return Refuted(f"horizontalpodautoscaler/{h['metadata']['name']} owns the replica count: it would undo a manual scale")
    return f"no HorizontalPodAutoscaler in {obs.namespace} targets {obs.workload_ref}"


def _hot_loop(obs: Observation) -> str | None:
    sat, steady = F.cpu_saturated(obs), F.load_steady(obs)
    return f"{sat}; {steady}: the CPU burns without more work coming in" if sat and steady else None


def _stuck(obs: Observation) -> str | None:
    return _first([why for _, why in F.stuck_pods(obs)] or stuck_outdated(obs))


def _recreated(obs: Observation) -> str | None:
    """Every pod that is not Ready has a controller that recreates it (a bare pod deleted is gone)."""
    candidates = [p for p in obs.pods if not pod_ready(p)] or obs.pods
    owners = [F.controller_of(p) for p in candidates]
    if obs.job is not None and any((o or "").startswith("Job/") for o in owners) and not F.backoff_left(obs.job):
        return Refuted(f"job/{obs.job['metadata']['name']} has used its backoffLimit: a deleted pod is not replaced")
    if owners and all(o and o.split("/")[0] in ("ReplicaSet", "StatefulSet", "DaemonSet", "Job") for o in owners):
        return f"controlled by {', '.join(sorted(set(o for o in owners if o)))}: a deleted pod is recreated"
    return None


def _one_writer(obs: Observation) -> str | None:
    """Unproven (None) for a StatefulSet pod on a lost node: whether its old process is dead is not in the data."""
    lost = F.lost_nodes(obs)
    hit = [pod_name(p) for p in obs.pods if p.get("spec", {}).get("nodeName") in lost]
    if obs.statefulset is not None and hit:
        return None
    return "no StatefulSet pod on a lost node: a replacement cannot run beside a live twin"


HUMAN_DECISIONS = {"no-state-at-stake"}
NO_STATE = Check("no-state-at-stake", "restarting or deleting a data store's replicas is a human's decision", _not_stateful)
ADMISSION = Check("admission-refuses-pods", "the API server refuses pods (webhook, quota, policy): new pods are refused too",
                  lambda o: _first(F.admission_refusals(o)))
QUOTA = Check("quota-full", "a ResourceQuota is used up: the surge pod a restart or scale needs is refused",
              lambda o: _first(F.quota_full(o)))
SCHEDULING = Check("scheduling-fails", "pods cannot be placed: new pods wait the same way",
                   lambda o: _first(F.scheduling_failures(o)))
CONFIG = Check("config-error", "the containers cannot start with this configuration: new ones fail the same way",
               lambda o: _first(F.config_errors(o)) or F.crashes_soon_after_start(o))
HEAP = Check("jvm-heap-fills-limit", "a JVM heap at or above the memory limit is killed under load whatever its uptime: "
             "a new process has the same arithmetic (lower -Xmx/MaxRAMPercentage or raise the limit)", F.heap_fills_limit)
SLOTS = Check("dependency-slots-full", "a server the pods depend on has no free connection slot: new pods open "
              "new pools and ask for more; whoever holds the slots must give them back", F.dependency_slots_full)
SATURATION = Check("saturation", "every pod is at its CPU limit: removing pods removes serving capacity under load", _saturation)

TABLE: dict[str, ActionRule] = {
    "rollout-restart": ActionRule("rollout-restart", (
        Check("has-controller", "a restart replaces pods through their controller", _controller),
        Check("ran-healthily-before", "a restart returns to a state the workload had; it cannot create one it never had",
              _ran_healthily),
        Check("grows-with-uptime-or-stalled", "a restart helps only what a fresh process does not have: memory or "
              "descriptors that grew with uptime, a process that stopped making progress, a dependency that is back, "
              "an address or a ServiceAccount token taken at start that changed or expired since (a Service recreated "
              "later has a new ClusterIP); environment or subPath files from a ConfigMap or Secret written later are not "
              "proof: a restart would roll out values nobody has run yet, so it waits for a human", _grows_or_stalled),
        NO_STATE,
    ), (
        ADMISSION, QUOTA, SCHEDULING, CONFIG, SATURATION, SLOTS,
        Check("limit-too-low", "killed soon after each start: a new process needs the same memory", F.killed_soon_after_start),
        HEAP,
        Check("probe-misconfigured", "the probe asks where nothing listens: new pods fail it the same way", F.probe_misconfigured),
        Check("node-not-ready", "the pods' node is lost: the workload is not what failed", _lost_under_pods),
        Check("permission-refused", "the API server refuses the ServiceAccount: a restart keeps the same permissions",
              _forbidden_in_logs),
        Check("dependency-down", "the dependency the crash names is still down: new pods crash the same way",
              F.dependency_down),
    )),
    "rollout-undo": ActionRule("rollout-undo", (
        Check("pod-spec-changed", "an undo returns a workload to its previous revision (ReplicaSet or ControllerRevision); "
              "it helps only when the newest revision changed what the process runs with (image, command, args, env, "
              "resources, probes)", U.spec_changed),
        Check("failures-began-with-new-pods", "the failing pods are the newest revision's, and it is recent or still rolling out",
              U.began_with_new_pods),
        Check("previous-revision-healthy", "the revision returned to must have served", U.previous_healthy),
        Check("pods-admitted-and-scheduled", "the undo's pods must be accepted and placed", U.undo_admissible),
        NO_STATE,
    ), (
        Check("admission-refuses-pods", "the previous revision's new pods would be refused the same way", U.undo_refused),
        Check("scheduling-fails", "pods cannot be placed and the newest revision changed nothing about placement",
              U.scheduling_unchanged),
        Check("config-error-not-from-revision", "the missing configuration is needed by the previous revision too",
              U.config_not_from_revision),
        Check("saturation-not-from-revision", "every pod is at its CPU limit and the saturation did not begin with the "
              "newest revision: an undo's rolling replacement removes capacity under load and changes nothing about it",
              lambda o: None if R.saturation_from_revision(o) else _saturation(o)),
        Check("node-not-ready", "the pods' node is lost: the revision is not what failed", _lost_under_pods),
        Check("failure-outside-revision", "a registry that refuses the pulls for a reason other than the reference "
              "(certificate, credentials, rate limit) serves the previous revision's images too; pods waiting on state "
              "other processes hold (a lock, connection slots) leave it held: the undo hides the failure, it does not "
              "heal it", failure_outside_revision),
    )),
    "scale": ActionRule("scale", (
        Check("has-controller", "replicas are set on a Deployment or StatefulSet",
              lambda o: _controller(o) if (o.deployment or o.statefulset) else Refuted("no Deployment or StatefulSet to scale")),
        Check("capacity-missing", "more replicas help only a workload short of capacity: saturated (CPU, or every "
              "request worker taken) under rising load, or running fewer replicas than its declared configuration",
              _capacity_missing),
        Check("no-autoscaler", "an HPA owns the replica count and would undo a manual scale", _no_hpa),
        Check("room-on-nodes", "new replicas need a node to run on", U.room),
    ), (
        Check("hot-loop", "CPU saturated while load is steady: more replicas spin the same way", _hot_loop),
        ADMISSION, QUOTA, SCHEDULING, SLOTS,
    )),
    "delete-pod": ActionRule("delete-pod", (
        Check("pod-stuck", "only a stuck pod is cleared by deleting it", _stuck),
        Check("controller-recreates", "a deleted pod must be recreated by its controller", _recreated),
        Check("budgets-allow", "a delete bypasses the PodDisruptionBudgets: every budget selecting a Ready pod to delete "
              "must allow a disruption", lambda o: budgets_allow_deleting(o, [n for n, _ in F.stuck_pods(o)])),
        Check("at-most-one-writer", "a StatefulSet promises at most one pod per identity: force-deleting a pod whose "
              "node is unreachable may start its twin while the old process still writes; a human confirms the node "
              "is down or fenced", _one_writer),
    ), (
        Check("scheduling-fails", "the recreated pod could not be placed either (its replacement already waits)",
              lambda o: _first(F.scheduling_failures(o))),
        # judged on the pods whose template the recreated pod runs: a pod left on an outdated revision comes back
        # at the update revision (`outdated.py`), its own failures do not carry over
        *(Check(c.name, c.reason, on_update_revision(c.test)) for c in (
            CONFIG,
            Check("limit-too-low", "the recreated pod needs the same memory from its start", F.killed_soon_after_start),
            HEAP,
            Check("probe-misconfigured", "the recreated pod fails the same misconfigured probe", F.probe_misconfigured))),
        SLOTS,
        Check("evictions-recur", "a pod evicted for its own usage over its own limit: the recreated pod is evicted "
              "the same way", F.recurring_evictions),
    )),
}
ORDER = ("delete-pod", "rollout-undo", "scale", "rollout-restart")  # among proven changes: the smallest first


@dataclass
class Verdict:
    """One action's checks over one set of observations."""

    action: str
    held: list[tuple[str, str]] = field(default_factory=list)  # (precondition, evidence)
    unproven: list[tuple[str, str]] = field(default_factory=list)  # (precondition, its reasoning)
    refuted: list[tuple[str, str]] = field(default_factory=list)  # (precondition, why the data show it false)
    contra: list[tuple[str, str]] = field(default_factory=list)  # (contraindication, evidence)

    @property
    def proven(self) -> bool:
        return not self.unproven and not self.contra and not self.refuted

    @property
    def only_a_human_missing(self) -> bool:
        """Everything proven but a precondition that asks for a human's decision (a data store's replicas)."""
        return bool(self.unproven) and not self.forbidden and all(n in HUMAN_DECISIONS for n, _ in self.unproven)

    @property
    def forbidden(self) -> bool:
        """Not to be proposed at all, not even behind approval: it cannot help or something forbids it."""
        return bool(self.contra or self.refuted)

    def summary(self) -> str:
        if self.contra or self.refuted:
            return f"{self.action} contraindicated: " + "; ".join(f"{n}: {e}" for n, e in self.contra + self.refuted)
        if self.unproven:
            return f"{self.action} not proven: " + "; ".join(f"{n} ({r})" for n, r in self.unproven)
        return f"{self.action} proven: " + "; ".join(f"{n}: {e}" for n, e in self.held)


def verdict(action: str, obs: Observation, table: dict[str, ActionRule] | None = None) -> Verdict:
    rule = (table or TABLE)[action]
    v = Verdict(action)
    for c in rule.preconditions:
        ev = c.test(obs)
        if isinstance(ev, Refuted):
            v.refuted.append((c.name, str(ev)))
        else:
            (v.held.append((c.name, ev)) if ev else v.unproven.append((c.name, c.reason)))
    for c in rule.contraindications:
        ev = c.test(obs)
        if ev:
            v.contra.append((c.name, ev))
    return v


@dataclass
class Decision:
    action: str  # the change proposed, or "none"
    command: str | None
    proven: bool  # every precondition held and no contraindication
    verdicts: dict[str, Verdict]
    why: str


def decide(obs: Observation, wanted: str, command: str | None = None, table: dict[str, ActionRule] | None = None) -> Decision:
    """The change to propose: a proven one first (the cause's own when proven), else the cause's own when nothing
    forbids it (then behind approval), else none. `wanted` is the change the cause calls for ("none" for none)."""
    verdicts = {a: verdict(a, obs, table) for a in ORDER}
    order = ([wanted] if wanted in verdicts else []) + [a for a in ORDER if a != wanted]
    for a in order:
        cmd = command_for(obs, a, command if a == wanted else None)
        if verdicts[a].proven and cmd:
            return Decision(a, cmd, True, verdicts, verdicts[a].summary())
    cmd = command_for(obs, wanted, command) if wanted in verdicts else None
    if cmd and not verdicts[wanted].forbidden:
        return Decision(wanted, cmd, False, verdicts, verdicts[wanted].summary())
    for a in ORDER:  # proven in all but a human's decision: proposed, behind approval
        cmd = command_for(obs, a)
        if verdicts[a].only_a_human_missing and cmd:
            return Decision(a, cmd, False, verdicts, verdicts[a].summary())
    why = verdicts[wanted].summary() if wanted in verdicts else "no change is proven to help"
    return Decision("none", None, False, verdicts, why)


def command_for(obs: Observation, action: str, given: str | None = None) -> str | None:
    ns = shlex.quote(obs.namespace)
    if action == "delete-pod":
        if given:
            return given
        stuck = F.stuck_pods(obs) or outdated_pods(obs)
        pods = [n for n, _ in stuck]
        # Terminating past its grace period or on a lost node: the kubelet will never confirm, only a forced
        # delete removes the object (the ReplicaSet has already replaced it)
        force = " --grace-period=0 --force" if any(": Terminating since" in w or " is on node " in w for _, w in stuck) else ""
        return f"kubectl delete pod {' '.join(shlex.quote(p) for p in pods)} -n {ns}{force}" if pods else None
    if action == "scale":
        w = obs.deployment or obs.statefulset
        if given or not w:
            return given
        now = w.get("spec", {}).get("replicas", 1)
        return f"kubectl scale {obs.workload_ref} --replicas={max(now + 1, (now * 3 + 1) // 2)} -n {ns}"
    if not obs.workload_ref:
        return None
    verb = {"rollout-restart": "restart", "rollout-undo": "undo"}[action]
    return f"kubectl rollout {verb} {obs.workload_ref} -n {ns}"
