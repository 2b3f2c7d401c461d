"""HTTP node on the http provider's HttpHook, with its base URL and secret taken from an Airflow Connection.

The seed writes absolute URLs (`https://api.pagerduty.com/incidents/${INCIDENT_ID}`). Which Connection
serves a URL, first found wins:
  1. the node's `connection_id`;
  2. `aof_http_<host slug>` (e.g. `aof_http_api_pagerduty_com`; slug = host lower-cased, non-alphanumerics -> `_`);
  3. the Connections the host's API profile names (services/api_profiles.py).
The Connection's scheme/host/port replace the URL's (the path and query stay), so a proxy or a test
stand-in can take the traffic. None found: the URL is used as written, without credentials.

A host with an API profile gets what that API requires: the `${NAME}` its Connection's password stands for
(the environment still wins), the headers it requires and the node did not set, and its rate-limit rule.
With an explicit Authorization header the hook's basic auth from login/password is switched off (the header
would otherwise be overwritten).

Values land in the URL percent-encoded (a title cannot add a path segment or a query parameter), in a JSON
body JSON-escaped, and in a header with any character a header cannot carry written as `\\uXXXX`.
A 429 (or 503 with Retry-After) is retried after the wait the API asks for, as long as that fits in the
node's deadline (twice `timeout_seconds`, as its execution timeout); past it the node fails, retryable.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections import ChainMap
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowNotFoundException

from aof_airflow.services.api_profiles import ApiProfile, ProfileError, profile_for, retry_after
from aof_airflow.operators.base import NodeOperator, mask, render_or_fail

MAX_TEXT = 10_000
_HEADER_UNSAFE = re.compile(r"[^\t\x20-\x7e\x80-\xff]|[\x7f-\x9f]")


def host_slug(host: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", host.lower()).strip("_")


def candidate_conn_ids(url: str, node_conn: str | None) -> list[str]:
    if node_conn:
        return [node_conn]
    host = (urlsplit(url).hostname or "").lower()
    ids = [f"aof_http_{host_slug(host)}"] if host else []
    profile = profile_for(host)
    return ids + [c for c in (profile.connection_ids if profile else ()) if c not in ids]


def find_connection(conn_ids: list[str]) -> Any | None:
    from airflow.providers.http.hooks.http import HttpHook

    for cid in conn_ids:
        try:
            return HttpHook.get_connection(cid)
        except AirflowNotFoundException:
            continue
    return None


def url_connection(url: str) -> Any:
    """A Connection standing for the URL itself, when no configured one serves it (nothing secret in it)."""
    from airflow.sdk import Connection

    parts = urlsplit(url)
    return Connection(conn_id="aof_http_url", conn_type="http", host=parts.hostname, schema=parts.scheme,
                      port=parts.port)


def endpoint_of(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(("", "", parts.path or "/", parts.query, "")) if parts.scheme else url


def header_value(value: str) -> str:
    """A rendered header as HTTP can carry it: CR, LF, NUL, other controls and non-Latin-1 as `\\uXXXX`."""
    return _HEADER_UNSAFE.sub(lambda m: f"\\u{ord(m.group(0)):04x}" if ord(m.group(0)) < 0x10000
                              else f"\\U{ord(m.group(0)):08x}", value)


def _no_auth(*_: Any) -> None:
    return None


def make_hook(method: str, conn: Any, *, explicit_auth: bool) -> Any:
    from airflow.providers.http.hooks.http import HttpHook

    class _Hook(HttpHook):  # the resolved Connection (found, or built from the URL) is the one used
        def get_connection(self, conn_id: str | None = None) -> Any:  # type: ignore[override]
            return conn

    return _Hook(method=method, http_conn_id=conn.conn_id, auth_type=_no_auth if explicit_auth else None)


def parse_response(resp: Any) -> Any:
    ctype = resp.headers.get("Content-Type", "")
    if "json" in ctype:
        try:
            return resp.json()
        except ValueError:
            pass
    text = resp.text
    return {"status": resp.status_code, "text": text[:MAX_TEXT]}


def wait_asked(profile: ApiProfile | None, resp: Any) -> float | None:
    """Seconds the answer asks us to wait before trying again (429 / 503), None when it is final."""
    if profile is not None:
        wait = profile.rate_limit_wait(resp.status_code, resp.headers)
        if wait is not None:
            return wait
    return retry_after(resp.status_code, resp.headers) if resp.status_code in (429, 503) else None


class HttpNodeOperator(NodeOperator):
    node_types = ("HTTP",)
    ui_color = "#e0f2f1"

    def run(self, tctx: Any, context: Any) -> Any:
        from aof_airflow.templating import TemplateContext, render_data, render_json, render_text, render_url

        cfg = self.node.config
        url = render_or_fail(self.node.id, "url", render_url, cfg.url, tctx)
        if not urlsplit(url).scheme and not cfg.connection_id:
            raise AirflowFailException(f"node {self.node.id!r}: url {url!r} is not absolute and names no connection_id")
        profile = profile_for(urlsplit(url).hostname)
        conn = find_connection(candidate_conn_ids(url, cfg.connection_id))
        if conn is not None and conn.password:
            mask(conn.password)
        secrets = ({profile.secret_variable: conn.password}
                   if profile and profile.secret_variable and conn is not None and conn.password else {})
        tctx = TemplateContext(tctx.roots, environ=ChainMap(dict(os.environ), secrets), on_secret=mask)

        headers = {k: header_value(render_or_fail(self.node.id, f"header {k}", render_text, v, tctx))
                   for k, v in cfg.headers.items()}
        for k, v in headers.items():
            if k.lower() in ("authorization", "x-api-key", "token"):
                mask(v)
        if profile is not None:
            try:
                headers = profile.prepare_headers(cfg.method, headers, conn)
            except ProfileError as exc:
                raise AirflowFailException(f"node {self.node.id!r}: {exc}") from None

        body: str | None = None
        if isinstance(cfg.body, str):
            is_json = "json" in next((v for k, v in headers.items() if k.lower() == "content-type"), "").lower() \
                or cfg.body.lstrip()[:1] in ("{", "[")
            body = render_or_fail(self.node.id, "body", render_json if is_json else render_text, cfg.body, tctx)
        elif cfg.body is not None:
            body = json.dumps(render_or_fail(self.node.id, "body", render_data, cfg.body, tctx))
            headers.setdefault("Content-Type", "application/json")

        explicit_auth = any(k.lower() == "authorization" for k in headers)
        hook = make_hook(cfg.method, conn if conn is not None else url_connection(url), explicit_auth=explicit_auth)
        endpoint = endpoint_of(url)
        self.log.info("%s %s (connection %s)", cfg.method, endpoint, conn.conn_id if conn is not None else "none: URL as written")
        resp = self._send(hook, endpoint, body, headers, profile)
        if not 200 <= resp.status_code < 300:
            text = resp.text[:MAX_TEXT]
            self.log.error("HTTP %s from %s %s:\n%s", resp.status_code, cfg.method, endpoint, text)
            exc = AirflowFailException if 400 <= resp.status_code < 500 and resp.status_code != 429 else AirflowException
            raise exc(f"node {self.node.id!r}: {cfg.method} {endpoint} answered {resp.status_code}: {text[:2000]}")
        self.log.info("HTTP %s", resp.status_code)
        return parse_response(resp)

    def _send(self, hook: Any, endpoint: str, body: str | None, headers: dict[str, str],
              profile: ApiProfile | None) -> Any:
        """One request, again after each wait a rate-limited answer asks for while that fits the deadline."""
        cfg = self.node.config
        deadline = time.monotonic() + 2 * cfg.timeout_seconds
        while True:
            left = deadline - time.monotonic()
            resp = hook.run(endpoint, data=body.encode("utf-8") if body is not None else None, headers=headers,
                            extra_options={"check_response": False, "timeout": max(1.0, min(cfg.timeout_seconds, left))})
            wait = wait_asked(profile, resp)
            if wait is None:
                return resp
            if wait > deadline - time.monotonic() - 1.0:
                raise AirflowException(
                    f"node {self.node.id!r}: {cfg.method} {endpoint} answered {resp.status_code} (rate limited); "
                    f"it asks to wait {wait:g}s, past the node's deadline ({2 * cfg.timeout_seconds:g}s)")
            self.log.warning("HTTP %s from %s %s: waiting %.1fs as the API asks", resp.status_code, cfg.method, endpoint, wait)
            time.sleep(wait)
