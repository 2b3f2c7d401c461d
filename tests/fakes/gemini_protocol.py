"""Gemini's generateContent protocol for the FakeLLM stand-in (tests/fakes/llm_api.py): checks and answers.

It refuses what Google's API refuses, in Google's error format (`{"error": {code, message, status, details}}`):
no API key (403 PERMISSION_DENIED), a wrong key (400 INVALID_ARGUMENT, reason API_KEY_INVALID), an unknown model
(404 NOT_FOUND), malformed `contents` (400 INVALID_ARGUMENT: missing, bad role, empty part, unknown field,
function responses that do not answer the preceding function calls, a function call sent back without the
thought signature it came with). Field names are read in both proto JSON forms (`functionCall`, `function_call`).
"""

from __future__ import annotations

import base64
import itertools
import json
import re
from typing import Any

API_KEY = "fake-gemini-key"
MODELS = {"gemini-2.5-flash", "gemini-2.5-pro", "gemini-2.0-flash", "gemini-2.5-flash-lite", "gemini-3-pro-preview"}
PATH = re.compile(r"^/(v1|v1beta|v1alpha)/models/([^/:]+):generateContent$")
STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
          429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}
REQUEST_FIELDS = {"contents", "tools", "toolConfig", "systemInstruction", "generationConfig", "safetySettings",
                  "cachedContent", "labels"}
PART_DATA = {"text", "inlineData", "functionCall", "functionResponse", "fileData", "executableCode",
             "codeExecutionResult"}
PART_FIELDS = PART_DATA | {"thought", "thoughtSignature", "videoMetadata", "mediaResolution", "partMetadata"}
_signatures = (base64.b64encode(f"fake-thought-signature-{n:04d}".encode()).decode() for n in itertools.count(1))


class Refusal(Exception):
    def __init__(self, code: int, message: str, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.details = code, message, details or []


def error_body(code: int, message: str, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    err: dict[str, Any] = {"code": code, "message": message, "status": STATUS.get(code, "UNKNOWN")}
    if details:
        err["details"] = details
    return {"error": err}


def retry_info(seconds: float) -> list[dict[str, Any]]:
    return [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{seconds:g}s"}]


def camel(obj: Any) -> Any:
    """Proto JSON accepts `function_call` as well as `functionCall`: read both as the latter."""
    if isinstance(obj, dict):
        return {re.sub(r"_([a-z])", lambda m: m.group(1).upper(), k): (v if k in ("args", "response") else camel(v))
                for k, v in obj.items()}
    if isinstance(obj, list):
        return [camel(v) for v in obj]
    return obj


def check_request(path: str, query: dict[str, str], headers: dict[str, str], body: Any,
                  issued: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """(model, request in camelCase) or Refusal. `issued`: thought signature -> function name, as answered."""
    m = PATH.match(path)
    if not m:
        raise Refusal(404, f"Method not found: {path}")
    version, model = m.groups()
    key = headers.get("x-goog-api-key") or query.get("key")
    if not key:
        raise Refusal(403, "Method doesn't allow unregistered callers (callers without established identity). "
                           "Please use API Key or other form of API consumer identity to call this API.")
    if key != API_KEY:
        raise Refusal(400, "API key not valid. Please pass a valid API key.",
                      [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
                        "domain": "googleapis.com"}])
    if model not in MODELS:
        raise Refusal(404, f"models/{model} is not found for API version {version}, or is not supported for "
                           "generateContent. Call ListModels to see the list of available models and their "
                           "supported methods.")
    if not isinstance(body, dict):
        raise Refusal(400, "Invalid JSON payload received. Expected an object.")
    req = camel(body)
    for k in req:
        if k not in REQUEST_FIELDS:
            raise Refusal(400, f'Invalid JSON payload received. Unknown name "{k}": Cannot find field.')
    contents = req.get("contents")
    if not contents:
        raise Refusal(400, "* GenerateContentRequest.contents: contents is not specified")
    declared = {d.get("name") for t in req.get("tools") or [] for d in t.get("functionDeclarations") or []}
    _check_contents(contents, declared, issued)
    gen = req.get("generationConfig") or {}
    temp = gen.get("temperature")
    if temp is not None and not 0 <= float(temp) <= 2:
        raise Refusal(400, "* GenerateContentRequest.generation_config.temperature: must be in [0.0, 2.0]")
    if gen.get("maxOutputTokens") is not None and int(gen["maxOutputTokens"]) <= 0:
        raise Refusal(400, "* GenerateContentRequest.generation_config.max_output_tokens: must be positive")
    return model, req


def _check_contents(contents: list[Any], declared: set[str], issued: dict[str, str]) -> None:
    pending_calls = 0
    prev_role = None
    for i, c in enumerate(contents):
        where = f"GenerateContentRequest.contents[{i}]"
        if not isinstance(c, dict) or c.get("role", "user") not in ("user", "model"):
            raise Refusal(400, "Please use a valid role: user, model.")
        parts = c.get("parts")
        if not parts:
            raise Refusal(400, f"* {where}.parts: contents.parts must not be empty.")
        calls = responses = 0
        for j, p in enumerate(parts):
            unknown = set(p) - PART_FIELDS if isinstance(p, dict) else {"?"}
            if unknown:
                raise Refusal(400, f'Invalid JSON payload received. Unknown name "{sorted(unknown)[0]}" at '
                                   f"'contents[{i}].parts[{j}]': Cannot find field.")
            if not set(p) & PART_DATA:
                raise Refusal(400, f"* {where}.parts[{j}].data: required oneof field 'data' must have one "
                                   "initialized field")
            if "functionCall" in p:
                calls += 1
                fc = p["functionCall"]
                if c.get("role") != "model":
                    raise Refusal(400, "Please ensure that function call turns come from the model.")
                if fc.get("name") not in declared:
                    raise Refusal(400, f"* {where}.parts[{j}].function_call.name: function "
                                       f"{fc.get('name')!r} is not declared in tools")
                if p.get("thoughtSignature") not in issued:
                    raise Refusal(400, f"Function call is missing a thought_signature in functionCall parts. This "
                                       f"is required for tools to work correctly ({where}.parts[{j}]).")
            if "functionResponse" in p:
                responses += 1
                if not isinstance(p["functionResponse"].get("response"), dict):
                    raise Refusal(400, f"* {where}.parts[{j}].function_response.response: must be an object")
        if calls and prev_role != "user":
            raise Refusal(400, "Please ensure that function call turn comes immediately after a user turn or "
                               "after a function response turn.")
        if responses and responses != pending_calls:
            raise Refusal(400, "Please ensure that the number of function response parts is equal to the number "
                               "of function call parts of the function call turn.")
        pending_calls = calls
        prev_role = c.get("role", "user")


def latest_user_text(req: dict[str, Any]) -> str:
    for c in reversed(req.get("contents") or []):
        if c.get("role", "user") != "user":
            continue
        texts = [p["text"] for p in c.get("parts") or [] if isinstance(p.get("text"), str)]
        if texts:
            return "\n".join(texts)
    return ""


def tools_allowed(req: dict[str, Any]) -> bool:
    mode = ((req.get("toolConfig") or {}).get("functionCallingConfig") or {}).get("mode", "AUTO")
    return bool(req.get("tools")) and mode != "NONE"


def answer(n: int, model: str, kind: str, text: str, name: str, args: dict[str, Any], tokens_in: int,
           issued: dict[str, str]) -> dict[str, Any]:
    if kind == "tool":
        sig = next(_signatures)
        issued[sig] = name
        parts: list[dict[str, Any]] = [{"functionCall": {"name": name, "args": args}, "thoughtSignature": sig}]
        out = max(1, len(json.dumps(args)) // 4)
    else:
        parts, out = [{"text": text}], max(1, len(text) // 4)
    return {
        "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": tokens_in, "candidatesTokenCount": out,
                          "totalTokenCount": tokens_in + out},
        "modelVersion": model,
        "responseId": f"resp-{n:04d}",
    }
