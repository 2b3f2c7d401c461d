"""A local stand-in for the Anthropic Messages API, OpenAI Chat Completions and Gemini's generateContent
(tests/fakes/gemini_protocol.py), for driving the REAL SDK clients.

Test double only: it answers what a test scripted, nothing else (an unscripted prompt gets a 400 that says so,
never an invented answer).

    with FakeLLM() as llm:
        llm.tool_call("checkout", "shell", {"command": "kubectl get pods"})
        llm.reply("checkout", {"severity": "high", ...})
        env = llm.env()          # ANTHROPIC_* / OPENAI_* / GEMINI_* pointing the SDKs here, with dummy keys

Matching: a rule applies when the latest user text (not tool results) contains its `match`. Tool calls are
served first, once each, in the order scripted; then replies in order, the last reply for a match staying
in place so that every later run gets it too.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

from tests.fakes import gemini_protocol as gemini


@dataclass
class _Rule:
    match: str
    kind: str  # "reply" | "tool"
    text: str = ""
    name: str = ""
    args: dict[str, Any] = field(default_factory=dict)
    used: bool = False


@dataclass
class _Failure:
    status: int
    times: int
    headers: dict[str, str]
    retry_delay: float | None = None  # Gemini: google.rpc.RetryInfo in the error body


class FakeLLM:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.headers: list[dict[str, str]] = []  # request headers, lower-cased names (auth checks)
        self._rules: list[_Rule] = []
        self._failures: list[_Failure] = []
        self._delays: list[list[float]] = []  # [seconds, remaining]
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None
        self._signatures: dict[str, str] = {}  # Gemini thought signatures issued -> function name

    # ------------------------------------------------------------------ scripting
    def reply(self, match: str, text: str | dict[str, Any]) -> FakeLLM:
        """Answer prompts containing `match` with `text` (a dict is sent as its JSON text)."""
        body = json.dumps(text, indent=2) if isinstance(text, dict) else text
        with self._lock:
            self._rules.append(_Rule(match=match, kind="reply", text=body))
        return self

    def tool_call(self, match: str, name: str, args: dict[str, Any]) -> FakeLLM:
        """Answer the next prompt containing `match` with a call of tool `name` (once)."""
        with self._lock:
            self._rules.append(_Rule(match=match, kind="tool", name=name, args=dict(args)))
        return self

    def fail(self, status: int, times: int = 1, headers: dict[str, str] | None = None,
             retry_delay: float | None = None) -> FakeLLM:
        """The next `times` requests get HTTP `status` (with `headers`, e.g. {"retry-after": "0"}; Gemini answers
        also carry `retry_delay` as google.rpc.RetryInfo)."""
        with self._lock:
            self._failures.append(_Failure(status, times, dict(headers or {}), retry_delay))
        return self

    def delay(self, seconds: float, times: int = 1) -> FakeLLM:
        """The next `times` requests are answered only after `seconds` (to provoke client timeouts)."""
        with self._lock:
            self._delays.append([seconds, times])
        return self

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> FakeLLM:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep test output quiet
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    return self._send(400, {"error": {"message": "FakeLLM: body is not JSON"}})
                sent = {k.lower(): v for k, v in self.headers.items()}
                with fake._lock:
                    fake.headers.append(sent)
                if ":generateContent" in self.path:
                    status, payload, headers = fake._gemini(self.path, body, sent)
                else:
                    status, payload, headers = fake._handle(self.path, body)
                self._send(status, payload, headers)

            def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    for k, v in (headers or {}).items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout tests)
                    pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="fake-llm", daemon=True).start()

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def port(self) -> int:
        assert self._server, "FakeLLM is not started"
        return self._server.server_address[1]

    @property
    def anthropic_base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def openai_base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def gemini_base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        return {
            "ANTHROPIC_API_KEY": "fake-anthropic-key",
            "ANTHROPIC_BASE_URL": self.anthropic_base_url,
            "OPENAI_API_KEY": "fake-openai-key",
            "OPENAI_BASE_URL": self.openai_base_url,
            "GEMINI_API_KEY": gemini.API_KEY,
            "GOOGLE_GEMINI_BASE_URL": self.gemini_base_url,
        }

    # ------------------------------------------------------------------ protocol
    def _handle(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        path = path.split("?", 1)[0].rstrip("/")
        openai = path.endswith("/chat/completions")
        if not (openai or path.endswith("/v1/messages")):
            return 404, {"error": {"message": f"FakeLLM: unknown path {path}"}}, {}
        with self._lock:
            self.requests.append(body)
            self.paths.append(path)
            delay = self._take_delay()
            failure = self._take_failure()
        if delay:
            time.sleep(delay)
        if failure:
            return failure.status, _error(openai, failure.status, "FakeLLM: scripted failure"), failure.headers
        prompt = _latest_user_text(body, openai)
        with self._lock:
            rule = self._pick(prompt)
        if rule is None:
            msg = f"FakeLLM: no scripted reply matches the latest user prompt: {prompt[:300]!r}"
            return 400, _error(openai, 400, msg), {"x-should-retry": "false"}
        n = next(self._ids)
        tokens_in = max(1, len(json.dumps(body)) // 4)
        if openai:
            return 200, _openai_response(n, body.get("model", "fake"), rule, tokens_in), {}
        return 200, _anthropic_response(n, body.get("model", "fake"), rule, tokens_in), {}

    def _gemini(self, raw_path: str, body: Any, headers: dict[str, str]) -> tuple[int, dict[str, Any], dict[str, str]]:
        path, _, query = raw_path.partition("?")
        with self._lock:
            self.requests.append(body)
            self.paths.append(path)
            try:
                model, req = gemini.check_request(path, dict(parse_qsl(query)), headers, body, self._signatures)
            except gemini.Refusal as r:
                return r.code, gemini.error_body(r.code, r.message, r.details), {}
            delay = self._take_delay()
            failure = self._take_failure()
        if delay:
            time.sleep(delay)
        if failure:
            details = gemini.retry_info(failure.retry_delay) if failure.retry_delay is not None else None
            return failure.status, gemini.error_body(failure.status, "FakeLLM: scripted failure", details), failure.headers
        prompt = gemini.latest_user_text(req)
        with self._lock:
            rule = self._pick(prompt, tools=gemini.tools_allowed(req))
            if rule is None:
                return 400, gemini.error_body(400, f"FakeLLM: no scripted reply matches the latest user prompt: "
                                                   f"{prompt[:300]!r}"), {}
            return 200, gemini.answer(next(self._ids), model, rule.kind, rule.text, rule.name, rule.args,
                                      max(1, len(json.dumps(body)) // 4), self._signatures), {}

    def _take_failure(self) -> _Failure | None:
        while self._failures and self._failures[0].times <= 0:
            self._failures.pop(0)
        if not self._failures:
            return None
        self._failures[0].times -= 1
        return self._failures[0]

    def _take_delay(self) -> float:
        while self._delays and self._delays[0][1] <= 0:
            self._delays.pop(0)
        if not self._delays:
            return 0.0
        self._delays[0][1] -= 1
        return self._delays[0][0]

    def _pick(self, prompt: str, tools: bool = True) -> _Rule | None:
        """`tools`: whether the request lets the model call one (Gemini's mode NONE does not)."""
        live = [r for r in self._rules if not r.used and r.match in prompt]
        calls = [r for r in live if r.kind == "tool"] if tools else []
        if calls:
            calls[0].used = True
            return calls[0]
        replies = [r for r in live if r.kind == "reply"]
        if not replies:
            return None
        if len(replies) > 1:
            replies[0].used = True
        return replies[0]


def _latest_user_text(body: dict[str, Any], openai: bool) -> str:
    """The text of the most recent user message that carries text (tool results are skipped)."""
    for msg in reversed(body.get("messages") or []):
        if msg.get("role") != "user":
            continue
        content = msg.get("content")
        if isinstance(content, str):
            return content
        texts = [b.get("text", "") for b in content or [] if isinstance(b, dict) and b.get("type") == "text"]
        if texts:
            return "\n".join(texts)
    return ""


def _error(openai: bool, status: int, message: str) -> dict[str, Any]:
    if openai:
        return {"error": {"message": message, "type": "server_error" if status >= 500 else "invalid_request_error"}}
    kind = {429: "rate_limit_error", 529: "overloaded_error"}.get(status, "api_error" if status >= 500 else "invalid_request_error")
    return {"type": "error", "error": {"type": kind, "message": message}}


def _anthropic_response(n: int, model: str, rule: _Rule, tokens_in: int) -> dict[str, Any]:
    if rule.kind == "tool":
        content = [{"type": "tool_use", "id": f"toolu_{n:04d}", "name": rule.name, "input": rule.args}]
        stop, out = "tool_use", max(1, len(json.dumps(rule.args)) // 4)
    else:
        content = [{"type": "text", "text": rule.text}]
        stop, out = "end_turn", max(1, len(rule.text) // 4)
    return {
        "id": f"msg_{n:04d}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {"input_tokens": tokens_in, "output_tokens": out},
    }


def _openai_response(n: int, model: str, rule: _Rule, tokens_in: int) -> dict[str, Any]:
    if rule.kind == "tool":
        message: dict[str, Any] = {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": f"call_{n:04d}", "type": "function", "function": {"name": rule.name, "arguments": json.dumps(rule.args)}}
            ],
        }
        finish, out = "tool_calls", max(1, len(json.dumps(rule.args)) // 4)
    else:
        message = {"role": "assistant", "content": rule.text}
        finish, out = "stop", max(1, len(rule.text) // 4)
    return {
        "id": f"chatcmpl-{n:04d}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {"prompt_tokens": tokens_in, "completion_tokens": out, "total_tokens": tokens_in + out},
    }
