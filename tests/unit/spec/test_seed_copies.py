"""The tutorial runs AS WRITTEN: the copies this repo ships are byte-for-byte the tutorial's files."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SEED = REPO.parent / "shared" / "seed"
COPIES = {
    "yaml/incident-response-flow.yaml": "dags/flows/incident-response-flow.yaml",
    "yaml/diagnostic-agent.yaml": "dags/agents/diagnostic-agent.yaml",
    "yaml/remediation-agent.yaml": "dags/agents/remediation-agent.yaml",
    "yaml/post-incident-agent.yaml": "dags/agents/post-incident-agent.yaml",
    "payloads/test1-noncritical.json": "examples/payloads/test1-noncritical.json",
    "payloads/test2-critical.json": "examples/payloads/test2-critical.json",
    **{f"yaml/{p.name}": f"examples/snippets/{p.name}" for p in (REPO / "examples" / "snippets").glob("*.yaml")},
}


@pytest.mark.skipif(not SEED.exists(), reason="the tutorial's shared/seed is not beside this checkout")
@pytest.mark.parametrize("original, copy", sorted(COPIES.items()))
def test_shipped_copy_is_the_tutorials_file(original, copy):
    assert (REPO / copy).read_bytes() == (SEED / original).read_bytes()
