"""The demo uses a real service wherever its credentials are set, and the sandbox only for the others."""

import json

from aof_lab.local.demo import real_services, token_connections


def test_no_credentials_means_everything_is_sandboxed():
    assert real_services({}) == set()


def test_each_service_is_real_once_its_credential_is_set():
    env = {"ANTHROPIC_API_KEY": "k", "SLACK_BOT_TOKEN": "xoxb-1", "PAGERDUTY_API_KEY": "p", "KUBECONFIG": "/k"}
    assert real_services(env) == {"llm", "slack", "pagerduty", "kubernetes"}
    assert real_services({"AIRFLOW_CONN_OPENAI_DEFAULT": "{}"}) == {"llm"}


def test_slack_bot_token_becomes_the_slack_default_connection():
    conn = json.loads(token_connections({"SLACK_BOT_TOKEN": "xoxb-1"})["AIRFLOW_CONN_SLACK_DEFAULT"])
    assert conn == {"conn_type": "slack", "password": "xoxb-1"}
    assert token_connections({"SLACK_BOT_TOKEN": "xoxb-1", "AIRFLOW_CONN_SLACK_DEFAULT": "{}"}) == {}
    assert token_connections({}) == {}
