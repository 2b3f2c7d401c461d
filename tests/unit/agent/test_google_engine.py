"""`google:<model>` through the real google-genai SDK against the Gemini stand-in (tests/fakes/gemini_protocol.py)."""

from __future__ import annotations

import json
import time

import pytest
from google import genai
from google.genai import errors, types

from aof_airflow.agent.runtime import run_agent
from aof_airflow.agent.types import AgentError, AgentScope, ProviderError
from tests.fakes import gemini_protocol
from tests.unit.agent.helpers import make_agent, seed_agent, shell_tool
from tests.unit.agent.test_llm_engines import GOOD, PODS

SCOPE = AgentScope(flow="incident-response", service="api", namespace="prod", incident_id="INC-1")
MODEL = "google:gemini-2.5-flash"


def diag(model: str = MODEL, **model_config) -> object:
    return make_agent(name="diag", model=model, instructions=seed_agent("diagnostic").spec.instructions,
                      tools=[shell_tool("kubectl")],
                      model_config={"temperature": 0.2, "max_tokens": 3000, **model_config})


def test_tool_call_round_trip_through_function_calling(llm, canary_bin):
    canary_bin.add("kubectl", f"printf '{PODS}\\n'")
    llm.tool_call("api is failing", "shell", {"command": "kubectl get pods"})
    llm.reply("api is failing", GOOD)
    result = run_agent(diag(), "Incident INC-1: api is failing", scope=SCOPE)
    assert result.output == GOOD and result.model == MODEL and result.source == "llm"
    assert result.steps == 2 and result.usage.calls == 2 and result.usage.input_tokens > 0
    assert result.usage.output_tokens > 0
    assert canary_bin.ran() == ["kubectl get pods --namespace=prod"]
    assert llm.paths == ["/v1/models/gemini-2.5-flash:generateContent"] * 2
    first, second = llm.requests
    assert first["generationConfig"] == {"temperature": 0.2, "maxOutputTokens": 3000}
    assert first["toolConfig"] == {"functionCallingConfig": {"mode": "AUTO"}}
    assert [d["name"] for d in first["tools"][0]["functionDeclarations"]] == ["shell"]
    assert "Output format" in first["systemInstruction"]["parts"][0]["text"]
    # the model's turn went back as returned (with its thought signature), then our function response
    model_turn, response_turn = second["contents"][1], second["contents"][2]
    assert model_turn["role"] == "model" and model_turn["parts"][0]["thoughtSignature"]
    reply = response_turn["parts"][0]["functionResponse"]
    assert reply["name"] == "shell" and "CrashLoopBackOff" in reply["response"]["output"]
    assert llm.headers[0]["x-goog-api-key"] == gemini_protocol.API_KEY


def test_429_resource_exhausted_is_retried_after_googles_retry_delay(llm):
    llm.fail(429, 1, retry_delay=0.5)  # RetryInfo.retryDelay in the body, as Gemini sends it
    llm.reply("api", GOOD)
    t = time.monotonic()
    result = run_agent(diag(), "api alert", scope=SCOPE)
    assert time.monotonic() - t >= 0.5
    assert result.output == GOOD and len(llm.requests) == 2


def test_retry_after_header_is_honoured_too(llm):
    llm.fail(503, 1, {"retry-after": "0.4"})
    llm.reply("api", GOOD)
    t = time.monotonic()
    assert run_agent(diag(), "api alert", scope=SCOPE).output == GOOD
    assert time.monotonic() - t >= 0.4


def test_500_every_time_fails_clearly_after_the_retries(llm):
    llm.fail(500, 10)
    with pytest.raises(ProviderError, match=r"failed after 3 attempt\(s\): HTTP 500"):
        run_agent(diag(max_retries=2), "api alert", scope=SCOPE)
    assert len(llm.requests) == 3


def test_a_slow_model_times_out(llm):
    llm.delay(5, 1)
    llm.reply("api", GOOD)
    t = time.monotonic()
    with pytest.raises(ProviderError, match="timed out after 1.0s"):
        run_agent(diag(timeout_seconds=1, max_retries=0), "api alert", scope=SCOPE)
    assert time.monotonic() - t < 4


def test_malformed_answer_is_repaired_once_without_tools(llm):
    llm.reply("api alert", "I think it is bad.")
    llm.reply("did not match the required output format", json.dumps(GOOD))
    assert run_agent(diag(), "api alert", scope=SCOPE).output == GOOD
    assert llm.requests[1]["toolConfig"] == {"functionCallingConfig": {"mode": "NONE"}}


def test_no_key_fails_at_once_naming_what_to_set(llm, monkeypatch):
    monkeypatch.delenv("GEMINI_API_KEY")
    with pytest.raises(ProviderError) as err:
        run_agent(diag(), "api alert", scope=SCOPE)
    assert "GOOGLE_API_KEY or GEMINI_API_KEY" in str(err.value) and "aof_test_no_such_conn" in str(err.value)
    assert llm.requests == []


def test_wrong_key_and_unknown_model_are_provider_refusals(llm, monkeypatch):
    llm.reply("api", GOOD)
    with pytest.raises(ProviderError, match="HTTP 404.*models/gemini-9-ultra is not found"):
        run_agent(diag("google:gemini-9-ultra"), "api alert", scope=SCOPE)
    monkeypatch.setenv("GEMINI_API_KEY", "not-the-key")
    with pytest.raises(ProviderError, match="HTTP 400.*API key not valid"):
        run_agent(diag(), "api alert", scope=SCOPE)


def test_a_wrong_key_falls_back_to_the_next_model(llm, monkeypatch):
    monkeypatch.setenv("GOOGLE_API_KEY", "not-the-key")  # GOOGLE_API_KEY wins over GEMINI_API_KEY, as in the SDK
    agent = make_agent(model=MODEL, fallback_models=["openai:backup"], instructions="You are a test agent.")
    llm.reply("hello", "free text answer")
    result = run_agent(agent, "hello", scope=SCOPE)
    assert result.model == "openai:backup" and result.output == "free text answer"
    assert any("API key not valid" in n for n in result.notes)


def test_key_and_base_url_from_the_google_genai_default_connection(llm, monkeypatch):
    monkeypatch.delenv("GEMINI_API_KEY")
    monkeypatch.delenv("GOOGLE_GEMINI_BASE_URL")
    monkeypatch.delenv("AOF_GOOGLE_GENAI_CONN_ID")
    conn = {"conn_type": "generic", "password": gemini_protocol.API_KEY, "extra": {"base_url": llm.gemini_base_url}}
    monkeypatch.setenv("AIRFLOW_CONN_GOOGLE_GENAI_DEFAULT", json.dumps(conn))
    llm.reply("api", GOOD)
    assert run_agent(diag(), "api alert", scope=SCOPE).output == GOOD
    assert llm.headers[0]["x-goog-api-key"] == gemini_protocol.API_KEY


# ------------------------------------------------------------- the stand-in refuses what Google refuses


@pytest.fixture
def client(llm):
    return genai.Client(vertexai=False, api_key=gemini_protocol.API_KEY,
                        http_options=types.HttpOptions(base_url=llm.gemini_base_url))


def _status(fn) -> tuple[int, str]:
    with pytest.raises(errors.APIError) as err:
        fn()
    return err.value.code, err.value.status


def test_stand_in_refuses_a_missing_key_an_unknown_model_and_malformed_contents(llm, client):
    import httpx

    url = f"{llm.gemini_base_url}/v1beta/models/gemini-2.5-flash:generateContent"
    ok_body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    assert httpx.post(url, json=ok_body).json()["error"]["status"] == "PERMISSION_DENIED"
    assert _status(lambda: client.models.generate_content(model="gemini-0-nano", contents="hi")) == (404, "NOT_FOUND")
    bad = [
        {"contents": []},
        {"contents": [{"role": "assistant", "parts": [{"text": "hi"}]}]},
        {"contents": [{"role": "user", "parts": [{}]}]},
        {"contents": [{"role": "user", "parts": [{"text": "hi"}]}], "temperature": 0.3},
        {"contents": [{"role": "user", "parts": [{"text": "hi"}]},
                      {"role": "user", "parts": [{"functionResponse": {"name": "shell", "response": {"output": ""}}}]}]},
    ]
    for body in bad:
        r = httpx.post(url, json=body, headers={"x-goog-api-key": gemini_protocol.API_KEY})
        assert (r.status_code, r.json()["error"]["status"]) == (400, "INVALID_ARGUMENT"), body


def test_stand_in_refuses_a_function_call_sent_back_without_its_signature(llm, client):
    llm.tool_call("look", "shell", {"command": "kubectl get pods"})
    tools = [types.Tool(function_declarations=[types.FunctionDeclaration(name="shell", description="run",
                                                                          parameters_json_schema={"type": "object"})])]
    config = types.GenerateContentConfig(tools=tools, automatic_function_calling=types.AutomaticFunctionCallingConfig(
        disable=True))
    first = client.models.generate_content(model="gemini-2.5-flash", contents="look", config=config)
    call = first.candidates[0].content.parts[0]
    assert call.function_call.name == "shell" and call.thought_signature
    stripped = types.Content(role="model", parts=[types.Part(function_call=call.function_call)])
    answer = types.Content(role="user", parts=[types.Part(function_response=types.FunctionResponse(
        name="shell", response={"output": "none"}))])
    code, status = _status(lambda: client.models.generate_content(
        model="gemini-2.5-flash", contents=[types.Content(role="user", parts=[types.Part(text="look")]), stripped,
                                            answer], config=config))
    assert (code, status) == (400, "INVALID_ARGUMENT")


def test_an_empty_candidate_is_an_error_not_an_empty_answer(llm, monkeypatch):
    monkeypatch.setattr(gemini_protocol, "answer", lambda *a, **k: {"candidates": [], "promptFeedback": {
        "blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 3}})
    llm.reply("api", GOOD)
    with pytest.raises(AgentError, match="returned no content.*SAFETY"):
        run_agent(diag(), "api alert", scope=SCOPE)


def test_every_provider_that_validates_has_an_engine():
    from aof_airflow.agent.engines import ENGINES
    from aof_airflow.spec.model_refs import PROVIDERS

    assert set(ENGINES) == set(PROVIDERS)
