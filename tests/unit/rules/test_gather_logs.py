"""Which container logs a diagnosis reads: the crash's previous logs, and the current logs of containers that
restarted or whose pod is not Ready; a Ready pod's never-restarted containers are left alone."""

from __future__ import annotations

from typing import Any

from aof_airflow.agent.rules.gather import Gatherer, Observation


def pod(name: str, ready: bool, restarts: int, running: bool = True) -> dict[str, Any]:
    state = {"running": {}} if running else {"waiting": {"reason": "CrashLoopBackOff"}}
    return {"metadata": {"name": name},
            "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
                       "containerStatuses": [{"name": "app", "restartCount": restarts, "state": state}]}}


def test_healthy_containers_logs_are_not_read():
    obs = Observation(namespace="prod", kind="deployment", name="api", pods=[
        pod("healthy", ready=True, restarts=0),
        pod("recovered", ready=True, restarts=2),
        pod("unready", ready=False, restarts=0),
        pod("crashing", ready=False, restarts=5, running=False),
    ])
    keys = [key for key, _command in Gatherer(None, "prod")._log_commands(obs)]  # type: ignore[arg-type]
    assert keys == ["recovered/app/previous", "recovered/app", "unready/app", "crashing/app/previous"]


def test_an_init_container_that_holds_its_pod_back_is_read_finished_ones_are_not():
    """A pod stuck in Init (a migration waiting on a lock) says why only in its init container's log."""
    waiting = pod("migrating", ready=False, restarts=0)
    waiting["status"]["containerStatuses"][0]["state"] = {"waiting": {"reason": "PodInitializing"}}
    waiting["status"]["initContainerStatuses"] = [
        {"name": "certs", "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
        {"name": "migrate", "restartCount": 0, "state": {"running": {}}},
    ]
    obs = Observation(namespace="prod", kind="deployment", name="api", pods=[waiting])
    keys = [key for key, _command in Gatherer(None, "prod")._log_commands(obs)]  # type: ignore[arg-type]
    assert keys == ["migrating/migrate"]


def test_at_most_six_log_reads_are_planned():
    obs = Observation(namespace="prod", kind="deployment", name="api",
                      pods=[pod(f"p{i}", ready=True, restarts=1) for i in range(5)])
    assert len(Gatherer(None, "prod")._log_commands(obs)) == 6  # type: ignore[arg-type]


LOG_CLASSES = {"network-policy-blocking", "rbac-forbidden", "errors-in-logs"}  # causes only logs point to


def test_without_logs_every_scenario_gets_the_same_verdict_on_the_same_objects():
    """The remediation's check just before a change reads no logs, and reads them only when the objects alone show
    no fault (a Ready pod's logs can carry the only sign: Forbidden, timeouts). Sound while, after that fallback,
    logs never change whether there is a fault and where; which one they may refine (a NetworkPolicy behind a
    crash loop, a Forbidden behind a healthy-looking pod): true for every scenario the sandbox ships."""
    from aof_airflow.agent.rules import diagnose as dx
    from aof_lab.sandbox.scenario import SCENARIO_DIR

    from .offline import load_scenario, observation

    names = sorted(f.stem for f in SCENARIO_DIR.glob("*.yaml"))
    assert len(names) >= 29
    with_logs = 0
    for name in names:
        sc = load_scenario(name)
        full = observation(sc.objects, sc.incident.namespace, sc.incident.resource, logs=sc.logs, metrics=sc.metrics)
        state = observation(sc.objects, sc.incident.namespace, sc.incident.resource, logs={}, metrics=sc.metrics)
        with_logs += bool(full.logs)
        a, b = dx.diagnose(full), dx.diagnose(state)
        if b.cls == "no-fault-found":  # what RulesEngine.remediate does: read the logs before saying "no fault"
            b = dx.diagnose(full)
        refined = a.cls in LOG_CLASSES and b.cls in ("crash-loop", "oom-killed", "probe-failing")
        assert (a.cls == b.cls or refined, full.workload_ref, a.cls == "no-fault-found") == \
               (True, state.workload_ref, b.cls == "no-fault-found"), name
        if not refined:
            assert (a.primary.affected, a.output["affected_components"]) == (b.primary.affected, b.output["affected_components"]), name
    assert with_logs >= 10  # the comparison is not vacuous: most scenarios have logs to leave out


def test_a_pod_the_incident_names_has_its_logs_read_first() -> None:
    """Siblings listed first and healthy, the named pod last: its log is read even when the quiet reads are few."""
    from aof_airflow.agent.rules.pod_reads import PodReads

    def ready_pod(name: str) -> dict:
        return {"metadata": {"name": name}, "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
                                                         "containerStatuses": [{"name": "api", "ready": True, "restartCount": 0,
                                                                                "state": {"running": {}}}]}}

    reader = PodReads.__new__(PodReads)
    reader.ns, reader.log_tail = "shop", 20
    o = Observation(namespace="shop", kind="pod", name="api-3", pods=[ready_pod("api-1"), ready_pod("api-2"), ready_pod("api-3")])
    keys = [k for k, _ in reader._log_commands(o)]
    assert keys[0] == "api-3/api"


def test_when_every_pod_is_ready_the_running_containers_are_read_beside_the_restarted_ones():
    """A sidecar that restarted in a Ready pod tells little by itself: the container that serves, and a sibling's,
    show whether the pod fails now (one pod among healthy ones)."""
    obs = Observation(namespace="prod", kind="deployment", name="api", pods=[
        pod("recovered", ready=True, restarts=1), pod("healthy", ready=True, restarts=0)])
    keys = [key for key, _command in Gatherer(None, "prod")._log_commands(obs)]  # type: ignore[arg-type]
    assert keys == ["recovered/app/previous", "recovered/app", "healthy/app"]
    obs.pods.append(pod("unready", ready=False, restarts=0))
    keys = [key for key, _command in Gatherer(None, "prod")._log_commands(obs)]  # type: ignore[arg-type]
    assert "healthy/app" not in keys
