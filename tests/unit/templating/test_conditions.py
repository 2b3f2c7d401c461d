import pytest
from hypothesis import given
from hypothesis import strategies as st

from aof_airflow.templating import ConditionError, UnknownReference, evaluate_when, parse_condition


def ev(text, **values):
    def resolve(path):
        v = values
        for k in path:
            v = v[k]
        return v

    return parse_condition(text).evaluate(resolve)


@pytest.mark.parametrize(
    "text, values, expected",
    [
        ("is_critical == true OR needs_approval == true", {"is_critical": False, "needs_approval": True}, True),
        ("is_critical == false AND needs_approval == false", {"is_critical": False, "needs_approval": True}, False),
        ("is_critical == false and needs_approval == false", {"is_critical": False, "needs_approval": False}, True),
        ("not (a == 1) Or b == 'x'", {"a": 1, "b": "x"}, True),
        ("NOT a == 1", {"a": 2}, True),
        ("a < 3 AND a >= 2", {"a": 2.5}, True),
        ("a != null", {"a": None}, False),
        ('reaction == "white_check_mark"', {"reaction": "white_check_mark"}, True),
        ("APPROVED == true", {"APPROVED": "true"}, True),  # a shell export is a string
        ("COUNT > 2", {"COUNT": "3"}, True),
        ("${diagnose.output.severity} == \"critical\"", {"diagnose": {"output": {"severity": "critical"}}}, True),
        ("verify-fix.output.ok == true", {"verify-fix": {"output": {"ok": True}}}, True),
        ("a == 'it''s'", {"a": "x"}, None),  # adjacent strings are a syntax error, checked below
    ],
)
def test_evaluates(text, values, expected):
    if expected is None:
        with pytest.raises(ConditionError):
            ev(text, **values)
    else:
        assert ev(text, **values) is expected


@pytest.mark.parametrize(
    "text, values",
    [
        ("a == 3", {"a": True}),  # bool vs number
        ("a == true", {"a": "yes"}),  # unparseable string vs bool
        ("a < 'x'", {"a": 3}),
        ("a > b", {"a": None, "b": 1}),
        ("a AND b", {"a": True, "b": 3}),
        ("NOT a", {"a": "maybe"}),
        ("a < b", {"a": True, "b": False}),
    ],
)
def test_type_mismatch_is_an_error_not_false(text, values):
    with pytest.raises(ConditionError, match="cannot|expected true or false"):
        ev(text, **values)


@pytest.mark.parametrize("text", ["", "a ==", "(a == 1", "a == 1)", "a = 1", "a == 1 AND", "AND", "a === b", "a == 1 b"])
def test_syntax_errors_name_the_place(text):
    with pytest.raises(ConditionError):
        parse_condition(text)


def test_parsed_once_and_shared():
    assert parse_condition("x == 1") is parse_condition("x == 1")


def test_unknown_name_is_an_error():
    with pytest.raises(KeyError):
        ev("missing == 1")


def test_when_reads_the_from_nodes_output():
    assert evaluate_when("true", True) is True
    assert evaluate_when("false", True) is False
    assert evaluate_when("APPROVED == true", {"APPROVED": "true"}) is True
    assert evaluate_when('reaction == "white_check_mark"', {"reaction": "x"}) is False
    with pytest.raises(UnknownReference, match="reaction"):
        evaluate_when('reaction == "white_check_mark"', {"outcome": "timed_out"}, from_node="request-approval")
    with pytest.raises(ConditionError):
        evaluate_when("true", "a string", from_node="x")


def test_no_eval():
    with pytest.raises(ConditionError):
        parse_condition("__import__('os').system('touch /tmp/x')")


names = st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True).filter(
    lambda s: s not in {"and", "or", "not", "true", "false", "null", "none"}
)
literals = st.one_of(st.booleans(), st.integers(-1000, 1000), st.text(max_size=20))


def lit(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'


@given(names, literals)
def test_equality_with_any_literal_round_trips(name, value):
    assert ev(f"{name} == {lit(value)}", **{name: value}) is True
    assert ev(f"{name} != {lit(value)}", **{name: value}) is False


@st.composite
def bool_exprs(draw, depth=0):
    if depth > 3 or draw(st.booleans()):
        v = draw(st.booleans())
        return ("true" if v else "false"), v
    kind = draw(st.sampled_from(["and", "or", "not", "paren"]))
    a_text, a = draw(bool_exprs(depth + 1))
    if kind == "not":
        return f"NOT {a_text}", not a
    if kind == "paren":
        return f"({a_text})", a
    b_text, b = draw(bool_exprs(depth + 1))
    word = draw(st.sampled_from([kind, kind.upper(), kind.title()]))
    return f"({a_text} {word} {b_text})", (a and b) if kind == "and" else (a or b)


@given(bool_exprs())
def test_boolean_algebra_matches_python(expr):
    text, expected = expr
    assert parse_condition(text).evaluate(lambda p: None) is expected
