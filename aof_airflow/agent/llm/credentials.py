"""API keys and base URLs: the Airflow Connection first (`anthropic_default` / `openai_default` /
`google_genai_default`), then env vars (for Google `GOOGLE_API_KEY`, else `GEMINI_API_KEY`, as its SDK reads them).

Connection: password = API key; extra `base_url` (or host, as a URL) = endpoint, e.g. a vLLM / Ollama server.
`[aof] anthropic_conn_id` / `openai_conn_id` / `google_genai_conn_id` choose another connection. Looking one up
outside Airflow (plain CLI use, no metadata DB) must not crash: it just finds nothing and the env vars apply.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from aof_airflow.agent.masking import mask
from aof_airflow.agent.types import ProviderError
from aof_airflow.config import setting

log = logging.getLogger("aof.agent")


@dataclass(frozen=True)
class Source:
    """Where a provider's key and endpoint come from."""

    key_vars: tuple[str, ...]  # env vars, first set wins
    url_var: str
    connection: str  # default Airflow connection id
    conn_setting: str  # the `[aof]` setting that names another connection


SOURCES = {
    "anthropic": Source(("ANTHROPIC_API_KEY",), "ANTHROPIC_BASE_URL", "anthropic_default", "anthropic_conn_id"),
    "openai": Source(("OPENAI_API_KEY",), "OPENAI_BASE_URL", "openai_default", "openai_conn_id"),
    "google": Source(("GOOGLE_API_KEY", "GEMINI_API_KEY"), "GOOGLE_GEMINI_BASE_URL", "google_genai_default",
                     "google_genai_conn_id"),
}


@dataclass(frozen=True)
class Credentials:
    api_key: str
    base_url: str | None
    source: str  # "connection <id>" or "env <VAR>", for the log: never the key itself


def conn_id(provider: str) -> str:
    source = SOURCES[provider]
    return setting(source.conn_setting) or source.connection


def resolve(provider: str, base_url_override: str | None = None) -> Credentials:
    """Credentials for `provider`, or ProviderError saying exactly what to configure."""
    src = SOURCES[provider]
    cid = conn_id(provider)
    key, base_url, source = None, None, ""
    conn = _connection(cid)
    env_var = next((v for v in src.key_vars if os.environ.get(v)), None)
    if conn is not None and conn.password:
        key, source = conn.password, f"connection {cid}"
        base_url = _conn_base_url(conn)
    elif env_var:
        key, source = os.environ[env_var], f"env {env_var}"
    if not key:
        raise ProviderError(
            f"no API key for {provider}: set the Airflow connection {cid!r} (password = API key, "
            f"extra base_url optional) or the environment variable {' or '.join(src.key_vars)}"
        )
    mask(key, env_var or src.key_vars[0])
    base_url = base_url_override or base_url or os.environ.get(src.url_var) or None
    return Credentials(key, base_url, source)


def _connection(cid: str):
    try:
        from airflow.sdk import Connection  # `aofctl agent exec` runs without Airflow's secrets too

        return Connection.get(cid)
    except Exception as e:  # not defined, or no Airflow around (plain CLI): env vars apply
        log.debug("connection %s not available: %s", cid, e)
        return None


def _conn_base_url(conn) -> str | None:
    try:
        extra = conn.extra_dejson or {}
    except Exception:
        extra = {}
    if extra.get("base_url"):
        return str(extra["base_url"])
    host = conn.host or ""
    if host.startswith(("http://", "https://")):
        return host
    if host:
        scheme = conn.schema if conn.schema in ("http", "https") else "https"
        return f"{scheme}://{host}" + (f":{conn.port}" if conn.port else "")
    return None
