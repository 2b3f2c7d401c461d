"""The position-recording reader agrees with PyYAML on data, and every recorded key position is right."""

from __future__ import annotations

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from aof_airflow.spec.marked_yaml import USING_LIBYAML, parse_documents

keys = st.from_regex(r"[a-z][a-z_]{0,7}", fullmatch=True)
scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                    st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=20))
data = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                     st.dictionaries(keys, inner, max_size=5)), max_leaves=25)


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(keys, data, min_size=1, max_size=6), st.booleans())
def test_same_data_as_pyyaml_and_keys_where_the_text_has_them(doc, flow_style):
    text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, default_flow_style=flow_style)
    docs, problems = parse_documents(text, "x.yaml")
    assert problems == []
    (parsed,) = docs
    assert parsed.data == yaml.safe_load(text)
    lines = text.splitlines()
    for path, (line, col) in parsed.positions.keys.items():
        at = lines[line - 1][col - 1:]
        key = path[-1]
        assert at.startswith(key) or at.startswith(f"'{key}'") or at.startswith(f'"{key}"'), (path, line, col, text)


def test_uses_libyaml_when_pyyaml_has_it():
    assert USING_LIBYAML == bool(getattr(yaml, "__with_libyaml__", False))


def test_documents_are_split_and_empty_ones_kept_as_none():
    docs, problems = parse_documents("a: 1\n---\n---\nb: [1, 2]\n", "x.yaml")
    assert problems == [] and [d.data for d in docs] == [{"a": 1}, None, {"b": [1, 2]}]
    assert docs[2].positions.values[("b", 1)] == (4, 8)


def test_unsafe_tags_are_refused_with_a_position():
    docs, problems = parse_documents("a: 1\nb: !!python/object:os.system ls\n", "x.yaml")
    (p,) = problems
    assert (p.line, p.col) == (2, 4) and "python/object" in p.message


def test_positions_read_on_demand_are_the_recording_reads():
    """A quick read finds positions only when asked; they are the ones a recording read gives, for every YAML
    file the repository holds (the seed copies, the sandbox scenarios)."""
    from tests.locations import REPO

    files = [f for pattern in ("dags/**/*.yaml", "lab/**/*.yaml") for f in REPO.glob(pattern)]
    assert len(files) > 40
    _same_positions_either_way(files)


def test_positions_read_on_demand_are_the_recording_reads_for_aofs_documents():
    """The same for every YAML file of AOF's published documents and triggers."""
    from tests.locations import corpus

    files = [f for name in ("aof", "aof-triggers") for f in corpus(name).glob("**/*.yaml")]
    assert len(files) > 100
    _same_positions_either_way(files)


def _same_positions_either_way(files) -> None:
    for f in files:
        text = f.read_text(encoding="utf-8")
        quick, quick_problems = parse_documents(text, str(f))
        full, full_problems = parse_documents(text, str(f), positions=True)
        assert quick_problems == full_problems, f
        assert [(d.data, d.problems, d.warnings) for d in quick] == [(d.data, d.problems, d.warnings) for d in full]
        assert [d.positions for d in quick] == [d.positions for d in full], f


def test_aliases_are_copies_read_where_their_anchor_is():
    text = "base: &b {k: v, t: '${x.output}'}\nuse: *b\nlist: [*b]\n"
    (doc,), problems = parse_documents(text, "x.yaml")
    assert problems == [] and doc.data["use"] == doc.data["base"] == doc.data["list"][0]
    assert doc.data["use"] is not doc.data["base"]
    assert doc.positions.values[("use", "k")] == doc.positions.values[("base", "k")] == (1, 14)
    assert doc.positions.keys[("list", 0, "t")] == (1, 17)
    assert set(doc.positions.templates) == {("base", "t"), ("use", "t"), ("list", 0, "t")}


def test_a_merge_key_gives_way_to_explicit_keys_and_its_first_source_wins_value_and_position():
    text = "a: &a {k: 1, j: 1}\nb: &b {k: 2, m: 2}\nc:\n  <<: [*a, *b]\n  j: 3\n"
    (doc,), problems = parse_documents(text, "x.yaml")
    assert problems == [] and doc.data["c"] == {"k": 1, "j": 3, "m": 2}
    assert doc.positions.values[("c", "k")] == (1, 11)  # from a, whose value won
    assert doc.positions.values[("c", "j")] == (5, 6)  # written here
    assert doc.positions.values[("c", "m")] == (2, 17)


def test_recursive_aliases_duplicate_anchors_and_tagged_collections_are_problems():
    (doc,), problems = parse_documents("a: &x [1, *x]\n", "x.yaml")
    assert problems == [] and doc.data == {"a": [1, None]} and "recursive" in doc.problems[0].message
    _, (p,) = parse_documents("a: &x 1\nb: &x 2\n", "x.yaml")
    assert (p.line, p.col) == (2, 4) and "duplicate anchor" in p.message
    _, (p,) = parse_documents("a: *nowhere\n", "x.yaml")
    assert "undefined alias" in p.message
    _, (p,) = parse_documents("x: !!set {a, b}\n", "x.yaml")
    assert (p.line, p.col) == (1, 4) and "'tag:yaml.org,2002:set' on a mapping is not read here" in p.message


def test_a_repeated_to_with_an_alias_fans_out_with_each_target_where_it_was_written():
    text = ("spec:\n  connections:\n    - from: a\n      to: &t b\n      to: [c, d]\n"
            "    - from: x\n      to: y\n      to: *t\n")
    (doc,), problems = parse_documents(text, "x.yaml")
    assert problems == [] and [c["to"] for c in doc.data["spec"]["connections"]] == [["b", "c", "d"], ["y", "b"]]
    conn = ("spec", "connections")
    assert doc.positions.values[conn + (0, "to", 0)] == (4, 11)
    assert doc.positions.values[conn + (0, "to", 2)] == (5, 15)
    assert doc.positions.values[conn + (1, "to", 1)] == (4, 11)
    assert [w.line for w in doc.warnings] == [5, 8]
