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
