"""AOF's `conditions` forms ({from, value} / {from, reaction}) beside the tutorial's {from, when}."""

from __future__ import annotations

import pytest

from aof_airflow.spec.models import NodeCondition
from aof_airflow.templating import ConditionError, evaluate_condition


def cond(**kw):
    return NodeCondition.model_validate({"from": "a", **kw})


def test_value_compares_with_the_output():
    assert evaluate_condition(cond(value=True), True)
    assert not evaluate_condition(cond(value=True), False)
    assert evaluate_condition(cond(value=True), "true")  # a shell export
    assert evaluate_condition(cond(value="critical"), {"severity": "critical"})  # a one-field result
    assert not evaluate_condition(cond(value="critical"), {"severity": "high"})


def test_reaction_reads_an_approvals_reaction():
    assert evaluate_condition(cond(reaction="white_check_mark"), {"reaction": "white_check_mark", "user": "U1"})
    assert evaluate_condition(cond(reaction=":x:"), {"reaction": "x"})
    assert not evaluate_condition(cond(reaction="x"), {"reaction": "white_check_mark"})
    with pytest.raises(ConditionError, match="only an approval"):
        evaluate_condition(cond(reaction="x"), {"severity": "high"})


def test_exactly_one_test_per_entry():
    with pytest.raises(ValueError, match="exactly one of"):
        cond(value=1, when="true")
    with pytest.raises(ValueError, match="exactly one of"):
        cond()
    assert cond(when=True).when == "true" and cond(when="x == 1").text == "`when: x == 1`"
