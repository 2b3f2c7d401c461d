"""Retries for model calls: backoff on 429 / 5xx / connection errors and timeouts, honouring `retry-after`.

Ours rather than the SDKs' own (their clients run without retries): one policy for every provider, a
configurable base delay (`[aof] llm_retry_base_delay`, seconds) so tests are fast, and the node's deadline
respected -- a `retry-after` beyond the deadline fails now instead of sleeping past it.
"""

from __future__ import annotations

import logging
import random
import sys
import time
from typing import Callable, TypeVar

from aof_airflow.agent.types import AgentError, ProviderError
from aof_airflow.config import settings
from aof_airflow.retry_after import retry_after_seconds

log = logging.getLogger("aof.agent")
T = TypeVar("T")
RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504, 529}
PROVIDER_STATUS = {401, 403, 404}  # wrong key or model: another provider may still answer
MAX_DELAY = 60.0


def base_delay() -> float:
    return settings().llm_retry_base_delay


def call(fn: Callable[[], T], *, label: str, max_retries: int, deadline: float, timeout: float) -> T:
    """Run `fn` (one SDK request); retry what is worth retrying; raise ProviderError / AgentError otherwise."""
    attempt = 0
    while True:
        try:
            return fn()
        except Exception as e:  # classified below; anything unknown is re-raised untouched
            status, retry_after, kind = classify(e)
            if kind is None:
                raise
            what = f"HTTP {status}" if status else kind
            if kind == "fatal":
                raise AgentError(f"{label} rejected the request ({what}): {_message(e)}") from e
            if kind == "provider":
                raise ProviderError(f"{label} refused ({what}): {_message(e)}") from e
            if attempt >= max_retries:
                tail = f" (timed out after {timeout:.1f}s)" if kind == "timeout" else ""
                raise ProviderError(
                    f"{label} failed after {attempt + 1} attempt(s): {what}{tail}: {_message(e)}"
                ) from e
            delay = retry_after if retry_after is not None else base_delay() * (2**attempt) * (0.75 + random.random() / 2)
            delay = min(delay, MAX_DELAY)
            if time.monotonic() + delay >= deadline:
                raise ProviderError(f"{label}: {what}, and waiting {delay:.1f}s to retry would pass the deadline") from e
            attempt += 1
            log.warning("%s: %s; retry %d/%d in %.2fs", label, what, attempt, max_retries, delay)
            time.sleep(delay)


def classify(e: Exception) -> tuple[int | None, float | None, str | None]:
    """(status, retry_after seconds, kind) with kind in retry|timeout|provider|fatal, or None if not an SDK error."""
    import anthropic  # both SDKs' errors are classified; a Google-only deployment need not load the other two
    import openai

    if isinstance(e, (anthropic.APITimeoutError, openai.APITimeoutError)):
        return None, None, "timeout"
    if isinstance(e, (anthropic.APIConnectionError, openai.APIConnectionError)):
        return None, None, "connection error"
    if isinstance(e, (anthropic.APIStatusError, openai.APIStatusError)):
        return _by_status(e.status_code, e.response.headers)
    return _google(e)


def _by_status(status: int, headers, retry_after: float | None = None) -> tuple[int, float | None, str]:
    if status in RETRY_STATUS or status >= 500:
        return status, retry_after if retry_after is not None else retry_after_seconds(headers), "retry"
    return status, None, "provider" if status in PROVIDER_STATUS else "fatal"


def _google(e: Exception) -> tuple[int | None, float | None, str | None]:
    """google-genai raises its APIError for HTTP answers and the HTTP library's own errors for the rest."""
    errors = sys.modules.get("google.genai.errors")  # not imported: no Google model ran, nothing of it is raised
    if errors is None:
        return None, None, None
    if isinstance(e, errors.APIError):
        details = e.details.get("error", {}).get("details", []) if isinstance(e.details, dict) else []
        reasons = {d.get("reason") for d in details if isinstance(d, dict)}
        if e.code == 400 and reasons & {"API_KEY_INVALID", "API_KEY_SERVICE_BLOCKED"}:
            return e.code, None, "provider"  # Google answers a wrong key with a 400
        headers = getattr(e.response, "headers", None) or {}
        return _by_status(e.code, headers, _retry_info(details))
    for name in ("httpx2", "httpx"):
        http = sys.modules.get(name)
        if http is not None and isinstance(e, http.TimeoutException):
            return None, None, "timeout"
        if http is not None and isinstance(e, http.TransportError):
            return None, None, "connection error"
    return None, None, None


def _retry_info(details: list) -> float | None:
    """google.rpc.RetryInfo's `retryDelay` ("27s", "0.5s"): Google's Retry-After, inside the error body."""
    for d in details:
        if isinstance(d, dict) and str(d.get("@type", "")).endswith("google.rpc.RetryInfo"):
            try:
                return max(0.0, float(str(d.get("retryDelay", "")).rstrip("s")))
            except ValueError:
                return None
    return None


def _message(e: Exception) -> str:
    return str(getattr(e, "message", None) or e)[:500]
