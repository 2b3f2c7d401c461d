"""Report a bad YAML file as an Airflow import error of THAT file, at its line, without failing the DAG file.

Airflow records one import error per Python DAG file, and an error on `aof_flows.py` would mark every
flow it builds as broken (stale). So while the DAG file is being imported by Airflow's Python importer,
we add a `DagImportError` for the YAML file itself (path relative to the bundle, with line and column)
to the importer's result: the UI lists "flows/bad.yaml, line 12" and the other flows stay live. Outside
an Airflow import (plain `python`, a test), the problem is logged and kept in `LAST_PROBLEMS`.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from typing import TYPE_CHECKING, Iterable

from aof_airflow.spec.problems import Problem

if TYPE_CHECKING:
    from airflow.dag_processing.importers.base import DagImportResult

log = logging.getLogger(__name__)
LAST_PROBLEMS: list[Problem] = []


class AofSpecWarning(UserWarning):
    """A YAML finding that does not stop the flow (e.g. a repeated `to:` read as a fan-out)."""


def _importer_frame() -> tuple[DagImportResult, str | None] | None:
    """(DagImportResult being filled, bundle_path) of the Airflow import running us, if any."""
    try:
        from airflow.dag_processing.importers.base import DagImportResult  # as report_problems: when a file is bad
    except ImportError:  # pragma: no cover
        return None
    frame = sys._getframe(1)
    result = None
    while frame is not None:
        loc = frame.f_locals
        cand = loc.get("result")
        if result is None and isinstance(cand, DagImportResult):
            result = cand
        if result is not None and "bundle_path" in loc:
            return result, loc.get("bundle_path")
        frame = frame.f_back
    return (result, None) if result is not None else None


def _relative(path: str, bundle_path: str | os.PathLike[str] | None) -> str:
    if bundle_path:
        try:
            return os.path.relpath(path, os.fspath(bundle_path))
        except ValueError:
            pass
    return path


def report_problems(problems: Iterable[Problem]) -> int:
    """Record each Problem (file, line, col, message) as an import error of its file; returns how many."""
    probs = list(problems)
    LAST_PROBLEMS[:] = probs
    if not probs:
        return 0
    # only now: ~18 ms measured, which every task process parsing a clean folder would pay
    from airflow.dag_processing.importers.base import DagImportError
    found = _importer_frame()
    by_file: dict[str, list[Problem]] = {}
    for p in probs:
        by_file.setdefault(p.file, []).append(p)
    for file, ps in by_file.items():
        text = "\n".join(str(p) for p in ps)
        log.error("AgentFlow file %s has problems:\n%s", file, text)
        if found is not None:
            result, bundle = found
            first = ps[0]
            result.errors.append(DagImportError(
                file_path=_relative(file, bundle), message=text, error_type="aof-spec",
                line_number=first.line, column_number=first.col, stacktrace=text,
            ))
    return len(by_file)


SHOWN_ELSEWHERE = 3  # other places named in a warning found in several files


def report_warnings(problems: Iterable[Problem]) -> None:
    """Warnings go through Python's warnings with the YAML file and line, which Airflow shows as DAG warnings.
    A finding repeated across files (flows copied from one template) is one warning at its first place that
    names the others, not one per copy: Airflow lists every captured warning of the DAG file."""
    places: dict[str, list[Problem]] = {}
    for p in problems:
        places.setdefault(p.message, []).append(p)
    for message, found in places.items():
        first, others = found[0], found[1:]
        if others:
            named = ", ".join(f"{o.file}:{o.line}" for o in others[:SHOWN_ELSEWHERE])
            more = f" and {len(others) - SHOWN_ELSEWHERE} more" if len(others) > SHOWN_ELSEWHERE else ""
            message = f"{message} (the same in {len(others)} other place(s): {named}{more})"
        warnings.warn_explicit(message, AofSpecWarning, filename=first.file, lineno=first.line)
