"""AOF's own published documents (../shared/corpora/aof, SOURCES.md names each file's commit): every one that AOF's
own loader accepts validates here, and every refusal is a truthful validation error at its line."""

from __future__ import annotations

import collections

from tests.corpora.aof_corpus import read_corpus


def test_every_document_aof_accepts_validates_here_and_each_refusal_says_why(capsys):
    docs = read_corpus()
    counts = collections.Counter()
    for d in docs:
        counts[(d.kind, "documents")] += 1
        counts[(d.kind, "AOF accepts")] += d.aof_accepts
        counts[(d.kind, "validated")] += d.validated
    with capsys.disabled():
        print("\nAOF corpus, validation:")
        for kind in ("Agent", "AgentFlow"):
            print(f"  {kind:9} " + ", ".join(f"{k}: {counts[(kind, k)]}" for k in ("documents", "AOF accepts", "validated")))
        for d in docs:
            if not d.validated:
                print(f"  {d.file}#{d.index + 1} ({d.kind}, AOF {'accepts' if d.aof_accepts else 'refuses'}): "
                      f"{d.refusal[:220]}")
    accepted_not_valid = [(d.file, d.index, d.refusal) for d in docs if d.aof_accepts and not d.validated]
    assert accepted_not_valid == []
    assert counts[("Agent", "documents")] == 84 and counts[("AgentFlow", "documents")] == 26
    for d in docs:
        if not d.validated:
            assert d.problems and all(p.line >= 1 and p.file == d.file for p in d.problems), (d.file, d.index)


def test_aof_spellings_are_read_with_a_warning_not_silently():
    docs = {(d.file, d.index): d for d in read_corpus()}
    flat = docs[("examples/docs-tests/10-cli-flat-format.yaml", 0)]
    assert flat.validated and any("flat agent form" in w.message for w in flat.warnings)
    alpha = docs[("examples/agents/devops.yaml", 0)]  # aof.dev/v1alpha1 with the v1 schema
    assert alpha.validated and any("is read as aof.dev/v1" in w.message for w in alpha.warnings)
    older = docs[("examples/flows/v1alpha1/github/deploy-on-merge.yaml", 0)]
    assert not older.validated and "older AOF schema" in older.problems[0].message and older.problems[0].line == 3
    shell = [w for d in docs.values() for w in d.warnings if "tool `shell`" in w.message]
    assert shell and all("not offered" in w.message for w in shell)
    broken = docs[("flows/github/pr-review-flow.yaml", 0)]  # AOF's serde_yaml refuses it too
    assert not broken.aof_accepts and "YAML syntax error" in broken.problems[0].message
