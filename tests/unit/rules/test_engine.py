"""Which task the engine is asked (from the agent's contract and the prompt), and where it looks."""

from __future__ import annotations

import pytest
import yaml

from aof_airflow.agent.rules.engine import RulesEngine, target_from, task_of, verify_window
from aof_airflow.agent.types import AgentError, AgentScope
from tests.locations import SEED_AGENTS


def instructions(name: str) -> str:
    return yaml.safe_load((SEED_AGENTS / f"{name}.yaml").read_text())["spec"]["instructions"]


def test_tasks_of_the_seed_agents() -> None:
    diag, rem, post = instructions("diagnostic-agent"), instructions("remediation-agent"), instructions("post-incident-agent")
    assert task_of(diag, "Incident: x\nDiagnose this incident") == "diagnose"
    assert task_of(diag, "Verify the incident is resolved:\n\nOriginal Issue: x\nRemediation: kubectl rollout restart deployment/api") == "verify"
    assert task_of(diag, "Please verify: Incident: x") == "diagnose"  # the structured line decides, not the wording
    assert task_of(rem, "Execute the following remediation:\n\nAction: kubectl rollout restart deployment/api") == "remediate"
    assert task_of(rem, "Rollback the failed remediation: kubectl rollout restart deployment/api") == "rollback"
    assert task_of(rem, "Execute the following remediation:\n\nAction: none\nNamespace: x") == "remediate"
    assert task_of(post, "Analyze incidents: [{...}]") == "report"


def test_other_agents_are_refused_clearly() -> None:
    with pytest.raises(AgentError, match="Configure a language model"):
        task_of('Write a haiku.\nOutput format:\n```json\n{"poem": "text"}\n```', "go")


def test_target_scope_first_then_prompt_then_quoted_command() -> None:
    assert target_from("Namespace: other\nResource: deployment/x", AgentScope(namespace="prod", resource="deployment/api")) == ("prod", "deployment/api")
    assert target_from("Namespace: shop\nResource: deployment/cart\n", AgentScope()) == ("shop", "deployment/cart")
    assert target_from("Namespace: ${K8S_NAMESPACE}\nResource: \n", AgentScope()) == ("default", None)
    assert target_from("Remediation: kubectl rollout undo deployment/cart -n shop", AgentScope()) == ("shop", "deployment/cart")


def test_verify_window_honours_prompt_env_and_deadline(monkeypatch) -> None:
    import time

    monkeypatch.delenv("AOF_RULES_VERIFY_WINDOW", raising=False)
    assert verify_window("monitor for 60 seconds", time.monotonic() + 1000) == 60
    assert verify_window("monitor for 60 seconds", time.monotonic() + 20) <= 15
    monkeypatch.setenv("AOF_RULES_VERIFY_WINDOW", "3")
    assert verify_window("monitor for 60 seconds", time.monotonic() + 1000) == 3


def test_only_the_one_builtin_model() -> None:
    RulesEngine("builtin:k8s-rules")
    with pytest.raises(AgentError):
        RulesEngine("builtin:gpt")
