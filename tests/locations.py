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


def corpora_required() -> bool:
    return os.environ.get("AOF_REQUIRE_CORPORA", "").strip().lower() in ("1", "true", "yes")


def corpus_path(name: str) -> Path | None:
    """`../shared/corpora/<name>` when it is there (no skip): for module-level parametrisation."""
    p = CORPORA / name
    try:
        return p if p.is_dir() else None
    except PermissionError:
        return None


def corpus(name: str) -> Path:
    """`../shared/corpora/<name>`, or skip the calling test naming the folder (fail when corpora are required)."""
    p = corpus_path(name)
    if p is not None:
        return p
    why = (f"published corpus {name!r} is not beside this checkout (expected {CORPORA / name}); "
           "it lives outside the repository, see ../shared/corpora/README.md")
    if corpora_required():
        pytest.fail(why + " -- AOF_REQUIRE_CORPORA is set, so a missing corpus is a failure")
    pytest.skip(why)
