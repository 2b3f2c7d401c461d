"""A StatefulSet whose governing Service (spec.serviceName) does not exist among the namespace's Services read:
its pods' DNS names do not resolve (detectors/networking.detect_statefulset_service_missing)."""

from __future__ import annotations

from aof_airflow.agent.rules.detectors import detect_statefulset_service_missing

from .test_actions import obs, pod


def sts(services):
    s = {"kind": "StatefulSet", "metadata": {"name": "zk"},
         "spec": {"serviceName": "zk-hs", "selector": {"matchLabels": {"app": "api"}}}}
    return obs(kind="statefulset", statefulset=s, target=s, pods=[pod("zk-0", ready=False)], services=services)


def svc(name: str, headless: bool = True):
    return {"metadata": {"name": name}, "spec": {"clusterIP": "None" if headless else "10.0.0.9", "selector": {"app": "api"}}}


def test_a_missing_governing_service_is_named() -> None:
    f = detect_statefulset_service_missing(sts([svc("zk-headless"), svc("zk-client", headless=False)]))
    assert f is not None and f.cls == "statefulset-service-missing" and f.action == "none"
    assert "service/zk-hs" in f.affected and "zk-headless" in " ".join(f.evidence)


def test_an_existing_governing_service_is_not_a_fault() -> None:
    assert detect_statefulset_service_missing(sts([svc("zk-hs")])) is None


def test_services_not_read_are_not_judged() -> None:
    assert detect_statefulset_service_missing(sts(None)) is None


def test_pods_that_never_started_are_not_blamed_on_names() -> None:
    o = sts([svc("zk-headless")])
    o.pods = [pod("zk-0", ready=False, phase="Pending")]
    assert detect_statefulset_service_missing(o) is None
