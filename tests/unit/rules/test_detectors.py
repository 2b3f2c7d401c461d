"""Every detector: positive on the scenario written for it (objects as the API returns them), negative on a
healthy workload and on the near miss that must not trigger it. A Finding's `action` is the change its cause
calls for; the change proposed is `diagnose(...).action`, decided by the preconditions (test_actions.py)."""

from __future__ import annotations

import copy

import pytest

from aof_airflow.agent.rules import detectors as det
from aof_airflow.agent.rules.diagnose import diagnose
from aof_lab.rules_eval import fixtures as k

from .offline import from_scenario, load_scenario, observation


def obs_of(name: str):
    return from_scenario(load_scenario(name if name.startswith("ext-") else f"rules-{name}"))


def healthy_obs():
    return obs_of("healthy")


POSITIVE = [
    (det.detect_crash_loop, "crashloop-missing-env", "crash-loop"),
    (det.detect_oom, "oomkilled", "oom-killed"),
    (det.detect_memory_near_limit, "memory-near-limit", "memory-near-limit"),
    (det.detect_image_pull, "imagepull-auth", "image-pull"),
    (det.detect_pending, "pending-insufficient-cpu", "pending-insufficient-resources"),
    (det.detect_config_missing, "config-missing-configmap", "config-missing"),
    (det.detect_probe_failures, "readiness-failing", "probe-failing"),
    (det.detect_rollout_stuck, "rollout-stuck-quota", "rollout-stuck"),
    (det.detect_scaled_to_zero, "scaled-to-zero", "scaled-to-zero"),
    (det.detect_service_no_endpoints, "service-selector-mismatch", "service-selector-mismatch"),
    (det.detect_evicted, "evicted-pods", "evicted"),
    (det.detect_statefulset_down, "statefulset-down", "statefulset-down"),
    (det.detect_node_not_ready, "ext-node-not-ready", "node-not-ready"),
    (det.detect_network_policy, "ext-netpol-dns-egress", "network-policy-blocking"),
    (det.detect_job_failed, "ext-job-failing", "job-failed"),
    (det.detect_log_errors, "ext-rbac-forbidden-ready-pod", "rbac-forbidden"),
    (det.detect_hpa_not_scaling, "ext-hpa-not-scaling", "hpa-not-scaling"),
]
# Detectors whose positive cases are hand-built below (no shipped scenario shows them yet).
HAND_BUILT = {det.detect_cpu_saturated, det.detect_job_running_long, det.detect_cronjob_not_scheduling,
              det.detect_ingress, det.detect_admission_refused, det.detect_service_port_mismatch, det.detect_claim_unbound,
              det.detect_pdb_blocking, det.detect_node_pressure, det.detect_container_start_error,
              det.detect_stalled_process, det.detect_resource_exhausted, det.detect_stale_since_start,
              det.detect_clock_behind, det.detect_errors_since_release,
              det.detect_writes_refused_read_only, det.detect_statefulset_service_missing,
              det.detect_node_reports_problem, det.detect_daemonset_left_out,
              det.detect_pdb_overlap, det.detect_workers_saturated,
              det.detect_dependency_slots_full, det.detect_resize_pending,
              det.detect_lone_failing_pod, det.detect_outdated_revision,
              det.detect_deadlocked}  # hand-built: test_placement.py, test_budgets.py, test_podlocal.py,
              # test_controller_revisions.py, test_unseen_mechanisms.py


def test_every_detector_has_a_positive_case() -> None:
    assert {d for d, _, _ in POSITIVE} | HAND_BUILT == set(det.DETECTORS)


@pytest.mark.parametrize("detector,scenario,cls", POSITIVE, ids=[p[1] for p in POSITIVE])
def test_positive(detector, scenario, cls) -> None:
    f = detector(obs_of(scenario))
    assert f is not None and f.cls == cls
    assert f.evidence and all(isinstance(e, str) and e for e in f.evidence)
    assert f.action in det.ACTIONS
    assert 0 < f.confidence <= 1


@pytest.mark.parametrize("detector", det.DETECTORS, ids=lambda d: d.__name__)
def test_negative_on_a_healthy_workload(detector) -> None:
    assert detector(healthy_obs()) is None


# ----------------------------------------------------------------------------------- evidence and near misses


def test_crash_loop_quotes_exit_code_and_log_tail() -> None:
    f = det.detect_crash_loop(obs_of("crashloop-missing-env"))
    text = " ".join(f.evidence)
    assert "last exit code 1" in text and "PAYMENT_GATEWAY_URL is not set" in text
    assert f.action == "none"  # a configuration crash: restarting crashes again


def test_crash_loop_on_a_dependency_recommends_restart() -> None:
    f = det.detect_crash_loop(obs_of("crashloop-dependency"))
    assert f.action == "rollout-restart" and "ECONNREFUSED" in " ".join(f.evidence)


def test_crash_loop_from_a_new_revision_recommends_undo() -> None:
    d = diagnose(obs_of("crashloop-bad-release"))
    assert d.cls == "crash-loop" and d.action == "rollout-undo"
    assert d.output["recommended_action"].startswith("kubectl rollout undo deployment/cart")
    assert "2.4.0" in " ".join(d.primary.evidence) and "2.3.9" in " ".join(d.primary.evidence)


def test_crash_loop_ignores_oomkilled_containers() -> None:
    assert det.detect_crash_loop(obs_of("oomkilled")) is None


def test_crash_loop_ignores_liveness_kills() -> None:
    assert det.detect_crash_loop(obs_of("liveness-restarts")) is None


def test_oom_quotes_limit() -> None:
    f = det.detect_oom(obs_of("oomkilled"))
    assert "OOMKilled" in f.evidence[0] and "1Gi" in f.evidence[0] and "exit code 137" in f.evidence[0]


def test_oom_negative_for_plain_crash() -> None:
    assert det.detect_oom(obs_of("crashloop-missing-env")) is None


def test_memory_near_limit_negative_below_threshold() -> None:
    sc = load_scenario("rules-memory-near-limit")
    metrics = {key: {c: dict(v, memory="200Mi") for c, v in cs.items()} for key, cs in sc.metrics.items()}
    o = observation(sc.objects, sc.incident.namespace, sc.incident.resource, metrics=metrics)
    assert det.detect_memory_near_limit(o) is None


@pytest.mark.parametrize("scenario,why", [("imagepull-auth", "authentication"), ("imagepull-tag-missing", "tag does not exist")])
def test_image_pull_names_the_registry_reason(scenario, why) -> None:
    assert why in det.detect_image_pull(obs_of(scenario)).summary


def test_image_pull_negative_while_container_creating() -> None:
    o = healthy_obs()
    p = o.pods[0]
    p["status"]["containerStatuses"][0]["state"] = {"waiting": {"reason": "ContainerCreating"}}
    assert det.detect_image_pull(o) is None


@pytest.mark.parametrize("scenario,cls,quote", [
    ("pending-insufficient-cpu", "pending-insufficient-resources", "Insufficient cpu"),
    ("pending-gpu", "pending-insufficient-resources", "nvidia.com/gpu"),
    ("pending-node-selector", "pending-node-selector", "disktype"),
    ("pending-taint", "pending-taint", "dedicated=gpu:NoSchedule"),
    ("pending-pvc-storageclass", "pending-unbound-pvc", "storageclass fast-ssd: does not exist"),
    ("statefulset-pvc-pending", "pending-unbound-pvc", "premium-rwo"),
])
def test_pending_subclasses(scenario, cls, quote) -> None:
    f = det.detect_pending(obs_of(scenario))
    assert f.cls == cls and quote in " ".join(f.evidence) + f.summary


def test_pending_negative_for_scheduled_pods_waiting_on_config() -> None:
    assert det.detect_pending(obs_of("config-missing-configmap")) is None


def test_config_missing_checks_existence() -> None:
    f = det.detect_config_missing(obs_of("config-missing-secret"))
    assert "secret billing-stripe" in f.summary and f.action == "none"
    assert diagnose(obs_of("config-missing-secret")).action == "rollout-undo"  # the old pods still run: undo creates none


def test_config_missing_negative_when_configmap_exists() -> None:
    o = obs_of("crashloop-missing-env")  # crashes, but no config error
    assert det.detect_config_missing(o) is None


def test_probe_single_stuck_pod_is_deleted() -> None:
    f = det.detect_probe_failures(obs_of("stuck-pod"))
    assert f.action == "delete-pod" and f.command.startswith("kubectl delete pod profile-")


def test_probe_negative_for_old_unhealthy_event_on_ready_pod() -> None:
    o = healthy_obs()
    p = o.pods[0]
    o.events.append(k.event(o.namespace, p, "Unhealthy", "Readiness probe failed: connection refused"))
    assert det.detect_probe_failures(o) is None  # ready, never restarted: a blip during startup


def test_rollout_stuck_negative_when_complete() -> None:
    assert det.detect_rollout_stuck(obs_of("oomkilled")) is None


def test_scaled_to_zero_restores_last_applied_replicas() -> None:
    f = det.detect_scaled_to_zero(obs_of("scaled-to-zero"))
    assert f.command == "kubectl scale deployment/ledger --replicas=3 -n ledger"


def test_service_no_endpoints_negative_with_ready_addresses() -> None:
    sc = load_scenario("rules-healthy")
    o = observation(sc.objects, "status", "service/status-page")
    assert det.detect_service_no_endpoints(o) is None


def test_service_with_unready_pods_is_a_symptom() -> None:
    sc = load_scenario("rules-readiness-failing")
    o = observation(sc.objects, "web", "service/frontend")
    f = det.detect_service_no_endpoints(o)
    assert f is not None and f.cls == "service-no-endpoints" and not f.cause
    assert diagnose(o).cls == "probe-failing"  # the cause wins over the symptom


def test_evicted_negative_for_failed_job_pod() -> None:
    o = healthy_obs()
    p = copy.deepcopy(o.pods[0])
    p["metadata"]["name"] = "done-1"
    p["status"].update(phase="Failed", reason="Error")
    o.pods.append(p)
    assert det.detect_evicted(o) is None


def test_statefulset_down_negative_with_one_ready_replica() -> None:
    o = obs_of("statefulset-down")
    o.pods[0]["status"]["conditions"] = [{"type": "Ready", "status": "True"}]
    assert det.detect_statefulset_down(o) is None


def test_quantities() -> None:
    from aof_airflow.agent.rules.objects import mem_bytes

    assert mem_bytes("512Mi") == 512 * 2**20 and mem_bytes("1G") == 10**9 and mem_bytes("x") is None


def test_liveness_kills_on_a_statefulset_are_probe_failures_with_log_signatures() -> None:
    sc = load_scenario("postgres-replicas-failing")  # the sandbox's tutorial scenario, not written for the rules
    d = diagnose(from_scenario(sc))
    assert d.cls == "probe-failing" and d.severity == "critical" and d.output["requires_approval"] is True
    assert "connection slots exhausted" in d.output["root_cause"] and "lock contention" in d.output["root_cause"]
    assert det.detect_crash_loop(from_scenario(sc)) is None  # exit 137 by the kubelet, not a crash


def test_a_recent_finished_rollout_is_still_undone() -> None:
    sc = load_scenario("bad-release-oom")  # 2.4.0 rolled out 35 min before the page
    d = diagnose(from_scenario(sc))
    assert d.cls == "oom-killed" and d.action == "rollout-undo"


def test_an_old_revision_is_not_blamed() -> None:
    sc = load_scenario("high-memory-api")  # revision 3 is 12 h old: a leak, not a bad release
    d = diagnose(from_scenario(sc))
    assert d.cls == "oom-killed" and d.action == "rollout-restart"


# ----------------------------------------------------------------------------------- issue 18: act only when it helps


def test_a_restart_is_recommended_for_a_leak_not_for_an_oom_soon_after_start() -> None:
    leak = det.detect_oom(from_scenario(load_scenario("high-memory-api")))  # killed after hours of growth
    fast = det.detect_oom(obs_of("ext-oom-sidecar-128mi"))  # killed ~20 s after every start
    assert leak.action == "rollout-restart" and "a leak" in " ".join(leak.evidence)
    assert fast.action == "none" and "log-shipper" in fast.summary and "128Mi" in fast.summary
    assert "killed soon after start" in " ".join(fast.evidence) and "a restart is killed the same way" in fast.advice


def test_no_undo_when_the_new_revision_differs_only_by_restarted_at() -> None:
    f = det.detect_crash_loop(obs_of("ext-configmap-value-crash"))
    assert f.action == "none" and "invalid CACHE_TTL" in " ".join(f.evidence)
    assert any("only by the kubectl.kubernetes.io/restartedAt annotation" in e for e in f.evidence)
    assert diagnose(obs_of("ext-configmap-value-crash")).action == "none"
    stuck = diagnose(obs_of("ext-quota-restart-stuck"))
    assert stuck.action == "none" and "ResourceQuota" in stuck.primary.advice
    assert "pod-spec-changed" in stuck.decision.verdicts["rollout-undo"].summary()
    assert diagnose(obs_of("crashloop-bad-release")).action == "rollout-undo"  # a real image change


def test_a_probe_on_the_wrong_port_is_the_probes_fault() -> None:
    for name, probe in (("ext-readiness-wrong-port", "readinessProbe"), ("ext-liveness-wrong-port", "livenessProbe")):
        f = det.detect_probe_failures(obs_of(name))
        assert f.cls == "probe-misconfigured" and f.action == "none" and probe in " ".join(f.evidence), name
    assert det.detect_probe_failures(obs_of("liveness-restarts")).action == "rollout-restart"  # timeouts: stuck
    assert diagnose(obs_of("ext-readiness-wrong-port")).action == "none"


def test_scheduler_messages_are_read_for_what_they_say() -> None:
    cpu = det.detect_pending(obs_of("ext-insufficient-cpu"))
    text = " ".join(cpu.evidence)
    assert "allocatable cpu=3800m" in text and "cpu.=" not in text and "cpu." not in cpu.summary
    anti = det.detect_pending(obs_of("ext-pod-anti-affinity"))
    assert anti.cls == "pending-anti-affinity" and "node selector" not in anti.summary.lower()
    pvc = det.detect_pending(obs_of("ext-pvc-bound-zone-conflict"))
    assert pvc.cls == "pending-volume-node-affinity" and "phase Bound" in " ".join(pvc.evidence)
    assert "unbound" not in (pvc.summary + " ".join(pvc.evidence)).lower()


def test_a_lost_node_is_the_cause_not_insufficient_resources() -> None:
    d = diagnose(obs_of("ext-node-not-ready"))
    assert d.cls == "node-not-ready" and d.action == "none"
    assert "Kubelet stopped posting node status" in " ".join(d.primary.evidence)


def test_logs_of_a_ready_pod_can_hold_the_fault() -> None:
    d = diagnose(obs_of("ext-rbac-forbidden-ready-pod"))
    assert d.cls == "rbac-forbidden" and "monitoring-sa" in d.primary.summary and "no fault" not in d.output["root_cause"]
    np = diagnose(obs_of("ext-netpol-ingress-block"))
    assert np.cls == "network-policy-blocking" and "backend-network-policy" in np.primary.summary


def test_what_the_engine_does_not_read_is_said() -> None:
    d = diagnose(obs_of("ext-ingress-class-missing"))
    assert d.cls == "not-examined" and d.output["confidence"] <= 0.2 and "not found" not in d.output["root_cause"]
    assert "IngressClasses" in d.output["root_cause"]  # read for an Ingress; the offline set has none
    hpa = diagnose(obs_of("ext-hpa-not-scaling"))  # HPAs are read now: the condition is the cause, not "no fault"
    assert hpa.cls == "hpa-not-scaling" and "missing request for cpu" in hpa.output["root_cause"]
    assert "metrics history" in " ".join(hpa.output["not_examined"])
