"""A tiny threaded HTTP server base shared by the sandbox services.

Why not FastAPI/uvicorn: the sandbox must start and stop in a few milliseconds inside tests, on an
ephemeral loopback port, from any thread, and stream Kubernetes watch responses; the standard
library's threading server does that with no event loop to manage.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
import traceback
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterable, Iterator, Self
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    """One parsed HTTP request, handed to `HTTPService.handle`."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: Message
    body: bytes

    def q(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    @property
    def content_type(self) -> str:
        return (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()


@dataclass
class Response:
    """What a service answers; `body` may be an iterator of chunks for streaming (watch)."""

    status: int = 200
    body: bytes | Iterable[bytes] = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        return cls(status, json.dumps(obj).encode(), {"Content-Type": "application/json", **(headers or {})})

    @classmethod
    def html(cls, text: str, status: int = 200) -> Response:
        return cls(status, text.encode(), {"Content-Type": "text/html; charset=utf-8"})

    @classmethod
    def text(cls, text: str, status: int = 200, content_type: str = "text/plain; charset=utf-8") -> Response:
        return cls(status, text.encode(), {"Content-Type": content_type})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr: tuple[str, int], handler: type, service: HTTPService) -> None:
        self.service = service
        self.open_sockets: set[socket.socket] = set()
        self.sock_lock = threading.Lock()
        super().__init__(addr, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.sock_lock:
            self.open_sockets.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.sock_lock:
            self.open_sockets.discard(request)
        super().shutdown_request(request)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    timeout = 30  # idle keep-alive connections close; clients reconnect
    # TCP_NODELAY, as Go's net/http (the real API server's) and every production HTTP server set: the headers
    # and the body leave in two writes, and with Nagle's algorithm the body waits for the client's delayed ACK
    # of the headers -- 40 ms added to every answer (a `kubectl get` of six kinds: 0.45 s instead of 0.2 s).
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _dispatch(self) -> None:
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        req = Request(self.command, split.path, parse_qs(split.query, keep_blank_values=True), self.headers, body)
        try:
            resp = self.server.service.handle(req)
        except Exception:  # a bug in a stand-in must show up as a 500 the client sees, not a hang
            resp = Response.text(traceback.format_exc(), 500)
        self._write(resp)

    def _write(self, resp: Response) -> None:
        self.send_response(resp.status)
        for k, v in resp.headers.items():
            self.send_header(k, v)
        if isinstance(resp.body, (bytes, bytearray)):
            self.send_header("Content-Length", str(len(resp.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(resp.body)
            return
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        chunks: Iterator[bytes] = iter(resp.body)
        try:
            for chunk in chunks:
                if chunk:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        except OSError:
            self.close_connection = True
        finally:
            close = getattr(chunks, "close", None)
            if close:
                close()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _dispatch


class HTTPService:
    """Base of a sandbox server: `start()`/`stop()` or a `with` block; loopback, port 0 by default."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, tls: ssl.SSLContext | None = None) -> None:
        self._host = host
        self._port = port
        self._tls = tls
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.stopping = threading.Event()

    def handle(self, req: Request) -> Response:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def port(self) -> int:
        if not self._server:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        """Root URL without a trailing slash, e.g. http://127.0.0.1:40123."""
        return f"{'https' if self._tls else 'http'}://{self._host}:{self.port}"

    def start(self) -> Self:
        if self._server:
            return self
        self.stopping.clear()
        self._server = _Server((self._host, self._port), _Handler, self)
        if self._tls:
            self._server.socket = self._tls.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
            name=f"{type(self).__name__}:{self.port}", daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if not server:
            return
        self.stopping.set()
        server.shutdown()
        with server.sock_lock:
            socks = list(server.open_sockets)
        for s in socks:  # wake handler threads blocked on keep-alive reads or streaming watches
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        server.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
