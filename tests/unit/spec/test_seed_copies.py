"""The tutorial runs AS WRITTEN: the copies this repo ships are byte-for-byte the tutorial's files."""

from __future__ import annotations

import pytest

from tests.locations import REPO, SEED, SEED_SNIPPETS, corpora_required, seed_present

COPIES = {
    "yaml/incident-response-flow.yaml": "dags/flows/incident-response-flow.yaml",
    "yaml/diagnostic-agent.yaml": "dags/agents/diagnostic-agent.yaml",
    "yaml/remediation-agent.yaml": "dags/agents/remediation-agent.yaml",
    "yaml/post-incident-agent.yaml": "dags/agents/post-incident-agent.yaml",
    "payloads/test1-noncritical.json": "examples/payloads/test1-noncritical.json",
    "payloads/test2-critical.json": "examples/payloads/test2-critical.json",
    **{f"yaml/{p.name}": str(p.relative_to(REPO)) for p in SEED_SNIPPETS.glob("*.yaml")},
}


@pytest.mark.parametrize("original, copy", sorted(COPIES.items()))
def test_shipped_copy_is_the_tutorials_file(original, copy):
    if not seed_present():
        why = f"the tutorial's files are not beside this checkout (expected {SEED}): nothing to compare the copies with"
        if corpora_required():
            pytest.fail(why + " -- AOF_REQUIRE_CORPORA is set, so the shared folder must be there")
        pytest.skip(why)
    assert (REPO / copy).read_bytes() == (SEED / original).read_bytes()
