"""Which files hold the YAML: kept apart from the loader so a cached scan (every task's DAG parse) finds
the files without importing the YAML parser and the validation machinery."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from aof_airflow.spec.problems import Problem

YAML_SUFFIXES = (".yaml", ".yml")


def yaml_files(paths: Iterable[str | Path]) -> tuple[list[Path], list[Problem]]:
    """Files named directly (any suffix) and *.yaml / *.yml below folders, in a stable order."""
    files: list[Path] = []
    missing: list[Problem] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            files.extend(sorted(f for f in p.rglob("*") if f.suffix in YAML_SUFFIXES and f.is_file()))
        elif p.is_file():
            files.append(p)
        else:
            missing.append(Problem(str(p), 1, 1, "no such file or directory"))
    return files, missing
