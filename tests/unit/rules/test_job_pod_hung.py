"""delete-pod on a Job's hung pod and a restart on a leaked connection pool (rules/facts.py, rules/process.py): a
Job's pod whose log stopped while the Job runs far past its history is stuck (the Job replaces a deleted pod while
its backoffLimit allows); a connection pool with no free connection whose own leak detection fired, after days of
uptime, is a per-process resource leaked."""

from __future__ import annotations

from aof_airflow.agent.rules import actions as ax
from aof_airflow.agent.rules import facts as F

from .test_actions import at, deployment, obs, pod


def job(name: str, *, started: float, done: float | None = None, failed: int = 0, backoff: int = 6) -> dict:
    st = {"startTime": at(started)}
    st.update({"succeeded": 1, "completionTime": at(done)} if done is not None else {"active": 1})
    if failed:
        st["failed"] = failed
    return {"kind": "Job", "metadata": {"name": name, "ownerReferences": [{"kind": "CronJob", "name": "import"}]},
            "spec": {"backoffLimit": backoff}, "status": st}


def hung(*, silent_since: float = 70, active_for: float = 72, backoff: int = 6, failed: int = 0):
    """The newest Job has run 72 h; earlier ones took 4 min; its pod last logged 70 h ago."""
    earlier = [job(f"import-{i}", started=24 * i, done=24 * i - 4 / 60) for i in (4, 5, 6)]
    active = job("import-9", started=active_for, failed=failed, backoff=backoff)
    p = pod("import-9-x", started=at(active_for))
    p["metadata"]["ownerReferences"] = [{"kind": "Job", "name": "import-9", "controller": True}]
    logs = {"import-9-x/api": f"{at(silent_since)} INFO file.csv: 61% (26.9 MB)"}
    n = {"metadata": {"name": "n1"}, "spec": {}, "status": {"conditions": [
        {"type": "Ready", "status": "True", "lastHeartbeatTime": at(0.01)}]}}
    return obs(kind="cronjob", job=active, jobs=earlier + [active], pods=[p], logs=logs, nodes=[n])


def test_a_jobs_pod_silent_far_past_its_history_is_deleted() -> None:
    d = ax.decide(hung(), "none")
    assert d.action == "delete-pod" and d.proven, d.why
    assert "import-9-x" in (d.command or "")


def test_a_job_within_its_history_is_not_stuck() -> None:
    o = hung(active_for=0.05, silent_since=0.04)
    assert F.stuck_pods(o) == []
    assert ax.verdict("delete-pod", o).unproven[0][0] == "pod-stuck"


def test_a_job_pod_that_still_logs_is_not_stuck() -> None:
    assert F.stuck_pods(hung(silent_since=0.02)) == []


def test_a_job_out_of_backoff_does_not_replace_a_deleted_pod() -> None:
    v = ax.verdict("delete-pod", hung(backoff=2, failed=2))
    assert [n for n, _ in v.refuted] == ["controller-recreates"], v.summary()


POOL = ("2026-03-01T11:00:00Z WARN ProxyLeakTask - Connection leak detection triggered for conn@1\n"
        "2026-03-01T11:59:00Z WARN HikariPool-1 - Connection is not available, request timed out after 30000ms "
        "(total=20, active=20, idle=0, waiting=103)\n")


def pool(logs: str, started_hours: float = 24 * 19):
    d = deployment()
    pods = [pod(f"api-{i}", started=at(started_hours)) for i in (1, 2)]
    return obs(deployment=d, target=d, pods=pods, logs={"api-1/api": logs, "api-2/api": logs})


def test_a_pool_with_no_free_connection_that_reports_its_leak_proves_a_restart() -> None:
    v = ax.verdict("rollout-restart", pool(POOL))
    assert v.proven, v.summary()


def test_an_empty_pool_without_a_leak_report_is_not_a_leak() -> None:
    """A slow database holds every connection too: no leak report, no proof a fresh pool helps."""
    assert F.exhausted_with_uptime(pool(POOL.splitlines()[1] + "\n")) is None


def test_a_young_process_with_an_empty_pool_did_not_leak_over_uptime() -> None:
    assert F.exhausted_with_uptime(pool(POOL, started_hours=1)) is None
