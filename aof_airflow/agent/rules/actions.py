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
from .budgets import budgets_allow_deleting
from .objects import Observation, pod_name, pod_ready
from .release_scope import failure_outside_revision


class Refuted(str):
    """A precondition the data show to be false (not merely unproven): the change cannot help, it is not proposed."""


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
    return (F.grows_with_uptime(obs) or F.exhausted_with_uptime(obs) or F.stalled_process(obs) or F.dependency_back(obs)
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


def _spec_changed(obs: Observation) -> str | None:
    rf = R.revision_facts(obs)
    if not obs.deployment:
        return Refuted("only a Deployment has revisions to undo here")
    if "changes" not in rf:
        return Refuted("the Deployment has no previous revision to return to")
    if not rf["changes"]:
        r = rf["rev"]
        return Refuted(f"revision {r.newest['metadata']['name']} differs from the previous one by nothing the process "
                       f"runs with ({', '.join(r.changes()) or 'only the restart annotation'}): an undo runs the same pods")
    return f"{rf['rev'].quote()}: the newest revision changes {', '.join(rf['changes'])}"


def _began_with_new_pods(obs: Observation) -> str | None:
    rf = R.revision_facts(obs)
    rolling = bool(obs.deployment and F.rollout_in_progress(obs.deployment))
    refused = F.refused_creations(obs, rf["rev"].newest["metadata"]["name"]) if rf.get("rev") and "changes" in rf else []
    if rolling and refused:
        return f"the rollout is in progress and the newest revision's pods cannot be created: {refused[0]}"
    if not rf.get("owned"):
        return None
    if rolling:
        return f"the {len(rf['failing'])} failing pod(s) all belong to the newest revision, whose rollout is in progress"
    if rf["recent"]:
        return f"the {len(rf['failing'])} failing pod(s) all belong to the newest revision, created less than 6 h ago"
    return None


def _previous_healthy(obs: Observation) -> str | None:
    rf = R.revision_facts(obs)
    if rf.get("prev_ready"):
        return f"the previous revision still has {rf['prev_ready']} ready pod(s)"
    if rf.get("served_hours", 0) >= SERVED_HOURS:
        return f"the previous revision was the live one for {rf['served_hours']:.0f} h until the newest replaced it"
    return None  # a scaled-down, short-lived revision's health is not in a snapshot: unproven


def _covered_by_previous(obs: Observation) -> bool:
    """The previous revision's ready pods already cover the desired replicas: an undo creates no pod."""
    rf = R.revision_facts(obs)
    desired = (obs.deployment or {}).get("spec", {}).get("replicas", 1)
    return "changes" in rf and desired > 0 and rf["prev_ready"] >= desired


def _undo_admissible(obs: Observation) -> str | None:
    rf = R.revision_facts(obs)
    if "changes" not in rf:
        return None
    if _covered_by_previous(obs):
        return f"the previous revision's {rf['prev_ready']} ready pod(s) need no new admission or placement"
    return _room(obs)


def _undo_refused(obs: Observation) -> str | None:
    if _covered_by_previous(obs):
        return None  # nothing new has to be admitted
    return _first(F.admission_refusals(obs) + F.quota_full(obs))


# Pod-spec fields the scheduler places a pod by (with the containers' resources): a revision that changed one of
# them can be what no node satisfies, and its undo brings back a placement that fit.
PLACEMENT = ("nodeSelector", "affinity", "tolerations", "topologySpreadConstraints", "priorityClassName", "schedulerName",
             "runtimeClassName", "nodeName")


def _scheduling_unchanged(obs: Observation) -> str | None:
    fails = F.scheduling_failures(obs)
    rf = R.revision_facts(obs)
    sched = [c for c in rf.get("changes") or [] if c.endswith("resources") or c in PLACEMENT]
    return _first(fails) if fails and not sched else None


def _config_not_from_revision(obs: Observation) -> str | None:
    if _covered_by_previous(obs):
        return None  # the previous revision's running pods already have their configuration
    both = R.missing_config_in_both(obs)
    if both:
        return both
    errs = F.config_errors(obs)
    return _first(errs) if errs and not R.revision_facts(obs).get("changes") else None


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


def _room(obs: Observation) -> str | None:
    """A Ready, schedulable, untainted node to place new pods on (refusals and full quotas are contraindications)."""
    ok = F.schedulable_nodes(obs)
    return f"{len(ok)} Ready untainted node(s): {', '.join(ok[:3])}" if ok else None


def _hot_loop(obs: Observation) -> str | None:
    sat, steady = F.cpu_saturated(obs), F.load_steady(obs)
    return f"{sat}; {steady}: the CPU burns without more work coming in" if sat and steady else None


def _stuck(obs: Observation) -> str | None:
    return _first([why for _, why in F.stuck_pods(obs)])


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
        Check("pod-spec-changed", "an undo returns a Deployment to its previous ReplicaSet; it helps only when the newest "
              "revision changed what the process runs with (image, command, args, env, resources, probes)", _spec_changed),
        Check("failures-began-with-new-pods", "the failing pods are the newest revision's, and it is recent or still rolling out",
              _began_with_new_pods),
        Check("previous-revision-healthy", "the revision returned to must have served", _previous_healthy),
        Check("pods-admitted-and-scheduled", "the undo's pods must be accepted and placed", _undo_admissible),
    ), (
        Check("admission-refuses-pods", "the previous revision's new pods would be refused the same way", _undo_refused),
        Check("scheduling-fails", "pods cannot be placed and the newest revision changed nothing about placement",
              _scheduling_unchanged),
        Check("config-error-not-from-revision", "the missing configuration is needed by the previous revision too",
              _config_not_from_revision),
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
        Check("room-on-nodes", "new replicas need a node to run on", _room),
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
        CONFIG,
        Check("limit-too-low", "the recreated pod needs the same memory from its start", F.killed_soon_after_start),
        HEAP,
        Check("probe-misconfigured", "the recreated pod fails the same misconfigured probe", F.probe_misconfigured),
        SLOTS,
        Check("evictions-recur", "a pod evicted for its own usage over its own limit: the recreated pod is evicted "
              "the same way", F.recurring_evictions),
    )),
}
SERVED_HOURS = 1.0  # a revision live this long before a rollout replaced it had served
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
    why = verdicts[wanted].summary() if wanted in verdicts else "no change is proven to help"
    return Decision("none", None, False, verdicts, why)


def command_for(obs: Observation, action: str, given: str | None = None) -> str | None:
    ns = shlex.quote(obs.namespace)
    if action == "delete-pod":
        if given:
            return given
        stuck = F.stuck_pods(obs)
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
