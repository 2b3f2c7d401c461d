"""The sandbox's servers answer without Nagle's delay, as a real API server does (Go's net/http sets TCP_NODELAY):
otherwise every answer (headers and body in two writes) waits for the client's delayed ACK, some 40 ms, and the
stand-in, not the product, sets the pace of whatever reads it."""

from __future__ import annotations

import http.client
import time

from aof_lab.sandbox.httpserver import HTTPService, Request, Response


class Echo(HTTPService):
    def handle(self, req: Request) -> Response:
        return Response.json({"path": req.path})


def test_answers_on_a_kept_alive_connection_are_not_held_by_nagle() -> None:
    with Echo() as server:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        conn.request("GET", "/warm")
        conn.getresponse().read()
        t0 = time.perf_counter()
        for i in range(20):
            conn.request("GET", f"/{i}")
            assert conn.getresponse().read() == f'{{"path": "/{i}"}}'.encode()
        per_request = (time.perf_counter() - t0) / 20
        conn.close()
    assert per_request < 0.02, f"{per_request * 1000:.0f} ms per answer: the body waited for a delayed ACK"
