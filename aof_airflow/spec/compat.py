"""AOF's own spellings of the v1 language, read before validation (positions stay those of the file).

AOF's parser (serde, `crates/aof-core`) accepts more than one way to write some things, and keeps keys it
does not know in a catch-all (`#[serde(flatten)] extra`) of an Agent's spec and of a node's `config`, where
nothing reads them. So that every document AOF accepts is read here too:
- `apiVersion: aof.dev/v1alpha1` / `aof.sh/v1alpha1` / `aof.sh/v1` are read as `aof.dev/v1` (a warning)
  when the document has the v1 shape; AOF's older schemas (`steps`, `triggers`, `spec.agent` + `actions`)
  are an error that says which version is read;
- Agent: `provider: x` + `model: m` -> `model: x:m`; `system_prompt` -> `instructions`; top-level
  `temperature` / `max_tokens` -> `model_config`; `tools` as plain names (the programs it may run;
  `shell` and AOF's Rust built-ins such as `read_file` are not offered, with a warning); AOF's memory strings;
- AgentFlow: `from: trigger` -> `from: start` (AOF's own validator refuses `trigger`; a warning);
- in an Agent's spec and a node's config, the keys AOF's own examples carry that AOF's parser swallows unread
  (AGENT_IGNORED, NODE_CONFIG_IGNORED) are dropped with a warning; every other unknown key stays an error.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from pydantic import AliasChoices, BaseModel

from aof_airflow.spec.models import CLI_PROGRAMS, Agent, AgentSpec, InlineAgent
from aof_airflow.spec.nodes import NODE_MODELS

if TYPE_CHECKING:
    from aof_airflow.spec.marked_yaml import Path_

API_VERSION = "aof.dev/v1"
SAME_SCHEMA_VERSIONS = ("aof.dev/v1alpha1", "aof.sh/v1alpha1", "aof.sh/v1")
# Keys AOF's own published agents and flows carry that its parser swallows (`#[serde(flatten)] extra`) and
# nothing in AOF reads: read as AOF reads them, with a warning. Any other unknown key stays an error.
AGENT_IGNORED = frozenset({
    "environment", "env", "tool_restrictions", "resources", "tags", "state", "guardrails", "examples", "sampling",
    "alerts", "parameters", "system", "modelConfigRef",
})
NODE_CONFIG_IGNORED: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Finding:
    path: Path_
    message: str
    severity: str = "warning"  # "warning" | "error"
    key: bool = False  # point at the key itself


def _keys(model: type[BaseModel]) -> set[str]:
    out: set[str] = set()
    for name, f in model.model_fields.items():
        out.add(name)
        if f.alias:
            out.add(f.alias)
        if isinstance(f.validation_alias, AliasChoices):
            out.update(c for c in f.validation_alias.choices if isinstance(c, str))
    return out


def _drop_foreign(data: dict[str, Any], known: set[str], ignored: frozenset[str], path: Path_, what: str,
                  out: list[Finding]) -> None:
    for key in list(data):
        if key in ignored and key not in known:
            del data[key]
            out.append(Finding(path + (key,), f"`{key}` is not a key of {what}: AOF's parser keeps it unread, "
                                              "and so does aof-airflow (ignored)", key=True))


# ------------------------------------------------------------------------------------ apiVersion


def _v1_shape(data: dict[str, Any]) -> bool:
    spec = data.get("spec")
    if not isinstance(spec, dict):
        return False
    return "nodes" in spec if data.get("kind") == "AgentFlow" else "model" in spec


def _api_version(data: dict[str, Any], out: list[Finding]) -> None:
    version = data.get("apiVersion")
    if version not in SAME_SCHEMA_VERSIONS or data.get("kind") not in ("Agent", "AgentFlow"):
        return
    if _v1_shape(data):
        data["apiVersion"] = API_VERSION
        out.append(Finding(("apiVersion",), f"apiVersion {version} is read as {API_VERSION}: this document has "
                                            f"the {API_VERSION} schema (write `apiVersion: {API_VERSION}`)"))
        return
    older = [k for k in ("steps", "triggers", "agent", "actions", "fleet") if k in data or k in (data.get("spec") or {})]
    shape = f" (it has {', '.join(f'`{k}`' for k in older)})" if older else ""
    out.append(Finding(("apiVersion",), f"apiVersion {version}: this {data.get('kind')} is written in an older "
                                        f"AOF schema{shape}, which aof-airflow does not read; it reads "
                                        f"{API_VERSION} (an AgentFlow has spec.nodes and spec.connections, an "
                                        f"Agent spec.model and spec.instructions)", "error"))


# ----------------------------------------------------------------------------------------- Agent


def _memory(spec: dict[str, Any], path: Path_, out: list[Finding]) -> None:
    mem = spec.get("memory")
    if mem is None or (isinstance(mem, dict) and mem.get("type") in ("SQLite", "Airflow")):
        return
    where = path + ("memory",)
    if isinstance(mem, str):
        kind, _, rest = mem.partition(":")
        if kind.lower() in ("inmemory", "in_memory", "memory"):
            del spec["memory"]
            out.append(Finding(where, f"memory `{mem}` keeps nothing beyond one conversation, and every node run "
                                      "here is one conversation: no memory is used"))
            return
        if kind.lower() in ("file", "sqlite"):
            file, _, limit = rest.partition(":")
            config: dict[str, Any] = {"path": file} if file else {}
            if limit.isdigit():
                config["max_entries"] = min(int(limit), 1000)
            spec["memory"] = {"type": "SQLite", "config": config}
            out.append(Finding(where, f"memory `{mem}` is kept in SQLite{f' at {file}' if file else ''}: past "
                                      "incidents of the same service are offered to the agent"))
            return
    del spec["memory"]
    out.append(Finding(where, f"memory {mem!r} is not one this project keeps (SQLite or Airflow): the agent runs "
                              "without memory"))


def _agent_tools(spec: dict[str, Any], path: Path_, out: list[Finding]) -> None:
    tools = spec.get("tools")
    if not isinstance(tools, list):
        return
    for i, t in enumerate(tools):
        if isinstance(t, dict) and isinstance(t.get("name"), str) and (
                t.get("type") not in ("Shell", "MCP", "HTTP", "Prometheus") or "config" not in t):
            # AOF reads this as its qualified form {name, source, server, config}: a tool of its own by name
            if t.get("config") or t.get("server") or t.get("type") == "MCP":
                tools[i] = f"aof:{t['name']}"  # not a program name: the model offers nothing for it
                out.append(Finding(path + ("tools", i), f"tool `{t['name']}` is configured for AOF's own tool "
                                                        "runtime (its config, server or MCP reference is not read "
                                                        "here): not offered to the model"))
                continue
            tools[i] = t = t["name"]
        if not isinstance(t, str) or t.startswith("aof:"):
            continue
        if t == "shell":
            out.append(Finding(path + ("tools", i), "tool `shell` lets the model run any command; here an agent "
                                                    "runs only programs it names (e.g. `tools: [kubectl]`, or a "
                                                    "Shell tool with allowed_commands): not offered"))
        elif t not in CLI_PROGRAMS:
            out.append(Finding(path + ("tools", i), f"tool `{t}` is one of AOF's built-in tools, which this "
                                                    "project does not have: not offered to the model"))


def _agent_spec(spec: dict[str, Any], path: Path_, out: list[Finding]) -> None:
    provider = spec.pop("provider", None)
    if isinstance(provider, str) and isinstance(spec.get("model"), str):
        model = spec["model"]
        if ":" not in model:
            spec["model"] = f"{provider}:{model}"
        elif model.split(":", 1)[0] != provider:
            out.append(Finding(path + ("provider",), f"provider `{provider}` and model `{model}` disagree: write "
                                                     "the model as provider:model and drop `provider`", "error"))
    if "system_prompt" in spec:
        if "instructions" in spec:
            out.append(Finding(path + ("system_prompt",), "`system_prompt` and `instructions` are the same thing: "
                                                          "keep one", "error", key=True))
        else:
            spec["instructions"] = spec.pop("system_prompt")
    for key in ("temperature", "max_tokens"):
        if key in spec:
            settings = spec.setdefault("model_config", {})
            if not isinstance(settings, dict) or key in settings:
                out.append(Finding(path + (key,), f"`{key}` is given twice (here and in model_config): keep one",
                                   "error", key=True))
                continue
            settings[key] = spec.pop(key)
    _memory(spec, path, out)
    _agent_tools(spec, path, out)
    _drop_foreign(spec, _keys(AgentSpec), AGENT_IGNORED, path, "an Agent's spec", out)


def normalize_agent_spec(spec: dict[str, Any], path: Path_ = ("spec",)) -> tuple[dict[str, Any], list[Finding]]:
    """An Agent spec in AOF's spellings -> ours (a copy); also used for the inline agents of flows."""
    spec = copy.deepcopy(spec)
    out: list[Finding] = []
    _agent_spec(spec, path, out)
    return spec, out


# ------------------------------------------------------------------------------------- AgentFlow


def _config_model(node_type: Any) -> type[BaseModel] | None:
    for m in NODE_MODELS:
        if node_type in m.model_fields["type"].annotation.__args__:  # type: ignore[union-attr]
            ann = m.model_fields["config"].annotation
            return ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None
    return None


def _flow_spec(spec: dict[str, Any], out: list[Finding]) -> None:
    for i, c in enumerate(spec.get("connections") or []):
        if isinstance(c, dict) and c.get("from") == "trigger":
            c["from"] = "start"
            out.append(Finding(("spec", "connections", i, "from"), "`from: trigger` is read as `from: start`, the "
                                                                   "flow's entry (AOF's own validator refuses "
                                                                   "`trigger`: write `from: start`)"))
    for i, n in enumerate(spec.get("nodes") or []):
        if not isinstance(n, dict) or not isinstance(n.get("config"), dict):
            continue
        model = _config_model(n.get("type"))
        if model is not None:
            _drop_foreign(n["config"], _keys(model), NODE_CONFIG_IGNORED, ("spec", "nodes", i, "config"),
                          f"a {n['type']} node's config", out)


def _has_aof_spellings(data: dict[str, Any]) -> bool:
    """False for a document with nothing to read differently: it is then used as it is, without a copy (a
    folder of flows is re-read on every dag-processor pass)."""
    if data.get("apiVersion") != API_VERSION or data.get("kind") != "AgentFlow":
        return True
    spec = data.get("spec")
    if not isinstance(spec, dict):
        return False
    if any(isinstance(c, dict) and c.get("from") == "trigger" for c in spec.get("connections") or ()):
        return True
    return bool(NODE_CONFIG_IGNORED) and any(
        isinstance(n, dict) and isinstance(n.get("config"), dict) and NODE_CONFIG_IGNORED & n["config"].keys()
        for n in spec.get("nodes") or ())


def normalize(data: Any) -> tuple[Any, list[Finding]]:
    """(the document in our spellings, what was read differently or refused); `data` is not changed."""
    if not isinstance(data, dict) or not _has_aof_spellings(data):
        return data, []
    data = copy.deepcopy(data)
    out: list[Finding] = []
    _api_version(data, out)
    if any(f.severity == "error" for f in out):
        return data, out
    spec = data.get("spec")
    if isinstance(spec, dict):
        if data.get("kind") == "Agent":
            _agent_spec(spec, ("spec",), out)
        elif data.get("kind") == "AgentFlow":
            _flow_spec(spec, out)
    return data, out


Normalizer = Callable[[Any], tuple[Any, list[Finding]]]


def inline_agent(inline: InlineAgent, flow_name: str = "") -> Agent:
    """The Agent an Agent node defines inline (AOF's `config.inline`), validated like an Agent document."""
    spec, _ = normalize_agent_spec(inline.model_dump(exclude={"name"}, exclude_none=True))
    labels = {"aof-flow": flow_name} if flow_name else {}
    return Agent.model_validate({"apiVersion": API_VERSION, "kind": "Agent",
                                 "metadata": {"name": inline.name, "labels": labels}, "spec": spec})
