import json
import os
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aof_airflow.templating import (
    TemplateContext,
    TemplateError,
    UnknownReference,
    placeholders,
    render_data,
    render_json,
    render_shell,
    render_text,
)


def ctx(**roots):
    return TemplateContext(roots, environ={"PAGERDUTY_API_KEY": "k-123"}, variables=None)


def test_paths_defaults_and_types():
    c = ctx(event={"incident": {"id": "T1", "custom_details": {"namespace": ""}}}, flow={"duration_seconds": 3},
            diagnose={"output": {"ok": True, "n": None, "list": [1, 2]}})
    assert render_text("${event.incident.id}", c) == "T1"
    assert render_text("${event.incident.custom_details.namespace:-default}", c) == "default"  # empty -> default
    assert render_text("${event.incident.custom_details.resource:-none}", c) == "none"  # missing -> default
    assert render_text("${diagnose.output.ok} ${diagnose.output.n} ${diagnose.output.list}", c) == "true null [1, 2]"
    assert render_text("${flow.duration_seconds}s", c) == "3s"
    assert render_text("${diagnose.output.list.1}", c) == "2"
    assert render_text('${diagnose.output.ok == true}', c) == "true"
    assert render_text("cost $${not.a.ref}", c) == "cost ${not.a.ref}"


def test_unknown_reference_names_what_is_missing():
    c = ctx(diagnose={"output": {"severity": "low"}})
    with pytest.raises(UnknownReference, match=r"diagnose.output has no 'root_cause' \(it has: severity\)"):
        render_text("${diagnose.output.root_cause}", c)
    with pytest.raises(UnknownReference, match="no 'remediate' here"):
        render_text("${remediate.output.result}", c)
    with pytest.raises(UnknownReference, match="MISSING_SECRET"):
        render_text("${MISSING_SECRET}", c)


def test_env_names_are_secrets():
    seen = []
    c = TemplateContext({}, environ={"PAGERDUTY_API_KEY": "k-123"}, on_secret=seen.append, variables=None)
    assert render_text("Token token=${PAGERDUTY_API_KEY}", c) == "Token token=k-123"
    assert seen == ["k-123"]


def test_airflow_variable_fallback():
    c = TemplateContext({}, environ={}, variables=lambda name: "from-variable" if name == "KUBECONFIG" else None)
    assert render_text("${KUBECONFIG}", c) == "from-variable"


def test_one_pass_never_expands_values():
    c = ctx(event={"title": "${PAGERDUTY_API_KEY} and ${event.title}"})
    assert render_text("${event.title}", c) == "${PAGERDUTY_API_KEY} and ${event.title}"


def test_unclosed_placeholder():
    with pytest.raises(TemplateError, match="line 2, column 3"):
        placeholders("ok\n  ${oops")


def test_json_rendering_inside_and_outside_strings():
    c = ctx(r={"output": {"action_taken": 'kubectl "x"\n\\y', "result": "success"}}, flow={"duration_seconds": 1.5})
    body = render_json('{"a": "done: ${r.output.action_taken}", "d": ${flow.duration_seconds}, '
                       '"ok": ${r.output.result == "success"}, "raw": ${r.output}}', c)
    data = json.loads(body)
    assert data == {"a": 'done: kubectl "x"\n\\y', "d": 1.5, "ok": True,
                    "raw": {"action_taken": 'kubectl "x"\n\\y', "result": "success"}}


def test_render_data_keeps_single_placeholder_types():
    c = ctx(flow={"duration_seconds": 2}, e={"t": "x"})
    assert render_data({"d": "${flow.duration_seconds}", "l": ["${e.t}!"]}, c) == {"d": 2, "l": ["x!"]}


def run_bash(script, ctx_):
    r = render_shell(script, ctx_)
    out = subprocess.run(["bash", "-c", r.script], env={**r.env, "PATH": os.environ["PATH"]},
                         capture_output=True, timeout=10)
    # bytes, not text=True: universal newlines would turn a value's \r into \n
    return subprocess.CompletedProcess(out.args, out.returncode, out.stdout.decode(), out.stderr.decode())


def test_shell_quoting_contexts(tmp_path):
    c = ctx(v={"a": "x y*", "b": "it's"})
    out = run_bash("printf '%s|' ${v.a} \"in ${v.a}\" 'single ${v.b}'\ncat <<EOF\nhd ${v.b}\nEOF\n# ${v.missing} in a comment\n", c)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "x y*|in x y*|single it's|hd it's\n"


def test_quoted_heredoc_refuses_placeholders():
    with pytest.raises(TemplateError, match="quoted heredoc"):
        render_shell("cat <<'EOF'\n${v.a}\nEOF\n", ctx(v={"a": 1}))


HOSTILE = [
    '"; touch {canary} #', "$(touch {canary})", "`touch {canary}`", "'; touch {canary}; '", "\\\"; touch {canary}",
    "${{IFS}}touch${{IFS}}{canary}", "\ntouch {canary}\n", "EOF\ntouch {canary}\nEOF", "$((1))$(touch {canary})",
]


@pytest.mark.parametrize("payload", HOSTILE)
def test_hostile_values_stay_strings_in_every_position(payload, tmp_path):
    canary = tmp_path / "pwned"
    value = payload.format(canary=canary)
    c = ctx(event={"t": value})
    script = ('export A="${event.t}"\nexport B=${event.t}\nexport C=\'${event.t}\'\n'
              'cat > ' + str(tmp_path) + '/out <<EOF\n${event.t}\nEOF\nprintf "%s\\n%s\\n%s" "$A" "$B" "$C"')
    out = run_bash(script, c)
    assert not canary.exists()
    assert out.stdout == f"{value}\n{value}\n{value}"
    assert (tmp_path / "out").read_text() == value + "\n"


text_values = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text_values)
def test_any_string_round_trips_through_shell_unchanged(tmp_path, value):
    c = ctx(event={"t": value})
    out = run_bash('export T="${event.t}"\nprintf %s "$T"\nprintf %s ${event.t} >/dev/null', c)
    assert out.returncode == 0, out.stderr
    assert out.stdout == value
    assert not (tmp_path / "pwned").exists()


@given(text_values)
def test_any_string_round_trips_through_json_unchanged(value):
    c = ctx(event={"t": value})
    doc = json.loads(render_json('{"in": "x ${event.t} y", "out": ${event.t}}', c))
    assert doc == {"in": f"x {value} y", "out": value}


@given(text_values)
def test_text_rendering_is_one_pass(value):
    c = ctx(event={"t": value})
    assert render_text("[${event.t}]", c) == f"[{value}]"


@settings(max_examples=40, deadline=None)
@given(text_values)
def test_values_in_a_heredocs_quoted_json_strings_keep_the_file_valid(value):
    # the tutorial's log-incident node writes JSON through an unquoted heredoc
    c = ctx(d={"output": {"root_cause": value, "n": 3}})
    out = run_bash('cat <<EOF\n{\n  "root_cause": "${d.output.root_cause}",\n  "n": ${d.output.n}\n}\nEOF\n', c)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"root_cause": value, "n": 3}
