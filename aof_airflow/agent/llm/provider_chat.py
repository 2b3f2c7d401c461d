"""The part of a ChatAdapter every provider shares: the model, the agent's settings, an SDK client on its credentials.

One constructor, so every adapter finds its key and endpoint the same way (credentials.py, with the agent's
`model_config.base_url` first); a provider's adapter says only how its SDK's client is built.
"""

from __future__ import annotations

from typing import Any

from aof_airflow.agent.llm import credentials
from aof_airflow.agent.llm.loop import ChatAdapter
from aof_airflow.spec.models import Agent


class ProviderChat(ChatAdapter):
    provider = ""  # a key of credentials.SOURCES

    def __init__(self, model: str, agent: Agent) -> None:
        self.settings = agent.spec.model_settings
        self.client = self.connect(credentials.resolve(self.provider, self.settings.base_url))
        self.model = model

    def connect(self, creds: credentials.Credentials) -> Any:
        """The SDK's client, with the SDK's own retries off: retry.py retries every provider alike."""
        raise NotImplementedError
