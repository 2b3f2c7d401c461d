"""Severity from impact, the contract shape, and the honest answers when nothing (known) is wrong."""

from __future__ import annotations

from aof_airflow.agent.rules import MODEL
from aof_airflow.agent.rules.diagnose import CONTRACT_KEYS, diagnose
from aof_airflow.agent.rules.gather import Observation
from aof_lab.rules_eval import fixtures as k

from .offline import from_scenario, load_scenario, observation


def test_contract_shape_and_rules_banner() -> None:
    d = diagnose(from_scenario(load_scenario("high-memory-api")))  # TEST001: a leak, a restart buys time
    assert all(key in d.output for key in CONTRACT_KEYS)
    assert d.output["severity"] in ("low", "medium", "high", "critical")
    assert isinstance(d.output["requires_approval"], bool) and 0 <= d.output["confidence"] <= 1
    assert d.output["root_cause"].startswith(f"[{MODEL}") and "no language model" in d.output["root_cause"]
    assert "Evidence:" in d.output["root_cause"] and "OOMKilled" in d.output["root_cause"]
    assert d.output["recommended_action"].startswith("kubectl rollout restart deployment/api -n production")


def test_stateful_outage_is_critical_and_needs_approval() -> None:
    d = diagnose(from_scenario(load_scenario("rules-statefulset-down")))
    assert d.severity == "critical" and d.output["requires_approval"] is True
    assert "statefulset-down" in [o.cls for o in d.others]
    assert "data store unavailable" in d.output["impact"]


def test_deployment_outage_is_high_partial_is_medium_leftovers_low() -> None:
    assert diagnose(from_scenario(load_scenario("rules-imagepull-auth"))).severity == "high"  # 0/2 ready
    assert diagnose(from_scenario(load_scenario("rules-pending-insufficient-cpu"))).severity == "medium"  # 2/4
    assert diagnose(from_scenario(load_scenario("rules-evicted-pods"))).severity == "low"  # 2/2, failed pods left


def test_nothing_wrong_found_is_said_plainly() -> None:
    d = diagnose(from_scenario(load_scenario("rules-healthy")))
    assert d.cls == "no-fault-found" and d.severity == "low" and d.output["recommended_action"].startswith("none")
    assert d.output["requires_approval"] is False and "2/2 replicas ready" in d.output["root_cause"]


def test_unknown_failure_is_not_dressed_up() -> None:
    tmpl = k.pod_template({"app": "x"}, [k.container("x", "x:1")])
    dep = k.deployment("x", "ns", tmpl, replicas=1, ready=0)
    rs = k.replicaset(dep, 1, tmpl, replicas=1, ready=0)
    pod = k.pod("x-1", "ns", tmpl, owner_obj=rs, statuses=[k.running("x", "x:1", ready=False)])
    d = diagnose(observation([dep, rs, pod], "ns", "deployment/x"))
    assert d.cls == "unclassified" and d.output["confidence"] <= 0.3
    assert d.output["recommended_action"].startswith("none") and d.severity == "high"


def test_missing_resource_is_reported() -> None:
    obs = Observation(namespace="prod", kind="deployment", name="nope", errors=['Error from server (NotFound): deployments.apps "nope" not found'])
    d = diagnose(obs)
    assert d.cls == "resource-not-found" and "NotFound" in d.output["root_cause"]
