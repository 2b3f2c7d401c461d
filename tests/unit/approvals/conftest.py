from __future__ import annotations

import pytest

from aof_lab.sandbox.slack import SlackWebAPI


@pytest.fixture
def slack():
    api = SlackWebAPI().start()
    try:
        yield api
    finally:
        api.stop()


@pytest.fixture
def dburl(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'aof.db'}"
    monkeypatch.setenv("AOF_DATABASE_URL", url)
    return url


def client_factory(api: SlackWebAPI):
    async def make(_conn_id: str):
        from slack_sdk.web.async_client import AsyncWebClient

        return AsyncWebClient(token=api.token, base_url=api.base_url)

    return make
