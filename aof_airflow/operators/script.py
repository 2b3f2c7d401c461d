"""Script node (AOF's `scriptConfig`): the flow author's bash `command`, or a native tool without a shell.

`command` runs exactly like a Transform's script (TransformOperator.run_bash: flow values reach bash only as
environment variables), in `working_dir`, with `env`; its stdout is parsed as `parse` says (text, json, lines,
regex named groups). The native tools build their own argv or request, so no flow value is ever read as shell:
  kubectl get|describe|logs  read-only; names are checked (no value may start with `-`); `get` answers the
                             parsed `-o json`, `logs` {logs, pod}, `describe` {output, resource} (AOF's shapes)
  http get|post|put|delete   through the http provider (Connection per host, as the HTTP node)
  json parse|extract|merge   on values of the flow
  docker ps|logs|inspect|stats   read-only, AOF's output shapes
  file read|write|exists|list    the author's own file operations on the worker
`fail_on_error: false` turns a failure into the output `{error, exit_code}` instead of a failed node.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from typing import Any

from airflow.sdk.exceptions import AirflowException, AirflowFailException

from aof_airflow.operators.base import render_or_fail
from aof_airflow.operators.transform import TransformOperator, _tail
from aof_airflow.subprocesses import safe_env

K8S_WORD = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/=-]*$")
MAX_OUTPUT = 65536


class ScriptFailed(Exception):
    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def parse_output(text: str, mode: str, pattern: str | None) -> Any:
    if mode == "json":
        try:
            return json.loads(text)
        except ValueError as exc:
            raise ScriptFailed(f"output is not JSON ({exc}): {text[:500]!r}") from None
    if mode == "lines":
        return [line for line in text.splitlines() if line.strip()]
    if mode == "regex":
        m = re.search(pattern or "", text)
        if m is None:
            raise ScriptFailed(f"output does not match `{pattern}`: {text[:500]!r}")
        return m.groupdict() or list(m.groups())
    return text.strip()


def kubectl_argv(action: str, args: dict[str, Any]) -> list[str]:
    def word(key: str) -> str | None:
        value = args.get(key)
        if value is None or value == "":
            return None
        text = str(value)
        if not K8S_WORD.match(text):
            raise ScriptFailed(f"kubectl {action}: `{key}` {text!r} is not a Kubernetes name")
        return text

    if action == "logs":
        argv = ["kubectl", "logs", word("pod") or ""]
        if word("container"):
            argv += ["-c", word("container") or ""]
        tail = args.get("tail", 100)
        if not isinstance(tail, int) or isinstance(tail, bool) or not 0 < tail <= 100_000:
            raise ScriptFailed(f"kubectl logs: `tail` must be a number of lines, not {tail!r}")
        argv += ["--tail", str(tail)]
    else:
        argv = ["kubectl", action, word("resource") or ""]
        if word("name"):
            argv.append(word("name") or "")
        if action == "get":
            argv += ["-o", "json"]
    if word("namespace"):
        argv += ["-n", word("namespace") or ""]
    return argv


class ScriptOperator(TransformOperator):
    node_types = ("Script",)
    ui_color = "#fff0e0"

    def run(self, tctx: Any, context: Any) -> Any:
        sc = self.node.config.script_config
        try:
            if sc.command is not None:
                return self._command(sc, tctx)
            from aof_airflow.templating import render_data, render_json

            raw = dict(sc.args)
            text_input = sc.tool == "json" and sc.action == "parse" and isinstance(raw.get("input"), str)
            # JSON text to parse: values are JSON-escaped where they stand, so a quote in one cannot break it
            json_input = render_or_fail(self.node.id, "args.input", render_json, raw.pop("input"), tctx) if text_input else None
            args = render_or_fail(self.node.id, "args", render_data, raw, tctx)
            if text_input:
                args["input"] = json_input
            return getattr(self, f"_{sc.tool}")(sc, args)
        except ScriptFailed as exc:
            if sc.fail_on_error:
                raise AirflowException(f"node {self.node.id!r}: {exc}") from None
            self.log.warning("failed, and fail_on_error is false: %s", exc)
            return {"error": str(exc)[:MAX_OUTPUT], "exit_code": exc.exit_code}

    # ----------------------------------------------------------------------------------- the forms
    def _command(self, sc: Any, tctx: Any) -> Any:
        from aof_airflow.templating import render_text

        env = {k: render_or_fail(self.node.id, f"env {k}", render_text, v, tctx) for k, v in sc.env.items()}
        kube = os.environ.get("KUBECONFIG")
        if kube:
            env = {"KUBECONFIG": kube, **env}
        code, out, err, _ = self.run_bash(sc.command, tctx, timeout=sc.timeout_seconds, env=env, cwd=sc.working_dir)
        if code != 0:
            raise ScriptFailed(f"command exited with status {code}: {_tail(err).strip()}", code)
        return parse_output(out, sc.parse, sc.pattern)

    def _program(self, argv: list[str], timeout: float) -> str:
        """Run a native tool's argv (no shell) with the worker's basic environment plus spec.context's."""
        env = safe_env({k: os.environ[k] for k in ("KUBECONFIG", "DOCKER_HOST") if k in os.environ})
        env.update(self.wiring.environment())
        self.log.info("running %s", " ".join(argv))
        try:
            proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout,
                                  stdin=subprocess.DEVNULL, cwd=self.wiring.context.get("working_dir"))
        except FileNotFoundError:
            raise AirflowFailException(f"node {self.node.id!r}: {argv[0]} is not installed on this worker") from None
        except subprocess.TimeoutExpired:
            raise ScriptFailed(f"{' '.join(argv)} did not finish within {timeout:g}s") from None
        if proc.returncode != 0:
            raise ScriptFailed(f"{' '.join(argv)} exited with status {proc.returncode}: {proc.stderr.strip()[:2000]}",
                               proc.returncode)
        return proc.stdout[:MAX_OUTPUT]

    def _kubectl(self, sc: Any, args: dict[str, Any]) -> Any:
        out = self._program(kubectl_argv(sc.action, args), sc.timeout_seconds)
        if sc.action == "get":
            return parse_output(out, "json", None) if sc.parse == "text" else parse_output(out, sc.parse, sc.pattern)
        if sc.action == "logs":
            return {"logs": out, "pod": args["pod"]}
        return {"output": out, "resource": args["resource"]}

    def _http(self, sc: Any, args: dict[str, Any]) -> Any:
        from requests import RequestException

        from aof_airflow.operators.http import (
            candidate_conn_ids,
            endpoint_of,
            find_connection,
            make_hook,
            parse_response,
            url_connection,
        )

        url, method = str(args["url"]), sc.action.upper()
        headers = {str(k): str(v) for k, v in (args.get("headers") or {}).items()}
        body = args.get("body")
        data = None if body is None else (body if isinstance(body, str) else json.dumps(body))
        if data is not None and not isinstance(body, str):
            headers.setdefault("Content-Type", "application/json")
        conn = find_connection(candidate_conn_ids(url, None))
        hook = make_hook(method, conn if conn is not None else url_connection(url),
                         explicit_auth=any(k.lower() == "authorization" for k in headers))
        self.log.info("%s %s", method, url)
        try:
            resp = hook.run(endpoint_of(url), data=data.encode("utf-8") if data is not None else None, headers=headers,
                            extra_options={"check_response": False, "timeout": sc.timeout_seconds})
        except RequestException as exc:
            raise ScriptFailed(f"{method} {url} failed: {type(exc).__name__}: {exc}") from None
        parsed = parse_response(resp)
        if not 200 <= resp.status_code < 300:
            raise ScriptFailed(f"{method} {url} answered {resp.status_code}: {resp.text[:2000]}", resp.status_code)
        return {"url": url, "method": method, "status": resp.status_code, "body": parsed}

    def _docker(self, sc: Any, args: dict[str, Any]) -> Any:
        container = args.get("container")
        if container is not None and not K8S_WORD.match(str(container)):
            raise ScriptFailed(f"docker {sc.action}: `container` {container!r} is not a container name or id")
        if sc.action == "ps":
            out = self._program(["docker", "ps", *(["-a"] if args.get("all") is True else []), "--format", "{{json .}}"],
                                sc.timeout_seconds)
            rows = [json.loads(line) for line in out.splitlines() if line.strip().startswith("{")]
            return {"containers": rows, "count": len(rows)}
        if sc.action == "stats":
            out = self._program(["docker", "stats", "--no-stream", "--format", "{{json .}}"], sc.timeout_seconds)
            return {"stats": [json.loads(line) for line in out.splitlines() if line.strip().startswith("{")]}
        if sc.action == "logs":
            tail = args.get("tail", 100)
            if not isinstance(tail, int) or isinstance(tail, bool) or not 0 < tail <= 100_000:
                raise ScriptFailed(f"docker logs: `tail` must be a number of lines, not {tail!r}")
            return {"logs": self._program(["docker", "logs", "--tail", str(tail), str(container)], sc.timeout_seconds),
                    "container": container}
        return parse_output(self._program(["docker", "inspect", str(container)], sc.timeout_seconds), "json", None)

    def _file(self, sc: Any, args: dict[str, Any]) -> Any:
        from pathlib import Path

        path = Path(str(args["path"])).expanduser()
        try:
            if sc.action == "read":
                content = path.read_text(encoding="utf-8")[:MAX_OUTPUT]
                return {"path": str(path), "content": content, "size": len(content)}
            if sc.action == "write":
                content = args["content"] if isinstance(args["content"], str) else json.dumps(args["content"])
                path.write_text(content, encoding="utf-8")
                return {"path": str(path), "written": True, "size": len(content)}
            if sc.action == "exists":
                return {"path": str(path), "exists": path.exists()}
            entries = [{"name": p.name, "type": "directory" if p.is_dir() else "file", "path": str(p)}
                       for p in sorted(path.iterdir())]
            return {"path": str(path), "entries": entries, "count": len(entries)}
        except OSError as exc:
            raise ScriptFailed(f"file {sc.action} {path}: {exc}") from None

    def _json(self, sc: Any, args: dict[str, Any]) -> Any:
        if sc.action == "parse":
            value = args["input"]
            try:
                return json.loads(value) if isinstance(value, str) else value
            except ValueError as exc:
                raise ScriptFailed(f"json parse: input is not JSON ({exc})") from None
        if sc.action == "extract":
            current = args["from"]
            if isinstance(current, str):
                try:
                    current = json.loads(current)
                except ValueError:
                    pass
            for key in str(args["path"]).split("."):
                if isinstance(current, dict):
                    current = current.get(key)
                elif isinstance(current, list) and key.isdigit() and int(key) < len(current):
                    current = current[int(key)]
                else:
                    current = None
            return current
        sources = args["sources"]
        if not isinstance(sources, list) or not all(isinstance(x, dict) for x in sources):
            raise ScriptFailed("json merge: `sources` must be a list of objects")
        merged: dict[str, Any] = {}
        for src in sources:
            merged.update(src)
        return merged
