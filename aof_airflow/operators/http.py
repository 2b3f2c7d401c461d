"""HTTP node on the http provider's HttpHook, with its base URL and secret taken from an Airflow Connection.

The seed writes absolute URLs (`https://api.pagerduty.com/incidents/${INCIDENT_ID}`). Which Connection
serves a URL, first found wins:
  1. the node's `connection_id`;
  2. `aof_http_<host slug>` (e.g. `aof_http_api_pagerduty_com`; slug = host lower-cased, non-alphanumerics -> `_`);
  3. for api.pagerduty.com: `pagerduty_default`.
The Connection's scheme/host/port replace the URL's (the path and query stay), so a proxy or a test
stand-in can take the traffic. None found: the URL is used as written, without credentials.

PagerDuty (the URL's host is api.pagerduty.com): `${PAGERDUTY_API_KEY}` comes from the environment, else
the Connection's password; writes carry the `From` header PagerDuty requires, from the node's headers, else
the Connection's login, else `[aof] pagerduty_from`. With an explicit Authorization header the hook's
basic auth from login/password is switched off (the header would otherwise be overwritten).
"""

from __future__ import annotations

import json
import os
import re
from collections import ChainMap
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowNotFoundException

from aof_airflow.config import setting
from aof_airflow.operators.base import NodeOperator, mask, render_or_fail

PAGERDUTY_HOST = "api.pagerduty.com"
MAX_TEXT = 10_000


def host_slug(host: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", host.lower()).strip("_")


def candidate_conn_ids(url: str, node_conn: str | None) -> list[str]:
    if node_conn:
        return [node_conn]
    host = (urlsplit(url).hostname or "").lower()
    ids = [f"aof_http_{host_slug(host)}"] if host else []
    if host == PAGERDUTY_HOST:
        ids.append("pagerduty_default")
    return ids


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


class HttpNodeOperator(NodeOperator):
    ui_color = "#e0f2f1"

    def run(self, tctx: Any, context: Any) -> Any:
        from aof_airflow.templating import TemplateContext, render_data, render_json, render_text

        cfg = self.node.config
        url = render_or_fail(self.node.id, "url", render_text, cfg.url, tctx)
        if not urlsplit(url).scheme and not cfg.connection_id:
            raise AirflowFailException(f"node {self.node.id!r}: url {url!r} is not absolute and names no connection_id")
        conn = find_connection(candidate_conn_ids(url, cfg.connection_id))
        is_pd = (urlsplit(url).hostname or "").lower() == PAGERDUTY_HOST
        if conn is not None and conn.password:
            mask(conn.password)
        secrets = {"PAGERDUTY_API_KEY": conn.password} if (is_pd and conn is not None and conn.password) else {}
        tctx = TemplateContext(tctx.roots, environ=ChainMap(dict(os.environ), secrets), on_secret=mask)

        headers = {k: render_or_fail(self.node.id, f"header {k}", render_text, v, tctx) for k, v in cfg.headers.items()}
        for k, v in headers.items():
            if k.lower() in ("authorization", "x-api-key", "token"):
                mask(v)
        if is_pd and cfg.method in ("POST", "PUT", "PATCH", "DELETE") and not any(k.lower() == "from" for k in headers):
            sender = (conn.login if conn is not None else None) or setting("pagerduty_from")
            if not sender:
                raise AirflowFailException(
                    f"node {self.node.id!r}: PagerDuty requires a `From` header (a user's email) on writes: set the "
                    "login of connection `pagerduty_default` (or aof_http_api_pagerduty_com) or [aof] pagerduty_from")
            headers["From"] = sender

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
        resp = hook.run(endpoint, data=body.encode("utf-8") if body is not None else None, headers=headers,
                        extra_options={"check_response": False, "timeout": cfg.timeout_seconds})
        if not 200 <= resp.status_code < 300:
            text = resp.text[:MAX_TEXT]
            self.log.error("HTTP %s from %s %s:\n%s", resp.status_code, cfg.method, endpoint, text)
            exc = AirflowFailException if 400 <= resp.status_code < 500 and resp.status_code != 429 else AirflowException
            raise exc(f"node {self.node.id!r}: {cfg.method} {endpoint} answered {resp.status_code}: {text[:2000]}")
        self.log.info("HTTP %s", resp.status_code)
        return parse_response(resp)
