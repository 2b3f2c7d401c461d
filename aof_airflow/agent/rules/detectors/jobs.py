"""Job detectors: Jobs that failed, ran far past their history, and CronJobs that stopped scheduling."""

from __future__ import annotations

from ..facts import LONG_JOB, job_runtimes, silent_logs
from ..objects import Observation, condition, pod_name, pods_of, quote_event, statuses, tail
from .common import Finding, log_signatures


def detect_job_failed(obs: Observation) -> Finding | None:
    """A Job with condition Failed (BackoffLimitExceeded, DeadlineExceeded), with its failed pods' last log lines."""
    job = obs.job
    if not job:
        return None
    failed = condition(job, "Failed")
    st = job.get("status", {})
    if not (failed and failed.get("status") == "True") and not (st.get("failed") and not st.get("active") and not st.get("succeeded")):
        return None
    name = job["metadata"]["name"]
    ev = [f"job/{name}: condition Failed reason {(failed or {}).get('reason', '?')}: \"{(failed or {}).get('message', '')}\", "
          f"failed pods {st.get('failed', 0)}, backoffLimit {job.get('spec', {}).get('backoffLimit', 6)}"]
    bad = [p for p in pods_of(obs) if p.get("status", {}).get("phase") == "Failed"]
    for p in bad[-1:]:
        for cs in statuses(p):
            t = (cs.get("state") or {}).get("terminated") or {}
            ev.append(f"pod {pod_name(p)} container {cs['name']}: terminated exit code {t.get('exitCode', '?')} ({t.get('reason', '?')})")
            ev += [f"log tail: \"{ln}\"" for ln in tail(obs.logs.get(f"{pod_name(p)}/{cs['name']}"), 2)]
    ev += log_signatures(obs, bad)
    owner = f"cronjob/{obs.name}" if obs.kind == "cronjob" else f"job/{name}"
    return Finding(
        cls="job-failed", summary=f"{owner}: job {name} failed ({(failed or {}).get('reason', 'pods failed')}) after {st.get('failed', 0)} failed pod(s)",
        evidence=ev, action="none", confidence=0.85 if bad else 0.7, affected=[f"job/{name}"] + [pod_name(p) for p in bad],
        min_severity="medium", advice="fix what the failed pods' logs report, then re-run the Job (a Job is not restarted by a rollout)",
    )




def detect_job_running_long(obs: Observation) -> Finding | None:
    """A Job still active far longer than the Jobs of the same CronJob took (or blocking its CronJob's next runs:
    JobAlreadyActive / missed schedules)."""
    job, rt = obs.job, job_runtimes(obs)
    if not job or not rt:
        return None
    ran, took = rt
    blocked = [e for e in obs.events if e.get("reason") in ("JobAlreadyActive", "MissSchedule", "FailedNeedsStart")]
    if not ((took and ran > LONG_JOB * max(took)) or blocked):
        return None
    name = job["metadata"]["name"]
    ev = [f"job/{name}: active since {job['status']['startTime']} ({ran / 3600:.1f} h)"]
    if took:
        ev.append(f"earlier runs took at most {max(took) / 60:.0f} min ({len(took)} successful Job(s) read)")
    ev += [quote_event(e) for e in blocked[-1:]]
    running = {pod_name(p) for p in pods_of(obs) if p.get("status", {}).get("phase") == "Running"}
    silent = silent_logs(obs, running)
    ev += [f"pod {pod}: {why}" for pod, why in silent[:1]]
    return Finding(
        cls="job-running-long", summary=f"job/{name} has been running {ran / 3600:.1f} h" +
        (f", {ran / max(took):.0f}x its longest earlier run" if took else "") +
        (f"; {blocked[-1].get('reason')} events: the next scheduled runs do not start" if blocked else "") +
        (f"; its pod {silent[0][0]} stopped logging (hung: no progress since its last line)" if silent else ""),
        evidence=ev, confidence=0.75, affected=[f"job/{name}"],
        advice="find what the Job waits for (its pod's logs), then end it (kubectl delete job) so the schedule resumes; "
               "set activeDeadlineSeconds",
    )


def detect_cronjob_not_scheduling(obs: Observation) -> Finding | None:
    """A CronJob that is suspended or whose controller reports it cannot start runs."""
    if obs.kind != "cronjob" or not obs.target:
        return None
    cj = obs.target
    spec = cj.get("spec", {})
    name = cj["metadata"]["name"]
    evs = [e for e in obs.events if e.get("involvedObject", {}).get("name") == name and e.get("type") == "Warning"]
    if spec.get("suspend"):
        return Finding(cls="cronjob-suspended", summary=f"cronjob/{name} is suspended: no run is scheduled",
                       evidence=[f"cronjob/{name}: spec.suspend true, lastScheduleTime {cj.get('status', {}).get('lastScheduleTime', 'never')}"],
                       confidence=0.9, affected=[f"cronjob/{name}"], advice="resume it (spec.suspend: false) if the suspension was not deliberate")
    if evs and not obs.job:
        return Finding(cls="cronjob-not-scheduling", summary=f"cronjob/{name} reports it cannot start runs",
                       evidence=[quote_event(e) for e in evs[-2:]], confidence=0.7, affected=[f"cronjob/{name}"],
                       advice="read the CronJob's events above (schedule, missed start times, concurrency policy)")
    return None
