"""The honest inventory, the mechanisms no shipped scenario shows yet, severity from impact, and the metrics
history entry point -- on hand-built objects (the shapes the API returns, only the fields that matter)."""

from __future__ import annotations

from aof_airflow.agent.rules import detectors as det
from aof_airflow.agent.rules.diagnose import diagnose
from aof_airflow.agent.rules.history import history_source, use_history_source
from aof_airflow.agent.rules.inventory import inventory
from aof_airflow.services.metrics_history import WorkloadHistory

from .test_actions import NOW, at, deployment, event, node, obs, pod, restart_base


def healthy():
    d = deployment()
    return obs(deployment=d, target=d, pods=[pod("api-1", started=at(5)), pod("api-2", started=at(5))])


def test_nothing_wrong_only_when_the_inventory_is_empty() -> None:
    o = healthy()
    assert inventory(o) == []
    d = diagnose(o)
    assert d.cls == "no-fault-found" and d.severity == "low" and "metrics history" in " ".join(d.output["not_examined"])
    o = healthy()  # a Service in front whose targetPort no container exposes: not "nothing wrong"
    o.services = [{"metadata": {"name": "api"}, "spec": {"selector": {"app": "api"}, "ports": [{"port": 80, "targetPort": 9000}]}}]
    d = diagnose(o)
    assert d.cls == "service-port-mismatch" and "targets 9000" in " ".join(d.output["anomalies"])
    assert d.action == "none" and d.output["severity"] != "low"


def test_an_anomaly_the_cause_does_not_explain_lowers_confidence_and_asks_approval() -> None:
    o = restart_base()
    alone = diagnose(o)
    assert alone.action == "rollout-restart" and alone.output["requires_approval"] is False
    o = restart_base()
    o.nodes = [node(taint=True)]  # the pods' node was tainted: not the leak's doing
    d = diagnose(o)
    assert d.action == "rollout-restart" and d.output["requires_approval"] is True
    assert d.output["confidence"] < alone.output["confidence"] and "Not explained by this cause" in d.output["root_cause"]


def test_saturation_under_load_is_not_a_restart() -> None:
    """Every pod at its CPU limit: the cause is named, a restart is forbidden, a scale waits for proof of load."""
    d0 = deployment()
    o = obs(deployment=d0, target=d0, pods=[pod("api-1", started=at(5)), pod("api-2", started=at(5))],
            cpu_usage={"api-1": 996, "api-2": 998})
    o.events.append(event("api-1", "Unhealthy", "Readiness probe failed: context deadline exceeded"))
    d = diagnose(o)
    assert d.cls == "cpu-saturated" and d.action == "scale" and d.output["requires_approval"] is True
    assert "saturation" in d.decision.verdicts["rollout-restart"].summary()
    o.history = WorkloadHistory(examined=True, cpu="saturated", load="rising", evidence=("requests x2 in 30 min",))
    proven = diagnose(o)
    assert proven.action == "scale" and proven.output["requires_approval"] is False
    o.history = WorkloadHistory(examined=True, cpu="saturated", load="steady", evidence=("requests flat",))
    assert diagnose(o).action == "none"  # a hot loop: more replicas spin the same way


def test_a_fail_closed_webhook_is_not_undone() -> None:
    d0 = deployment(ready=1, rolling=True)
    from .test_actions import replicaset, template

    new = replicaset("api-new", 2, template("shop/api:2"), created=at(0.5), ready=0)
    old = replicaset("api-old", 1, template("shop/api:1"), created=at(48), ready=0)
    o = obs(deployment=d0, target=d0, replicasets=[new, old], pods=[],
            events=[event("api-new", "FailedCreate", 'Error creating: Internal error occurred: failed calling webhook '
                          '"policy.example.com": no endpoints available for service "policy-webhook"', kind="ReplicaSet")])
    d = diagnose(o)
    assert d.cls == "admission-refused" and d.action == "none"
    assert "admission-refuses-pods" in d.decision.verdicts["rollout-undo"].summary()


def test_a_job_far_past_its_history_and_a_blocked_cronjob() -> None:
    done = [{"metadata": {"name": f"sync-{i}"}, "status": {"succeeded": 1, "startTime": at(30 + i), "completionTime": at(29.9 + i)}}
            for i in range(3)]
    job = {"kind": "Job", "metadata": {"name": "sync-9"}, "spec": {}, "status": {"active": 1, "startTime": at(50)}}
    cj = {"kind": "CronJob", "metadata": {"name": "sync"}, "spec": {"schedule": "0 * * * *", "concurrencyPolicy": "Forbid"}}
    o = obs(kind="cronjob", name="sync", target=cj, job=job, jobs=done + [job],
            events=[event("sync", "JobAlreadyActive", "Not starting job because prior execution is running", kind="CronJob")])
    f = det.detect_job_running_long(o)
    assert f is not None and f.cls == "job-running-long" and "JobAlreadyActive" in f.summary and "50.0 h" in f.summary
    d = diagnose(o)
    assert d.cls == "job-running-long" and d.action == "none" and d.severity != "low"
    cj["spec"]["suspend"] = True
    assert det.detect_cronjob_not_scheduling(o).cls == "cronjob-suspended"


def test_an_ingress_whose_class_does_not_exist() -> None:
    ing = {"kind": "Ingress", "metadata": {"name": "web"}, "spec": {"ingressClassName": "nginx-internal",
           "rules": [{"http": {"paths": [{"backend": {"service": {"name": "web"}}}]}}]}}
    o = obs(kind="ingress", name="web", target=ing, ingressclasses=[{"metadata": {"name": "nginx"}}],
            services=[{"metadata": {"name": "web"}, "spec": {"selector": {"app": "web"}}}])
    assert det.detect_ingress(o).cls == "ingress-class-missing"
    o.ingressclasses = [{"metadata": {"name": "nginx-internal"}}]
    o.endpoints_of = {"web": {"subsets": []}}
    assert det.detect_ingress(o).cls == "ingress-backend-unavailable"


def test_severity_from_impact_not_class() -> None:
    d0 = deployment(replicas=3, ready=0)
    o = obs(deployment=d0, target=d0, pods=[pod(f"api-{i}", waiting="ImagePullBackOff") for i in range(3)])
    assert diagnose(o).severity == "high"  # an outage
    o.statefulset, o.deployment = dict(d0, kind="StatefulSet"), None
    assert diagnose(o).severity == "critical"  # a data store down


def test_replica_counts_are_the_status_counts() -> None:
    d0 = deployment(replicas=3, ready=2)
    o = obs(deployment=d0, target=d0, pods=[pod("api-1", started=at(5))])  # only one pod read
    d = diagnose(o)
    assert "2/3 replicas ready" in d.output["root_cause"] + d.output["impact"]


def test_stale_warnings_are_history() -> None:
    o = healthy()
    o.events.append(event("api-1", "Unhealthy", "Readiness probe failed", when=at(1)))  # before it became Ready
    assert inventory(o) == []
    o.events.append(event("api-1", "Unhealthy", "Readiness probe failed", when=NOW))
    assert [str(a) for a in inventory(o)] == ["pod/api-1: Warning event Unhealthy x3"]


def test_the_history_source_entry_point() -> None:
    class Reader:
        def __init__(self) -> None:
            self.asked: list[tuple[str, list[str]]] = []

        def workload_history(self, namespace, pods, containers, *, deadline):
            self.asked.append((namespace, pods))
            return WorkloadHistory(examined=True, memory="grows-with-uptime", evidence=("rss +40 MiB/h",))

    r = Reader()
    use_history_source(r)
    try:
        assert history_source() is r
        use_history_source(lambda: r)  # a factory, asked at each diagnosis
        assert history_source() is r
    finally:
        use_history_source(None)
    assert history_source() is None
    assert node()["status"]["conditions"][0]["status"] == "True"


def test_named_objects_of_other_kinds_and_node_pressure() -> None:
    pvc = {"kind": "PersistentVolumeClaim", "metadata": {"name": "data"}, "spec": {"storageClassName": "fast"},
           "status": {"phase": "Pending"}}
    o = obs(kind="persistentvolumeclaim", name="data", target=pvc, pvcs=[pvc], storageclasses=[{"metadata": {"name": "standard"}}],
            events=[event("data", "ProvisioningFailed", 'storageclass.storage.k8s.io "fast" not found', kind="PersistentVolumeClaim")])
    d = diagnose(o)
    assert d.cls == "pvc-unbound" and d.action == "none"
    assert "storageclass fast: does not exist" in d.output["root_cause"]
    pdb = {"kind": "PodDisruptionBudget", "metadata": {"name": "api"}, "spec": {"minAvailable": 2},
           "status": {"disruptionsAllowed": 0, "currentHealthy": 1, "desiredHealthy": 2, "expectedPods": 2}}
    f = det.detect_pdb_blocking(obs(kind="poddisruptionbudget", name="api", target=pdb))
    assert f.cls == "pdb-blocks-disruptions" and "1 healthy of 2" in f.summary
    o = healthy()
    o.nodes = [node()]
    o.nodes[0]["status"]["conditions"].append({"type": "DiskPressure", "status": "True", "reason": "KubeletHasDiskPressure"})
    d = diagnose(o)
    assert d.cls == "node-pressure" and d.action == "none" and "DiskPressure" in d.output["root_cause"]


def test_a_container_the_runtime_cannot_start() -> None:
    d0 = deployment(replicas=1, ready=0)
    p = pod("api-1", waiting="RunContainerError")
    p["status"]["containerStatuses"][0]["state"]["waiting"]["message"] = 'exec: "/app/serve": no such file or directory'
    d = diagnose(obs(deployment=d0, target=d0, pods=[p]))
    assert d.cls == "container-start-error" and "/app/serve" in d.output["root_cause"] and d.action == "none"


def test_an_hpa_at_its_maximum_is_not_scaled_by_hand() -> None:
    d0 = deployment()
    hpa = {"metadata": {"name": "api"}, "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "api"}, "maxReplicas": 2},
           "status": {"currentReplicas": 2, "desiredReplicas": 2, "conditions": [
               {"type": "ScalingLimited", "status": "True", "reason": "TooManyReplicas", "message": "the desired replica count is more than the maximum replica count"}]}}
    o = obs(deployment=d0, target=d0, hpas=[hpa], pods=[pod("api-1", started=at(5)), pod("api-2", started=at(5))],
            cpu_usage={"api-1": 999, "api-2": 999})
    d = diagnose(o)
    assert d.cls == "hpa-at-max" and d.action == "none" and "raise maxReplicas" in d.output["recommended_action"]
    assert "owns the replica count" in d.decision.verdicts["scale"].summary()  # a manual scale would be undone
    assert "cpu-saturated" in [o.cls for o in d.others]


def test_a_process_whose_log_stopped_while_its_probes_time_out_is_restarted() -> None:
    d0 = deployment(replicas=2, ready=1)
    o = obs(deployment=d0, target=d0, pods=[pod("api-1", ready=False, started=at(5)), pod("api-2", started=at(5))])
    o.events.append(event("api-1", "Unhealthy", "Liveness probe failed: Get \"http://10.0.0.1:8080/healthz\": context deadline exceeded"))
    o.logs = {"api-1/api": f"{at(3)} worker 3 picked job 812\n{at(2.9)} worker 3 waiting for job 812 result",
              "api-2/api": f"{at(0.01)} served 120 requests"}
    assert [str(a) for a in inventory(o) if "silent" in a.text] == [
        f"pod/api-1: the log of api-1/api is silent since {at(2.9)} (174 min), its last line: \"{at(2.9)} worker 3 waiting for job 812 result\""]
    d = diagnose(o)
    assert d.cls == "probe-failing" and d.action in ("rollout-restart", "delete-pod")
    assert "is silent since" in d.decision.verdicts["rollout-restart"].summary()


def test_an_ingress_nothing_routes_is_an_anomaly_with_impact() -> None:
    ing = {"metadata": {"name": "web"}, "spec": {"ingressClassName": "edge",
                                                 "rules": [{"http": {"paths": [{"backend": {"service": {"name": "web"}}}]}}]}}
    o = obs(kind="ingress", name="web", target=ing, ingressclasses=[{"metadata": {"name": "nginx"}}],
            services=[{"metadata": {"name": "web"}, "spec": {"selector": {"app": "web"}}}])
    assert [str(a) for a in inventory(o)] == ["ingress/web: class edge matches no IngressClass: no controller routes its hosts"]
    d = diagnose(o)
    assert d.cls == "ingress-class-missing" and d.severity != "low"
    o.ingressclasses = None  # the classes were not read: nothing is judged about them
    o.services = []
    assert [str(a) for a in inventory(o)] == ["ingress/web: backend service/web does not exist"]


def test_refusals_in_the_logs_are_anomalies_whatever_their_level() -> None:
    o = healthy()  # a replica rejecting requests at WARN level: not "nothing wrong"
    o.logs = {"api-1/api": "WARN auth - rejected bearer token: token used before issued\nINFO GET /v1 401 1ms\n"}
    assert any("error line" in str(a) for a in inventory(o))
    assert diagnose(o).cls != "no-fault-found"


def test_a_claim_whose_pods_were_not_read_is_not_examined_never_fine() -> None:
    pvc = {"metadata": {"name": "data"}, "status": {"phase": "Bound"}}
    d = diagnose(obs(kind="persistentvolumeclaim", name="data", target=pvc))
    assert d.cls == "not-examined" and "the pods that use persistentvolumeclaim/data" in d.output["root_cause"]
    assert "nothing wrong" not in d.output["root_cause"]


def test_the_connections_history_source_is_looked_up_once_per_process(monkeypatch) -> None:
    from aof_airflow.agent.rules import history
    from aof_airflow.services import prometheus

    calls = []
    monkeypatch.setattr(prometheus, "history_source_from_connection", lambda: calls.append(1))
    history._from_connection.cache_clear()
    use_history_source(None)
    try:
        assert history_source() is None and history_source() is None
        assert calls == [1]  # a verifying remediation re-diagnoses every few seconds: one Connection lookup
    finally:
        history._from_connection.cache_clear()


def test_a_service_whose_selector_takes_in_another_workloads_pods_is_not_nothing_wrong() -> None:
    """Two ReplicaSets of one Deployment behind a Service are a rollout; pods of another Deployment are a fault."""
    from .test_actions import replicaset, template

    svc = {"metadata": {"name": "api"}, "spec": {"selector": {"app": "api"}, "ports": [{"port": 80, "targetPort": 8080}]}}
    rollout = healthy()
    rollout.services = [svc]
    rollout.replicasets = [replicaset("api-new", 2, template(), created=at(5), ready=2),
                           replicaset("api-old", 1, template(), created=at(50), ready=0)]
    rollout.pods.append(pod("api-3", owner="api-old", started=at(5)))
    assert not [a for a in inventory(rollout) if a.subject == "service/api"]
    o = healthy()
    o.services = [svc]
    o.replicasets = rollout.replicasets
    legacy = pod("legacy-api-7c9d-x1", owner="legacy-api-7c9d", started=at(300))
    legacy["metadata"]["labels"] = {"app": "api", "pod-template-hash": "7c9d"}
    o.pods.append(legacy)
    found = [str(a) for a in inventory(o) if a.subject == "service/api"]
    assert found == ["service/api: selector takes in the pods of 2 workloads: deployment/api (2 pod(s)); "
                     "deployment/legacy-api (1 pod(s))"]
    d = diagnose(o)
    assert d.cls == "unclassified" and d.action == "none" and "legacy-api" in " ".join(d.output["anomalies"])
    o = healthy()  # the workload's own pods read, but its Service's endpoints list a pod of something else
    o.services = [svc]
    o.replicasets = rollout.replicasets
    o.endpoints_of = {"api": {"subsets": [{"addresses": [{"targetRef": {"name": n}} for n in ("api-1", "api-2", "legacy-api-7c9d-x1")]}]}}
    assert [a.text for a in inventory(o) if a.subject == "service/api"] == [
        "selector takes in the pods of 2 workloads: deployment/api (2 pod(s), 2 in its endpoints); "
        "pods outside deployment/api (1 pod(s), 1 in its endpoints)"]
