"""Where the tests find the tutorial's files and the published corpora: one place that names them.

The tutorial's files are read from the repository's own copies (byte-identical to `../shared/seed`, which
`tests/unit/spec/test_seed_copies.py` checks where that folder exists). Published material never lives in the
repository: it is read from `../shared/corpora/<folder>` beside the checkout. Where that folder is absent a test
that needs it is skipped with the folder's name; with `AOF_REQUIRE_CORPORA=1` (CI sets it) it fails instead.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SEED = SHARED / "seed"
CORPORA = SHARED / "corpora"

# The tutorial's files, as the repository ships them.
SEED_FLOW = REPO / "dags/flows/incident-response-flow.yaml"
SEED_AGENTS = REPO / "dags/agents"
SEED_PAYLOADS = REPO / "examples/payloads"
SEED_PAYLOAD_NONCRITICAL = SEED_PAYLOADS / "test1-noncritical.json"
SEED_PAYLOAD_CRITICAL = SEED_PAYLOADS / "test2-critical.json"
SEED_SNIPPETS = REPO / "examples/snippets"


def seed_present() -> bool:
    """Whether the tutorial's own folder (`../shared/seed`) is beside this checkout and readable."""
    try:
        return SEED.is_dir() and os.access(SEED, os.R_OK | os.X_OK)
    except OSError:
        return False


def seed_original(relative: str) -> Path | None:
    """`../shared/seed/<relative>` when that file is beside this checkout and readable, else None."""
    p = SEED / relative
    try:
        return p if p.is_file() and os.access(p, os.R_OK) else None
    except OSError:
        return None


def corpora_required() -> bool:
    return os.environ.get("AOF_REQUIRE_CORPORA", "").strip().lower() in ("1", "true", "yes")


def corpus_path(name: str) -> Path | None:
    """`../shared/corpora/<name>` when it is there (no skip): for module-level parametrisation."""
    p = CORPORA / name
    try:
        return p if p.is_dir() and os.access(p, os.R_OK | os.X_OK) else None
    except OSError:  # e.g. a parent this user may not enter
        return None


def corpus(name: str) -> Path:
    """`../shared/corpora/<name>`, or skip the calling test naming the folder (fail when corpora are required)."""
    p = corpus_path(name)
    if p is not None:
        return p
    why = (f"published corpus {name!r} is not beside this checkout (expected {CORPORA / name}): such material "
           "is kept outside the repository; put the project's shared corpora folder there to run this test")
    if corpora_required():
        pytest.fail(why + " -- AOF_REQUIRE_CORPORA is set, so a missing corpus is a failure")
    pytest.skip(why)


class CorpusDir:
    """`../shared/corpora/<name>` looked up when a test first uses it, so a module can name its corpus once:
    `PD = CorpusDir("pagerduty")`, then `PD / "signed"` inside a test skips that test (naming the folder) where
    the corpus is absent, and fails it when corpora are required."""

    def __init__(self, name: str) -> None:
        self.name = name

    @property
    def path(self) -> Path:
        return corpus(self.name)

    def __truediv__(self, part: str | Path) -> Path:
        return self.path / part

    def glob(self, pattern: str):
        return self.path.glob(pattern)

    def rglob(self, pattern: str):
        return self.path.rglob(pattern)

    def __fspath__(self) -> str:
        return str(self.path)

    def __repr__(self) -> str:
        return f"CorpusDir({self.name!r})"
