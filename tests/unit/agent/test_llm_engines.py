"""The real anthropic and openai SDK clients against FakeLLM: tool loop, retries, timeouts, contract, keys."""

from __future__ import annotations

import json
import logging
import time

import pytest

from aof_airflow.agent.runtime import run_agent
from aof_airflow.agent.types import AgentError, AgentScope, ProviderError
from tests.unit.agent.helpers import make_agent, seed_agent, shell_tool

PROVIDERS = ["anthropic", "openai"]
SCOPE = AgentScope(flow="incident-response", service="api", namespace="prod", incident_id="INC-1")
GOOD = {
    "severity": "high", "root_cause": "OOMKilled: memory limit too low", "affected_components": ["api-7d9f"],
    "impact": "checkout errors", "recommended_action": "raise the memory limit", "requires_approval": False,
    "confidence": 0.8,
}
PODS = "NAME        READY   STATUS             RESTARTS\napi-7d9f    0/1     CrashLoopBackOff   14"


def diag(provider: str, **model_config) -> object:
    seed = seed_agent("diagnostic")  # the seed's instructions and output format, as written
    return make_agent(
        name="diag", model=f"{provider}:test-model", instructions=seed.spec.instructions,
        tools=[shell_tool("kubectl", "helm")], model_config={"temperature": 0.2, "max_tokens": 3000, **model_config},
    )


@pytest.mark.parametrize("provider", PROVIDERS)
def test_multi_step_tool_conversation_runs_kubectl_through_the_shell_tool(provider, llm, canary_bin):
    canary_bin.add("kubectl", f"printf '{PODS}\\n'")
    llm.tool_call("api is failing", "shell", {"command": "kubectl get pods"})
    llm.tool_call("api is failing", "shell", {"command": "kubectl logs api-7d9f --tail=20"})
    llm.reply("api is failing", GOOD)
    result = run_agent(diag(provider), "Incident INC-1: api is failing", scope=SCOPE)
    assert result.output == GOOD and result.source == "llm" and result.model == f"{provider}:test-model"
    assert result.steps == 3 and result.usage.calls == 3 and result.usage.input_tokens > 0
    assert [c.args["command"] for c in result.tool_calls] == ["kubectl get pods", "kubectl logs api-7d9f --tail=20"]
    assert canary_bin.ran() == ["kubectl get pods --namespace=prod", "kubectl logs api-7d9f --tail=20 --namespace=prod"]
    assert "CrashLoopBackOff" in json.dumps(llm.requests[1])  # the tool's output went back to the model
    first = llm.requests[0]
    assert first["temperature"] == 0.2 and first["max_tokens"] == 3000
    assert [t.get("name") or t["function"]["name"] for t in first["tools"]] == ["shell"]
    system = first["system"] if provider == "anthropic" else first["messages"][0]["content"]
    assert "Output format" in system and '"namespace": "prod"' in system


@pytest.mark.parametrize("provider", PROVIDERS)
def test_429_then_success_honours_retry_after(provider, llm):
    llm.fail(429, 1, {"retry-after": "0.5"})
    llm.reply("api", GOOD)
    t = time.monotonic()
    result = run_agent(diag(provider), "api alert", scope=SCOPE)
    assert time.monotonic() - t >= 0.5
    assert result.output == GOOD and len(llm.requests) == 2


@pytest.mark.parametrize("provider", PROVIDERS)
def test_500_every_time_fails_clearly_after_the_retries(provider, llm):
    llm.fail(500, 10)
    llm.reply("api", GOOD)
    with pytest.raises(ProviderError, match=r"failed after 3 attempt\(s\): HTTP 500"):
        run_agent(diag(provider, max_retries=2), "api alert", scope=SCOPE)
    assert len(llm.requests) == 3


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_slow_model_times_out(provider, llm):
    llm.delay(5, 1)
    llm.reply("api", GOOD)
    t = time.monotonic()
    with pytest.raises(ProviderError, match="timed out after 0.5s"):
        run_agent(diag(provider, timeout_seconds=0.5, max_retries=0), "api alert", scope=SCOPE)
    assert time.monotonic() - t < 4


@pytest.mark.parametrize("provider", PROVIDERS)
def test_malformed_answer_is_repaired_once(provider, llm):
    llm.reply("api alert", "I think it is bad. {severity: high, root_cause: memory")  # not JSON
    llm.reply("did not match the required output format", "Sorry! Here it is:\n```json\n" + json.dumps(GOOD) + "\n```")
    result = run_agent(diag(provider), "api alert", scope=SCOPE)
    assert result.output == GOOD and len(llm.requests) == 2
    assert "no JSON object found" in json.dumps(llm.requests[1])


@pytest.mark.parametrize("provider", PROVIDERS)
def test_schema_violation_after_repair_fails_showing_the_text(provider, llm):
    bad = {**GOOD, "severity": "catastrophic", "confidence": 7}
    llm.reply("api alert", bad)
    llm.reply("did not match the required output format", bad)
    with pytest.raises(AgentError, match="even after one repair turn") as err:
        run_agent(diag(provider), "api alert", scope=SCOPE)
    assert "catastrophic" in str(err.value) and "one of critical|high|medium|low" in str(err.value)
    assert len(llm.requests) == 2


def test_enum_case_and_prose_around_json_are_accepted(llm):
    llm.reply("api alert", "Analysis done.\n" + json.dumps({**GOOD, "severity": "HIGH"}) + "\nLet me know.")
    assert run_agent(diag("anthropic"), "api alert", scope=SCOPE).output["severity"] == "high"


@pytest.mark.parametrize("provider,var,conn", [("anthropic", "ANTHROPIC_API_KEY", "anthropic"), ("openai", "OPENAI_API_KEY", "openai")])
def test_no_key_fails_at_once_naming_what_to_set(provider, var, conn, llm, monkeypatch):
    monkeypatch.delenv(var)
    from aof_airflow.agent.llm import credentials

    credentials._connection("warm_up_airflow_imports")  # the first Airflow import is slow on a busy box
    t = time.monotonic()
    with pytest.raises(ProviderError) as err:
        run_agent(diag(provider), "api alert", scope=SCOPE)
    assert time.monotonic() - t < 10  # no retries, no waiting on anything
    assert var in str(err.value) and "aof_test_no_such_conn" in str(err.value)
    assert llm.requests == []  # nothing pretended to answer


def test_key_and_base_url_from_an_airflow_connection(llm, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    monkeypatch.delenv("ANTHROPIC_BASE_URL")
    conn = {"conn_type": "generic", "password": "conn-secret-key", "extra": {"base_url": llm.anthropic_base_url}}
    monkeypatch.setenv("AIRFLOW_CONN_AOF_TEST_LLM", json.dumps(conn))
    monkeypatch.setenv("AOF_ANTHROPIC_CONN_ID", "aof_test_llm")
    llm.reply("api", GOOD)
    assert run_agent(diag("anthropic"), "api alert", scope=SCOPE).output == GOOD
    sent = llm.headers[0]
    assert "conn-secret-key" in sent.get("x-api-key", "") + sent.get("authorization", "")  # the SDK's auth header


def test_falls_back_to_the_next_model_when_the_provider_fails(llm):
    agent = make_agent(
        model="anthropic:primary", fallback_models=["openai:backup"], instructions=seed_agent("diagnostic").spec.instructions,
        model_config={"max_retries": 1},
    )
    llm.fail(503, 2)
    llm.reply("api", GOOD)
    result = run_agent(agent, "api alert", scope=SCOPE)
    assert result.model == "openai:backup" and result.output == GOOD
    assert any("anthropic:primary failed" in n and "503" in n for n in result.notes)
    assert "fell back to openai:backup" in result.notes
    assert llm.paths == ["/v1/messages", "/v1/messages", "/v1/chat/completions"]


def test_a_missing_key_falls_back_without_a_request(llm, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    agent = make_agent(model="anthropic:primary", fallback_models=["openai:backup"])
    llm.reply("hello", "free text answer")
    result = run_agent(agent, "hello", scope=SCOPE)
    assert result.output == "free text answer" and result.model == "openai:backup"
    assert any("ANTHROPIC_API_KEY" in n for n in result.notes)


def test_a_provider_without_a_key_is_never_imported(llm, monkeypatch):
    """Its SDK costs seconds in every task process; an agent falling back for want of a key must not pay them."""
    import sys

    monkeypatch.delenv("ANTHROPIC_API_KEY")
    monkeypatch.setitem(sys.modules, "aof_airflow.agent.llm.anthropic_chat", None)  # importing it now fails
    agent = make_agent(model="anthropic:primary", fallback_models=["openai:backup"])
    llm.reply("hello", "free text answer")
    result = run_agent(agent, "hello", scope=SCOPE)
    assert result.model == "openai:backup" and any("ANTHROPIC_API_KEY" in n for n in result.notes)


def test_agent_without_output_format_returns_free_text(llm):
    llm.reply("analyse", "# Post-mortem\n\nTimeline: ...")
    agent = seed_agent("post-incident")
    result = run_agent(agent, "analyse the last day", scope=AgentScope())
    assert result.output == "# Post-mortem\n\nTimeline: ..."


def test_step_limit_forces_a_final_answer(llm, canary_bin):
    agent = make_agent(tools=[shell_tool("kubectl")], max_steps=2)
    for _ in range(3):
        llm.tool_call("loop", "shell", {"command": "kubectl get pods"})
    llm.reply("Step limit (2) reached", "final: gave up looking")
    result = run_agent(agent, "loop forever", scope=SCOPE)
    assert result.output == "final: gave up looking"
    assert len(canary_bin.ran()) == 1  # 2 model turns with tools; the 2nd turn's call is not run
    assert result.steps == 3 and "not run: step limit reached" in json.dumps(llm.requests[2])


def test_secrets_never_reach_the_log_or_the_model(llm, canary_bin, monkeypatch, caplog):
    secret = "sk-test-secret-0123456789"
    monkeypatch.setenv("ANTHROPIC_API_KEY", secret)
    canary_bin.add("kubectl", f"echo 'leaked token {secret}'")
    llm.tool_call("api", "shell", {"command": "kubectl get secret x"})
    llm.reply("api", GOOD)
    with caplog.at_level(logging.DEBUG, logger="aof.agent"):
        result = run_agent(diag("anthropic"), "api alert", scope=SCOPE)
    assert secret not in caplog.text and "leaked token ***" in caplog.text
    assert secret not in json.dumps(llm.requests) and secret not in result.tool_calls[0].output
