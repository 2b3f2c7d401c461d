"""The rollout undo's checks: whether returning a workload to its previous revision can help, and whether its pods
would be admitted and placed. A Deployment's revisions are ReplicaSets, a DaemonSet's or StatefulSet's are
ControllerRevisions (`revisions.py` reads both the same way), so one set of checks serves all three.

WHY apart from `actions.py`: the table there names these checks; what each proves about revisions is long enough to
be read on its own, and the table stays a table.
"""

from __future__ import annotations

from . import facts as F
from . import release as R
from .objects import Observation, Refuted

SERVED_HOURS = 1.0  # a revision live this long before a rollout replaced it had served
# Pod-spec fields the scheduler places a pod by (with the containers' resources): a revision that changed one of
# them can be what no node satisfies, and its undo brings back a placement that fit.
PLACEMENT = ("nodeSelector", "affinity", "tolerations", "topologySpreadConstraints", "priorityClassName", "schedulerName",
             "runtimeClassName", "nodeName")


def first(items: list[str]) -> str | None:
    return "; ".join(items[:2]) if items else None


def room(obs: Observation) -> str | None:
    """A Ready, schedulable, untainted node to place new pods on (refusals and full quotas are contraindications)."""
    ok = F.schedulable_nodes(obs)
    return f"{len(ok)} Ready untainted node(s): {', '.join(ok[:3])}" if ok else None


def spec_changed(obs: Observation) -> str | None:
    rf = R.revision_facts(obs)
    if not obs.workload:
        return Refuted("no Deployment, DaemonSet or StatefulSet owns these pods: nothing has revisions to undo")
    if rf.get("rev") is None and obs.controllerrevisions is None and not obs.deployment:
        return None  # a DaemonSet's or StatefulSet's ControllerRevisions were not read: unproven
    if "changes" not in rf:
        return Refuted(f"{obs.workload_ref} has no previous revision to return to")
    if not rf["changes"]:
        r = rf["rev"]
        return Refuted(f"revision {r.newest['metadata']['name']} differs from the previous one by nothing the process "
                       f"runs with ({', '.join(r.changes()) or 'only the restart annotation'}): an undo runs the same pods")
    return f"{rf['rev'].quote()}: the newest revision changes {', '.join(rf['changes'])}"


def began_with_new_pods(obs: Observation) -> str | None:
    rf = R.revision_facts(obs)
    on_previous = R.failing_on_previous(obs)
    if on_previous:
        return Refuted(on_previous)
    rolling = R.rolling(obs)
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


def previous_healthy(obs: Observation) -> str | None:
    rf = R.revision_facts(obs)
    if rf.get("prev_ready"):
        return f"the previous revision still has {rf['prev_ready']} ready pod(s)"
    if rf.get("served_hours", 0) >= SERVED_HOURS:
        return f"the previous revision was the live one for {rf['served_hours']:.0f} h until the newest replaced it"
    return None  # a scaled-down, short-lived revision's health is not in a snapshot: unproven


def covered_by_previous(obs: Observation) -> bool:
    """The previous revision's ready pods already cover the desired replicas: an undo creates no pod."""
    rf = R.revision_facts(obs)
    desired = R.desired(obs)
    return "changes" in rf and desired > 0 and rf["prev_ready"] >= desired


def undo_admissible(obs: Observation) -> str | None:
    rf = R.revision_facts(obs)
    if "changes" not in rf:
        return None
    if covered_by_previous(obs):
        return f"the previous revision's {rf['prev_ready']} ready pod(s) need no new admission or placement"
    return room(obs)


def undo_refused(obs: Observation) -> str | None:
    if covered_by_previous(obs):
        return None  # nothing new has to be admitted
    return first(F.admission_refusals(obs) + F.quota_full(obs))


def scheduling_unchanged(obs: Observation) -> str | None:
    fails = F.scheduling_failures(obs)
    rf = R.revision_facts(obs)
    ports = any("free ports" in f for f in fails)  # the scheduler's NodePorts filter: a hostPort already taken
    sched = [c for c in rf.get("changes") or [] if c.endswith("resources") or c in PLACEMENT
             or (ports and (c.endswith(" ports") or c == "hostNetwork"))]
    return first(fails) if fails and not sched else None


def config_not_from_revision(obs: Observation) -> str | None:
    if covered_by_previous(obs):
        return None  # the previous revision's running pods already have their configuration
    both = R.missing_config_in_both(obs)
    if both:
        return both
    errs = F.config_errors(obs)
    return first(errs) if errs and not R.revision_facts(obs).get("changes") else None
