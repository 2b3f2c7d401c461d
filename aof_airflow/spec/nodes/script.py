"""Script node (AOF's `scriptConfig`): the author's own bash `command`, or a native `tool` with `action`/`args`.

`command` runs like a Transform's script (flow values only as environment variables). The native tools are
AOF's, run without an LLM and without a shell: `kubectl` (get, logs, describe: read-only), `http` (through the
http provider), `json` (parse, extract, merge), `docker` (ps, logs, inspect, stats: read-only) and `file`
(read, write, exists, list). Their `args`
are checked here, so a missing or unknown argument is a validation error, not a failed run.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal, Self

from pydantic import Field, field_validator, model_validator

from aof_airflow.spec.nodes.base import GRACE, MAX_TIMEOUT, NodeBase, Strict, _with_timeout

# tool -> action -> (required args, optional args); AOF's own argument names
NATIVE_TOOLS: dict[str, dict[str, tuple[frozenset[str], frozenset[str]]]] = {
    "kubectl": {
        "get": (frozenset({"resource"}), frozenset({"name", "namespace"})),
        "describe": (frozenset({"resource"}), frozenset({"name", "namespace"})),
        "logs": (frozenset({"pod"}), frozenset({"namespace", "container", "tail"})),
    },
    "http": {a: (frozenset({"url"}), frozenset({"headers", "body"})) for a in ("get", "post", "put", "delete", "head")},
    "json": {
        "parse": (frozenset({"input"}), frozenset()),
        "extract": (frozenset({"from", "path"}), frozenset()),
        "merge": (frozenset({"sources"}), frozenset()),
    },
    "docker": {
        "ps": (frozenset(), frozenset({"all"})),
        "logs": (frozenset({"container"}), frozenset({"tail"})),
        "inspect": (frozenset({"container"}), frozenset()),
        "stats": (frozenset(), frozenset()),
    },
    # the flow author's own file operations on the worker (no more than a `command` could do)
    "file": {
        "read": (frozenset({"path"}), frozenset()),
        "write": (frozenset({"path", "content"}), frozenset()),
        "exists": (frozenset({"path"}), frozenset()),
        "list": (frozenset({"path"}), frozenset()),
    },
}
UNSUPPORTED_TOOLS: dict[str, str] = {}


class ScriptConfig(Strict):
    command: str | None = Field(default=None, min_length=1)
    tool: str | None = None
    action: str | None = None
    args: dict[str, Any] = Field(default_factory=dict)
    working_dir: str | None = Field(default=None, min_length=1)
    env: dict[str, str] = Field(default_factory=dict)
    timeout_seconds: float = Field(default=60, gt=0, le=MAX_TIMEOUT)
    parse: Literal["text", "json", "lines", "regex"] = "text"
    pattern: str | None = None
    fail_on_error: bool = True

    @field_validator("env")
    @classmethod
    def _env_names(cls, v: dict[str, str]) -> dict[str, str]:
        bad = [k for k in v if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", k)]
        if bad:
            raise ValueError(f"environment variable names must be letters, digits and `_`: {', '.join(bad)}")
        return v

    @model_validator(mode="after")
    def _one_form(self) -> ScriptConfig:
        if (self.command is None) == (self.tool is None):
            raise ValueError("a Script node takes exactly one of `command` (bash) or `tool` (kubectl, http, json)")
        if self.parse == "regex":
            if not self.pattern:
                raise ValueError("`parse: regex` needs a `pattern` (a regular expression with named groups)")
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"`pattern` is not a regular expression: {exc}") from None
        if self.tool is not None:
            self._check_tool()
        elif self.action is not None or self.args:
            raise ValueError("`action` and `args` belong to the `tool` form; a `command` takes neither")
        return self

    def _check_tool(self) -> None:
        if self.tool in UNSUPPORTED_TOOLS:
            raise ValueError(f"Script tool `{self.tool}` is not supported here ({UNSUPPORTED_TOOLS[self.tool]}); "
                             f"supported tools: {', '.join(NATIVE_TOOLS)}, or write a `command`")
        actions = NATIVE_TOOLS.get(self.tool or "")
        if actions is None:
            raise ValueError(f"unknown Script tool `{self.tool}`; supported tools: {', '.join(NATIVE_TOOLS)}")
        if self.action not in actions:
            raise ValueError(f"tool `{self.tool}` has no action `{self.action}`; its actions: {', '.join(actions)}")
        required, optional = actions[self.action]
        missing = sorted(required - set(self.args))
        unknown = sorted(set(self.args) - required - optional)
        if missing:
            raise ValueError(f"`{self.tool} {self.action}` needs args: {', '.join(missing)}")
        if unknown:
            raise ValueError(f"`{self.tool} {self.action}` takes no args {', '.join(unknown)} "
                             f"(it takes: {', '.join(sorted(required | optional))})")


class ScriptNodeConfig(Strict):
    script_config: ScriptConfig = Field(alias="scriptConfig")


class ScriptNode(NodeBase):
    type: Literal["Script"]
    config: ScriptNodeConfig
    template_fields: ClassVar[tuple[str, ...]] = ("script_config.command", "script_config.args", "script_config.env")

    def with_defaults(self, timeout_seconds: float | None, channel: str) -> Self:
        sc = _with_timeout(self.config.script_config, timeout_seconds)  # its timeout is in `scriptConfig`
        if sc is self.config.script_config:
            return self
        return self.model_copy(update={"config": self.config.model_copy(update={"script_config": sc})})

    def execution_seconds(self) -> float | None:
        return self.config.script_config.timeout_seconds + GRACE
