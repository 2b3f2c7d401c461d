"""The HTTP tool: allow-listed URL prefixes and methods, no redirects out of the list, a size cap."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from aof_airflow.agent.tools import Toolbox
from aof_airflow.agent.types import AgentScope
from tests.unit.agent.helpers import make_agent


@pytest.fixture
def site():
    hits: list[str] = []

    class H(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            hits.append(self.path)
            if self.path.startswith("/health/redirect"):
                self.send_response(302)
                self.send_header("location", "/admin")
                self.end_headers()
                return
            body = b"x" * 5000 if self.path.startswith("/health/big") else b'{"status": "ok"}'
            self.send_response(200)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}", hits
    srv.shutdown()
    srv.server_close()


def _box(base: str) -> Toolbox:
    tool = {"type": "HTTP", "config": {"allowed_urls": [f"{base}/health"], "max_bytes": 100, "timeout_seconds": 5}}
    return Toolbox(make_agent(tools=[tool]), AgentScope())


def test_allowed_get_works_and_is_offered(site):
    base, hits = site
    box = _box(base)
    assert [s.name for s in box.specs()] == ["http_request"]
    call = box.call("http_request", {"url": f"{base}/health"})
    assert call.ok and "HTTP 200" in call.output and '"ok"' in call.output
    assert hits == ["/health"]


@pytest.mark.parametrize("url,method", [
    ("{base}/admin", "GET"),
    ("{base}/healthz-evil", "GET"),
    ("{base}/health/../admin", "GET"),
    ("http://user:pw@127.0.0.1:1/health", "GET"),
    ("file:///etc/passwd", "GET"),
    ("{base}/health", "POST"),
    ("{base}/health", "DELETE"),
])
def test_refused_requests_never_reach_the_server(site, url, method):
    base, hits = site
    call = _box(base).http(url.format(base=base), method)
    assert call.refused and not call.ok
    assert hits == []


def test_redirects_are_not_followed_and_bodies_are_capped(site):
    base, hits = site
    box = _box(base)
    assert "HTTP 302" in box.http(f"{base}/health/redirect").output
    big = box.http(f"{base}/health/big")
    assert big.truncated and "[output truncated" in big.output
    assert hits == ["/health/redirect", "/health/big"]  # never /admin


def test_without_allowed_urls_the_tool_is_not_offered():
    box = Toolbox(make_agent(tools=[{"type": "HTTP", "config": {}}]), AgentScope())
    assert box.specs() == [] and any("no allowed_urls" in n for n in box.notes)
    assert box.call("http_request", {"url": "http://example.com"}).refused
