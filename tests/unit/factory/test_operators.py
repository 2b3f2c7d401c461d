"""Node operators without Airflow's scheduler: a fake TaskInstance answers the one XCom read."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSkipException
from pydantic import TypeAdapter

from aof_airflow.operators.conditional import ConditionalOperator
from aof_airflow.operators.context import build_roots, flow_info
from aof_airflow.operators.http import candidate_conn_ids, endpoint_of, host_slug
from aof_airflow.operators.mrkdwn import to_mrkdwn
from aof_airflow.operators.transform import TransformOperator, run_script
from aof_airflow.spec.models import Node

NODE = TypeAdapter(Node)


class FakeTI:
    def __init__(self, xcoms: dict[str, Any]) -> None:
        self.xcoms = xcoms
        self.pulls: list[Any] = []

    def xcom_pull(self, task_ids: Any, key: str = "return_value") -> Any:
        self.pulls.append(task_ids)
        return [self.xcoms.get(t) for t in task_ids]


def ctx(xcoms: dict[str, Any], conf: dict[str, Any] | None = None) -> dict[str, Any]:
    run = SimpleNamespace(run_id="manual__1", conf=conf or {}, start_date=datetime.now(timezone.utc) - timedelta(seconds=42))
    return {"ti": FakeTI(xcoms), "dag_run": run}


def op(cls: type, node: dict[str, Any], ancestors: list[str] = (), transforms: list[str] = ()) -> Any:
    n = NODE.validate_python(node)
    return cls(task_id=n.id, flow_name="f", node=n, ancestors=list(ancestors), transforms=list(transforms))


# ------------------------------------------------------------------------------ context


def test_roots_merge_transform_exports_in_order_and_only_ancestors_are_read():
    roots = build_roots({"event": {"x": 1}}, {"a": {"V": "1", "W": "a"}, "b": {"V": "2"}, "c": {"k": True}},
                        ["a", "b"], flow_info("f", "r", None))
    assert roots["V"] == "2" and roots["W"] == "a"
    assert roots["c"] == {"output": {"k": True}} and roots["event"] == {"x": 1} and roots["flow"]["name"] == "f"
    c = ctx({"a": {"V": "1"}, "not-an-ancestor": {"V": "leak"}})
    o = op(TransformOperator, {"id": "t", "type": "Transform", "config": {"script": "export OUT=$V"}}, ["a"], ["a"])
    assert o.execute(c) == {"OUT": "1"}
    assert c["ti"].pulls == [["a"]]  # one read, ancestors only


def test_flow_duration_is_measured_from_run_start():
    c = ctx({})
    o = op(TransformOperator, {"id": "t", "type": "Transform", "config": {"script": "export D=${flow.duration_seconds}"}})
    assert 40 <= int(o.execute(c)["D"]) <= 60


# ---------------------------------------------------------------------------- transform


@pytest.mark.parametrize("title", ['"; touch /tmp/pwned-unit #', "$(touch /tmp/pwned-unit)", "`touch /tmp/pwned-unit`",
                                   "a'b\"c\\d\n$HOME ${PATH}"])
def test_transform_values_never_become_shell_syntax(title):
    c = ctx({}, {"event": {"incident": {"title": title}}})
    o = op(TransformOperator, {"id": "p", "type": "Transform",
                               "config": {"script": 'export T="${event.incident.title}"\nexport U=${event.incident.title}\n'
                                                    "cat > /dev/null <<EOF\n${event.incident.title}\nEOF\n"}})
    assert o.execute(c) == {"T": title, "U": title}
    assert not Path("/tmp/pwned-unit").exists()


def test_transform_exports_only_what_the_script_exported():
    code, out, err, exported = run_script("X=not-exported\nexport A=1\nexport B='two words'\necho hi", {"AOF_V_1": "v"}, 10)
    assert code == 0 and out == "hi\n" and exported == {"A": "1", "B": "two words"}


def test_transform_failure_fails_the_node_with_stderr():
    o = op(TransformOperator, {"id": "t", "type": "Transform", "config": {"script": "echo boom >&2; exit 3"}})
    with pytest.raises(AirflowException, match="status 3: boom"):
        o.execute(ctx({}))


def test_transform_timeout_kills_the_script():
    o = op(TransformOperator, {"id": "t", "type": "Transform", "config": {"script": "sleep 30", "timeout_seconds": 0.5}})
    with pytest.raises(AirflowException, match="did not finish"):
        o.execute(ctx({}))


def test_unknown_reference_names_node_and_reference():
    o = op(TransformOperator, {"id": "t", "type": "Transform", "config": {"script": "export A=${nope.output.x}"}})
    with pytest.raises(AirflowFailException, match=r"'t'.*nope"):
        o.execute(ctx({}))


# -------------------------------------------------------------------------- conditional


def test_conditional_named_and_single():
    diag = {"severity": "critical", "requires_approval": False}
    named = op(ConditionalOperator, {"id": "c", "type": "Conditional", "config": {"conditions": [
        {"name": "is_critical", "expression": '${diagnose.output.severity} == "critical"'},
        {"name": "needs_approval", "expression": "${diagnose.output.requires_approval} == true"}]}}, ["diagnose"])
    assert named.execute(ctx({"diagnose": diag})) == {"is_critical": True, "needs_approval": False}
    single = op(ConditionalOperator, {"id": "c", "type": "Conditional",
                                      "config": {"condition": '${r.output.result} != "success"'}}, ["r"])
    assert single.execute(ctx({"r": {"result": "failed"}})) is True


# --------------------------------------------------------------------------- conditions

REMEDIATE = {"id": "remediate", "type": "Transform", "config": {"script": "export RAN=yes"},
             "conditions": [{"from": "auto-approve", "when": "APPROVED == true"},
                            {"from": "request-approval", "when": 'reaction == "white_check_mark"'}]}


def test_any_condition_holds_and_a_skipped_from_is_false():
    anc = ["auto-approve", "request-approval"]
    o = op(TransformOperator, REMEDIATE, anc, ["auto-approve"])
    assert o.execute(ctx({"auto-approve": {"APPROVED": "true"}})) == {"RAN": "yes"}  # approval skipped
    assert o.execute(ctx({"request-approval": {"reaction": "white_check_mark"}})) == {"RAN": "yes"}
    with pytest.raises(AirflowSkipException, match="did not run"):
        o.execute(ctx({"request-approval": {"reaction": "x"}}))


def test_bare_true_false_against_single_condition_result():
    node = {"id": "n", "type": "Transform", "config": {"script": "export A=1"},
            "conditions": [{"from": "failed", "when": False}]}
    o = op(TransformOperator, node, ["failed"])
    assert o.execute(ctx({"failed": False})) == {"A": "1"}
    with pytest.raises(AirflowSkipException):
        o.execute(ctx({"failed": True}))


def test_condition_type_mismatch_fails_not_skips():
    node = {"id": "n", "type": "Transform", "config": {"script": "export A=1"},
            "conditions": [{"from": "c", "when": "is_critical > 3"}]}
    with pytest.raises(AirflowFailException, match="condition"):
        op(TransformOperator, node, ["c"]).execute(ctx({"c": {"is_critical": "yes"}}))


# ------------------------------------------------------------------------ slack / http


def test_markdown_to_mrkdwn():
    assert to_mrkdwn("**Incident**: x") == "*Incident*: x"
    assert to_mrkdwn("[PD](https://pd.example/i/1) *it* ~~no~~") == "<https://pd.example/i/1|PD> _it_ ~no~"
    assert to_mrkdwn("title <!channel> & co") == "title &lt;!channel&gt; &amp; co"
    assert to_mrkdwn("# Head\n- a\n`**raw**`") == "*Head*\n• a\n`**raw**`"


def test_http_connection_choice():
    url = "https://api.pagerduty.com/incidents/P1?x=1"
    assert host_slug("api.pagerduty.com") == "api_pagerduty_com"
    assert candidate_conn_ids(url, None) == ["aof_http_api_pagerduty_com", "pagerduty_default"]
    assert candidate_conn_ids("https://hooks.example.org/a", None) == ["aof_http_hooks_example_org"]
    assert candidate_conn_ids(url, "mine") == ["mine"]
    assert endpoint_of(url) == "/incidents/P1?x=1"


# ------------------------------------------------------------------- decided children


class RecordingTI(FakeTI):
    map_index = -1

    def __init__(self, xcoms: dict[str, Any]) -> None:
        super().__init__(xcoms)
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


def branching(children_when: dict[str, str], severity: str) -> tuple[Any, dict[str, Any]]:
    """A check-severity Conditional deciding children with the given `when`, inside a DAG."""
    from airflow.sdk import DAG

    check = {"id": "check", "type": "Conditional", "config": {"conditions": [
        {"name": "is_critical", "expression": '${diagnose.output.severity} == "critical"'}]}}
    children = {cid: NODE.validate_python({"id": cid, "type": "Transform", "config": {"script": "export X=1"},
                                            "conditions": [{"from": "check", "when": when}]})
                for cid, when in children_when.items()}
    with DAG("decide"):
        x = ConditionalOperator(task_id="check", flow_name="f", node=NODE.validate_python(check),
                                ancestors=["diagnose"], decides=[(c, []) for c in children.values()])
        for c in children.values():
            x >> TransformOperator(task_id=c.id, flow_name="f", node=c, ancestors=["check"])
    run = SimpleNamespace(run_id="manual__1", conf={}, start_date=datetime.now(timezone.utc))
    return x, {"ti": RecordingTI({"diagnose": {"severity": severity}}), "dag_run": run}


def test_a_conditional_skips_the_children_whose_conditions_are_false_and_keeps_its_output():
    from airflow.sdk.exceptions import DownstreamTasksSkipped

    x, c = branching({"request-approval": "is_critical == true", "auto-approve": "is_critical == false"}, "high")
    with pytest.raises(DownstreamTasksSkipped) as exc:
        x.execute(c)
    assert exc.value.tasks == ["request-approval"]
    assert c["ti"].pushed["return_value"] == {"is_critical": False}  # the output survives the skip
    assert c["ti"].pushed["skipmixin_key"] == {"skipped": ["request-approval"]}


def test_a_conditional_whose_children_all_run_returns_normally():
    x, c = branching({"a": "is_critical == true", "b": "is_critical == true OR is_critical == false"}, "critical")
    assert x.execute(c) == {"is_critical": True}
    assert c["ti"].pushed == {}


def test_a_child_whose_condition_cannot_be_evaluated_is_left_to_fail_on_its_own():
    """`is_critical > 3` is a type error: the child, not the conditional, reports it (and fails)."""
    x, c = branching({"bad": "is_critical > 3"}, "high")
    assert x.execute(c) == {"is_critical": False}


def test_an_approval_that_decides_its_child_skips_it_when_the_answer_is_no(monkeypatch):
    """The deferrable approval ends in `execute_complete` (a fresh process after the trigger fired): it
    decides its child there, from the approver's reaction, exactly as a node that ends in `execute` does."""
    from airflow.sdk import DAG
    from airflow.sdk.exceptions import DownstreamTasksSkipped

    from aof_airflow.operators.approval import ApprovalNodeSensor

    ask = NODE.validate_python({"id": "ask", "type": "Slack", "config": {
        "channel": "#ops", "message": "restart?", "wait_for_reaction": True, "timeout_seconds": 60}})
    fix = NODE.validate_python({"id": "fix", "type": "Transform", "config": {"script": "export X=1"},
                                "conditions": [{"from": "ask", "when": 'reaction == "white_check_mark"'}]})
    with DAG("approve"):
        sensor = ApprovalNodeSensor(task_id="ask", flow_name="f", node=ask, decides=[(fix, [])])
        sensor >> TransformOperator(task_id="fix", flow_name="f", node=fix, ancestors=["ask"])
    posted: list[dict] = []
    monkeypatch.setattr(sensor, "_hook", lambda: SimpleNamespace(call=lambda method, json: posted.append(json)))
    run = SimpleNamespace(run_id="manual__1", conf={}, start_date=datetime.now(timezone.utc))

    def finish(reaction: str, outcome: str) -> tuple[Any, RecordingTI]:
        ti = RecordingTI({})
        event = {"outcome": outcome, "reaction": reaction, "user": "U1", "source": "slack", "channel": "C1", "ts": "1.2"}
        return sensor.execute_complete({"ti": ti, "dag_run": run}, event), ti

    with pytest.raises(DownstreamTasksSkipped) as exc:
        finish("x", "skipped")
    assert exc.value.tasks == ["fix"]
    result, ti = finish("white_check_mark", "approved")
    assert result["reaction"] == "white_check_mark" and ti.pushed == {}  # approved: the child runs
    assert len(posted) == 2  # each outcome was still said in the approval's thread
