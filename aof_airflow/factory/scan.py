"""Find every AgentFlow in the flows folder(s), build its DAG, and report each bad file on its own.

Airflow's dag-processor re-imports the DAG file every `min_file_process_interval` in a fresh process, so
the parsed specs are cached on disk by the content of the YAML files (one pickle per distinct content
set): unchanged files cost a hash and an unpickle instead of YAML parsing and pydantic validation.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import os
import pickle
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator

from airflow.sdk import DAG

from aof_airflow import config
from aof_airflow.spec.files import yaml_files
from aof_airflow.spec.models import Agent
from aof_airflow.spec.problems import Problem

if TYPE_CHECKING:  # the builder imports the operators: only a task's build needs them
    from aof_airflow.factory.builder import FlowPlan

log = logging.getLogger(__name__)
CACHE_VERSION = "7"


@dataclass
class Scan:
    """What the folders hold: the valid flows (planned, with their file), agents, and the problems/warnings found."""

    sources: dict[str, str] = field(default_factory=dict)  # flow name -> file
    # flow name -> builder.FlowPlan: what its DAG is built from (graph work done once per content); the plans,
    # not the flow models, are what a re-parse unpickles
    plans: dict[str, FlowPlan] = field(default_factory=dict)
    agents: dict[str, Agent] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)


def folders() -> list[Path]:
    """The flows folder(s) (`[aof] flows_folder`, several separated by `:`) and the agents folder."""
    raw = config.settings().flows_folder
    flows = [Path(p) for p in raw.split(os.pathsep) if p] or [config.flows_folder()]
    out: list[Path] = []
    for p in [*flows, config.agents_folder()]:
        if p.exists() and p.resolve() not in [q.resolve() for q in out]:
            out.append(p)
    return out


def _digest(files: list[Path]) -> str:
    h = hashlib.sha256(CACHE_VERSION.encode())
    for f in files:
        h.update(str(f).encode() + b"\0")
        try:
            h.update(f.read_bytes())
        except OSError as exc:
            h.update(repr(exc).encode())
        h.update(b"\0")
    return h.hexdigest()


def cache_dir() -> Path:
    d = config.settings().cache_folder
    return Path(d) if d else Path(tempfile.gettempdir()) / f"aof-airflow-cache-{os.getuid()}"


def _private(d: Path) -> bool:
    """Only unpickle from a folder this user owns and nobody else can write: a pickle is code."""
    try:
        st = d.stat()
    except OSError:
        return True  # not there yet: we create it 0700
    return st.st_uid == os.getuid() and not st.st_mode & 0o022


def _load(paths: list[Path]) -> Scan:
    # a cache miss only: the YAML loader and the checks stay off a task's parse (test_dag_shape)
    from aof_airflow.factory.builder import plan_flow
    from aof_airflow.spec.loader import load_paths
    from aof_airflow.spec.trigger_docs import bound_schedule

    res = load_paths(paths)
    bad = {p.file for p in res.problems}
    scan = Scan(agents=dict(res.agents), problems=list(res.problems), warnings=list(res.warnings))
    for name, flow in res.flows.items():
        src = str(res.source(name))
        if src not in bad:
            scan.sources[name] = src
            try:
                scan.plans[name] = plan_flow(flow, src, schedule=bound_schedule(flow, res.triggers))
            except Exception as exc:  # one flow that cannot be planned never hides the others
                log.exception("flow %s could not be planned", name)
                scan.problems.append(Problem(src, 1, 1, f"flow {name!r} cannot be built: {type(exc).__name__}: {exc}"))
    return scan


def scan(paths: Iterable[Path] | None = None, *, use_cache: bool = True) -> Scan:
    """Load flows and agents; cached on disk by the content of every YAML file under `paths`."""
    paths = list(paths) if paths is not None else folders()
    files, _ = yaml_files(paths)
    if not use_cache:
        return _load(paths)
    key = _digest(files)
    path = cache_dir() / f"scan-{key}.pickle"
    if not _private(path.parent):
        log.warning("scan cache %s is not private to this user: not used", path.parent)
        return _load(paths)
    try:
        with open(path, "rb") as fh:
            return pickle.load(fh)
    except (OSError, pickle.PickleError, EOFError, AttributeError, ImportError):
        pass
    result = _load(paths)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False, prefix=".scan-") as tmp:
            pickle.dump(result, tmp, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp.name, path)
    except OSError as exc:  # a read-only disk only costs speed
        log.debug("scan cache not written: %s", exc)
    return result


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Loading the flows and building their DAGs allocates some 100k objects that either live as long as the DAGs
    or are freed by reference counting; left on, the cyclic collector walks Airflow's whole heap many times over
    on the way (it was 40% of a warm parse of 200 flows). Afterwards the survivors are filed with the old
    generation (freeze + unfreeze moves them without a scan), where the next full collection looks at them, and
    the caller's setting is restored."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.unfreeze()
        if was_enabled:
            gc.enable()


def build_dags(paths: Iterable[Path] | None = None, *, use_cache: bool = True) -> dict[str, DAG]:
    """{dag_id: DAG} for every valid flow; every bad file is reported as its own import error."""
    with cyclic_gc_paused(), config.settings_pinned():
        return _build_dags(paths, use_cache=use_cache)


def _build_dags(paths: Iterable[Path] | None, *, use_cache: bool) -> dict[str, DAG]:
    from aof_airflow.factory.builder import build_planned  # the operators: only a build needs them (see top)
    from aof_airflow.factory.errors import report_problems, report_warnings  # as the line above

    s = scan(paths, use_cache=use_cache)
    problems = list(s.problems)
    dags: dict[str, DAG] = {}
    for name, plan in s.plans.items():
        try:
            dags[name] = build_planned(plan, s.agents)
        except Exception as exc:  # one flow that cannot be built never hides the others
            log.exception("flow %s could not be built", name)
            problems.append(Problem(s.sources[name], 1, 1, f"flow {name!r} cannot be built: {type(exc).__name__}: {exc}"))
    report_warnings(s.warnings)
    report_problems(problems)
    return dags
