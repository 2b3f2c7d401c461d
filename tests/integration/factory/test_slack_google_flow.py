"""A Slack-triggered flow with a `google:` agent, built by the factory and run with `dag.test`: the Slack event
the relay stores as the run's conf reaches the templates, the agent answers through the real google-genai SDK
(against the Gemini stand-in), and the answer is posted back to the channel of the mention."""

from __future__ import annotations

import pytest

from aof_lab.sandbox.slack import channel_id_for
from tests.fakes.llm_api import FakeLLM

pytestmark = pytest.mark.integration

FLOW = """\
apiVersion: aof.dev/v1
kind: Agent
metadata: {name: slack-helper}
spec:
  model: google:gemini-2.5-flash
  model_config: {temperature: 0.1, max_tokens: 512}
  instructions: You answer the on-call channel's questions in one short paragraph.
---
apiVersion: aof.dev/v1
kind: AgentFlow
metadata: {name: slack-ask}
spec:
  trigger:
    type: Slack
    config: {events: [app_mention]}
  nodes:
    - id: parse
      type: Transform
      config:
        script: |
          export QUESTION="${event.text}"
          export ASKER="${event.user}"
    - id: answer
      type: Agent
      config: {agent: slack-helper, input: "Question from ${ASKER}: ${QUESTION}"}
    - id: reply
      type: Slack
      config: {channel: "${event.channel}", message: "<@${ASKER}> ${answer.output}"}
  connections:
    - {from: parse, to: answer}
    - {from: answer, to: reply}
"""


def test_app_mention_conf_runs_the_flow_with_a_google_agent(run_flow, airflow_home, slack):
    _, dags = airflow_home
    flow_file = dags / "flows" / "slack-ask.yaml"
    flow_file.write_text(FLOW)
    channel = channel_id_for("incidents")
    conf = {"event": {"type": "app_mention", "user": "U0HUMAN001", "text": "<@U0BOT00001> why is api restarting?",
                      "ts": "1764583200.000100", "channel": channel, "event_ts": "1764583200.000100"},
            "slack": {"event_id": "Ev0001", "team_id": "T0TEAM", "api_app_id": "A0APP", "event_time": 1764583200}}
    try:
        with FakeLLM() as llm:
            llm.reply("Question from U0HUMAN001: <@U0BOT00001> why is api restarting?",
                      "The api pods are OOMKilled: the memory limit is below the working set.")
            out = run_flow(conf, llm.env(), dag_id="slack-ask")
    finally:
        flow_file.unlink()
    assert out["import_errors"] == {}, out["import_errors"]
    assert out["state"].endswith("success"), out["log"][-4000:]
    assert sorted(out["tasks"]) == ["answer", "parse", "reply"]
    assert all(v.endswith("success") for v in out["tasks"].values()), out["tasks"]
    assert llm.paths == ["/v1/models/gemini-2.5-flash:generateContent"]
    assert llm.requests[0]["generationConfig"] == {"temperature": 0.1, "maxOutputTokens": 512}
    posted = [m["text"] for m in slack.messages(channel)]
    assert any("OOMKilled" in t and "U0HUMAN001" in t for t in posted), posted
