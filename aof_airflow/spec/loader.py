"""Read Agent / AgentFlow YAML files into validated models, with every problem at its file:line:col.

`load_text` parses one file (cached by file name + content hash, because Airflow's dag-processor
re-parses the same DAG folder every few seconds); `load_paths` reads files and folders, resolves
names across all of them and runs the graph checks of each flow against the agents found.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Union

from pydantic import BaseModel, ValidationError

from aof_airflow.spec.compat import SAME_SCHEMA_VERSIONS, normalize
from aof_airflow.spec.files import yaml_files
from aof_airflow.spec.graph import check_flow
from aof_airflow.spec.marked_yaml import Mark, MarkedDocument, Path_, Positions, parse_documents
from aof_airflow.spec.models import API_VERSION, Agent, AgentFlow
from aof_airflow.spec.problems import Problem, SpecError
from aof_airflow.spec.trigger_docs import TriggerDocument, check_bindings
from aof_airflow.spec.validation_errors import problems_from, suggest

KINDS: dict[str, type[BaseModel]] = {"Agent": Agent, "AgentFlow": AgentFlow, "Trigger": TriggerDocument}
# AOF's other kinds: named as such, never answered with "did you mean AgentFlow"
OTHER_AOF_KINDS = {
    "AgentFleet": "a fleet of cooperating agents", "Fleet": "a fleet of cooperating agents",
    "Workflow": "its step-function workflows", "AgentWorkflow": "its step-function workflows",
    "Flow": "an older flow schema", "DaemonConfig": "its server settings",
    "Context": "an execution environment binding", "ToolServer": "a tool server", "Memory": "a memory backend",
    "ModelConfig": "a model binding", "ToolClassification": "tool risk classes", "Secret": "a Kubernetes Secret",
    "Service": "a Kubernetes Service",
}
Spec = Union[Agent, AgentFlow, TriggerDocument]

__all__ = ["LoadResult", "LoadedDocument", "ParsedFile", "Problem", "SpecError", "load_paths", "load_text"]


@dataclass(frozen=True)
class LoadedDocument:
    """One valid document of a file, and where its parts are in that file."""

    model: Spec
    file: str
    positions: Positions
    # graph-check results by the set of agent names they were checked against (the document is
    # cached by content, so a re-parse with the same agents costs a dict lookup)
    checks: dict[frozenset[str], tuple[Problem, ...]] = field(default_factory=dict, compare=False, repr=False)

    @property
    def kind(self) -> str:
        return self.model.kind

    @property
    def name(self) -> str:
        return self.model.metadata.name

    def locate(self, loc: Path_, *, key: bool = False) -> Mark:
        return self.positions.locate(_yaml_loc(loc), key=key)

    def locate_in(self, loc: Path_, text: str, offset: int) -> Mark:
        """Position of character `offset` inside the string value at `loc` (e.g. one `${...}`)."""
        return self.positions.locate_in(_yaml_loc(loc), text, offset)


@dataclass(frozen=True)
class ParsedFile:
    """A file's valid documents plus the problems of the ones that were not valid."""

    file: str
    documents: tuple[LoadedDocument, ...]
    problems: tuple[Problem, ...]
    warnings: tuple[Problem, ...]


# ------------------------------------------------------------------------------ one file's text


def _header_problem(data: Any, positions: Positions, filename: str) -> Problem | None:
    """Clear messages for the two keys that decide how the rest is read."""

    def at(loc: Path_, msg: str, key: bool = False) -> Problem:
        line, col = positions.locate(loc, key=key)
        return Problem(filename, line, col, msg)

    if not isinstance(data, dict):
        return at((), f"a document must be a mapping with apiVersion, kind, metadata and spec, "
                      f"not {type(data).__name__}")
    if "apiVersion" not in data:
        return at((), f"missing `apiVersion`: add `apiVersion: {API_VERSION}` at the top of the document")
    if data.get("kind") in KINDS and data["apiVersion"] in SAME_SCHEMA_VERSIONS:
        return None  # read by spec.compat: as v1 when the document has the v1 shape, else its own error
    if data["apiVersion"] != API_VERSION:
        return at(("apiVersion",), f"unsupported apiVersion {data['apiVersion']!r}: this tool reads "
                                   f"`{API_VERSION}`")
    if "kind" not in data:
        return at((), "missing `kind`: add `kind: Agent` or `kind: AgentFlow`")
    kind = data["kind"]
    if kind not in KINDS:
        if kind in OTHER_AOF_KINDS:  # a real AOF kind, not a typo of ours: no "did you mean"
            return at(("kind",), f"kind {kind!r} is one of AOF's, which aof-airflow does not run "
                                 f"({OTHER_AOF_KINDS[kind]}); it runs {' and '.join(KINDS)}")
        return at(("kind",), f"unknown kind {kind!r}{suggest(str(kind), KINDS)}")
    return None


def _compat(data: Any, positions: Positions, filename: str) -> tuple[Any, list[Problem], list[Problem]]:
    """AOF's spellings read as ours (spec.compat): (data, errors, warnings), each at its line."""
    data, findings = normalize(data)
    errors: list[Problem] = []
    warnings: list[Problem] = []
    for f in findings:
        line, col = positions.locate(f.path, key=f.key)
        p = Problem(filename, line, col, f.message)
        (errors if f.severity == "error" else warnings).append(p if f.severity == "error" else p.as_warning())
    return data, errors, warnings


def _is_flat_agent(data: Any) -> bool:
    return isinstance(data, dict) and "apiVersion" not in data and "kind" not in data and {"name", "model"} <= set(data)


def _as_kubernetes_form(doc: MarkedDocument) -> MarkedDocument:
    """AOF's flat agent file (`name`, `model`, ... at the top) as the document it stands for, positions kept."""
    def move(path: Path_) -> Path_:
        if not path:
            return path
        return ("metadata",) + path if path[0] == "name" else ("spec",) + path

    pos = doc.positions
    moved = Positions(values={move(k): v for k, v in pos.values.items()}, keys={move(k): v for k, v in pos.keys.items()},
                      templates={move(k): v for k, v in pos.templates.items()})
    moved.values[()] = pos.values.get((), (1, 1))
    rest = {k: v for k, v in doc.data.items() if k != "name"}
    data = {"apiVersion": API_VERSION, "kind": "Agent", "metadata": {"name": doc.data["name"]}, "spec": rest}
    return replace(doc, data=data, positions=moved)


def _parse(text: str, filename: str) -> ParsedFile:
    docs, syntax = parse_documents(text, filename)
    problems: list[Problem] = list(syntax)
    warnings: list[Problem] = []
    loaded: list[LoadedDocument] = []
    if not syntax and all(doc.data is None for doc in docs):
        problems.append(Problem(filename, 1, 1, "the file is empty: it holds no Agent or AgentFlow document "
                                                "(start one with `apiVersion: aof.dev/v1`)"))
    for doc in docs:
        warnings.extend(doc.warnings)
        if doc.data is None:  # an empty document (e.g. a trailing `---`)
            continue
        if _is_flat_agent(doc.data):
            doc = _as_kubernetes_form(doc)
            line, col = doc.positions.locate(("metadata", "name"))
            warnings.append(Problem(filename, line, col, f"AOF's flat agent form (`name` and `model` at the top) is "
                                                         f"read as `apiVersion: {API_VERSION}`, `kind: Agent`, "
                                                         f"metadata.name and spec").as_warning())
        header = _header_problem(doc.data, doc.positions, filename)
        if header:
            problems.append(header)
            problems.extend(doc.problems)
            continue
        data, errors, notes = _compat(doc.data, doc.positions, filename)
        warnings.extend(notes)
        if errors:
            problems.extend(errors)
            problems.extend(doc.problems)
            continue
        model_cls = KINDS[data["kind"]]
        try:
            model = model_cls.model_validate(data)
        except ValidationError as exc:
            problems.extend(doc.problems)
            problems.extend(problems_from(exc, model_cls, data, doc.positions, filename))
            continue
        problems.extend(doc.problems)
        if not doc.problems:
            loaded.append(LoadedDocument(model, filename, doc.positions))  # type: ignore[arg-type]
    return ParsedFile(filename, tuple(loaded), tuple(sorted(problems)), tuple(warnings))


_CACHE: OrderedDict[tuple[str, str], ParsedFile] = OrderedDict()
_CACHE_SIZE = 512
_CACHE_LOCK = threading.Lock()


def load_text(text: str, filename: str = "<string>") -> ParsedFile:
    """Parse and validate one file's text; repeated calls with the same name and content are free."""
    key = (filename, hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest())
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            _CACHE.move_to_end(key)
            return hit
    parsed = _parse(text, filename)
    with _CACHE_LOCK:
        _CACHE[key] = parsed
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return parsed


def clear_cache() -> None:
    with _CACHE_LOCK:
        _CACHE.clear()


# --------------------------------------------------------------------------- files and folders


def _yaml_loc(loc: Iterable[Any]) -> Path_:
    """Accept Python field names too (`from_`, `model_settings`) where the YAML says `from`, `model_config`."""
    names = {"from_": "from", "model_settings": "model_config", "api_version": "apiVersion"}
    return tuple(names.get(x, x) if isinstance(x, str) else x for x in loc)


@dataclass
class LoadResult:
    """Everything read from a set of paths: valid flows and agents by name, problems and warnings."""

    flows: dict[str, AgentFlow] = field(default_factory=dict)
    agents: dict[str, Agent] = field(default_factory=dict)
    triggers: dict[str, TriggerDocument] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    documents: dict[tuple[str, str], LoadedDocument] = field(default_factory=dict)  # (kind, name)

    @property
    def ok(self) -> bool:
        return not self.problems

    def raise_for_problems(self) -> None:
        if self.problems:
            raise SpecError(self.problems)

    def document(self, name: str) -> LoadedDocument:
        """The flow named `name`, else the agent named `name`."""
        for kind in ("AgentFlow", "Agent"):
            if (kind, name) in self.documents:
                return self.documents[(kind, name)]
        raise KeyError(f"no flow or agent named {name!r} was loaded")

    def source(self, name: str) -> Path:
        return Path(self.document(name).file)

    def position(self, name: str, loc: tuple[Any, ...]) -> tuple[int, int]:
        """(line, col) of `loc` (YAML keys and list indexes, like pydantic's loc) in `name`'s document."""
        return self.document(name).locate(loc)

    def add(self, parsed: ParsedFile) -> None:
        self.files.append(parsed.file)
        self.problems.extend(parsed.problems)
        self.warnings.extend(parsed.warnings)
        for doc in parsed.documents:
            key = (doc.kind, doc.name)
            first = self.documents.get(key)
            if first is not None:
                line, col = doc.locate(("metadata", "name"))
                fline, _ = first.locate(("metadata", "name"))
                self.problems.append(Problem(doc.file, line, col, f"{doc.kind} `{doc.name}` is defined twice "
                                             f"(first in {first.file}:{fline}); names must be unique"))
                continue
            self.documents[key] = doc
            target = {"AgentFlow": self.flows, "Agent": self.agents, "Trigger": self.triggers}[doc.kind]
            target[doc.name] = doc.model  # type: ignore[index]


def load_paths(paths: Iterable[str | Path], *, check_graph: bool = True) -> LoadResult:
    """Load every document under `paths`; with `check_graph`, check each flow against all agents found."""
    result = LoadResult()
    files, missing = yaml_files(paths)
    result.problems.extend(missing)
    for f in files:
        try:
            text = f.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            result.problems.append(Problem(str(f), 1, 1, f"cannot read file: {exc}"))
            continue
        result.add(load_text(text, str(f)))
    errors, warnings = check_bindings(result.flows, [d for (k, _), d in result.documents.items() if k == "Trigger"])
    result.problems.extend(errors)
    result.warnings.extend(warnings)
    if check_graph:
        agents = frozenset(result.agents)
        for name in result.flows:
            doc = result.documents[("AgentFlow", name)]
            if agents not in doc.checks:
                doc.checks[agents] = tuple(check_flow(doc.model, agents=agents, locate=doc.locate,  # type: ignore[arg-type]
                                                      locate_in=doc.locate_in, file=doc.file))
            result.problems.extend(doc.checks[agents])
    return result
