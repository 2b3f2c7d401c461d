"""Values larger than Linux lets a process's environment hold (128 KiB per string, ARG_MAX in all) reach a
Transform or Script through the real operators: the seed's own scripts, as written, carry a 300 KB or 600 KB
title and custom details, the programs they start still start, and a hostile value stays a string."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from aof_airflow.operators.script import ScriptOperator
from aof_airflow.operators.transform import EXPORT_MAX, TransformOperator, run_script
from tests.locations import SEED_FLOW
from tests.unit.factory.test_operators import ctx, op

SEED_NODES = {n["id"]: n for n in yaml.safe_load(Path(SEED_FLOW).read_text())["spec"]["nodes"]}
SIZES = [300_000, 600_000]
PWNED = Path("/tmp/pwned-large-values")


def big(size: int, head: str = "") -> str:
    """`size` characters: a hostile head, then text with multi-byte characters, quotes and newlines."""
    body = "é\"'$`\\\n x " * (size // 10 + 1)
    return (head + body)[:size]


def event(title: str, resource: str) -> dict:
    return {"event": {"incident": {"id": "PBIG1", "title": title, "service": {"name": "api"}, "urgency": "high",
                                   "html_url": "https://example.pagerduty.com/incidents/PBIG1",
                                   "custom_details": {"namespace": "prod", "resource": resource}}}}


def test_the_limit_is_real_and_the_old_channel_hit_it():
    """What the file channel avoids: the kernel refuses a 128 KiB environment string."""
    import subprocess

    with pytest.raises(OSError, match="Argument list too long"):
        subprocess.run(["/bin/true"], env={"BIG": "x" * 131_072})


@pytest.mark.parametrize("size", SIZES)
def test_the_seeds_parse_alert_carries_a_huge_title_and_details(size):
    title = big(size, '"; touch /tmp/pwned-large-values #$(touch /tmp/pwned-large-values)')
    resource = big(size, "deployment/api ")
    o = op(TransformOperator, SEED_NODES["parse-alert"])
    out = o.execute(ctx({}, event(title, resource)))
    assert out["INCIDENT_TITLE"] == title and out["K8S_RESOURCE"] == resource
    assert out["INCIDENT_ID"] == "PBIG1" and out["K8S_NAMESPACE"] == "prod"
    assert not PWNED.exists()


@pytest.mark.parametrize("size", SIZES)
def test_the_seeds_log_incident_writes_valid_json_with_huge_values(size):
    """The seed's heredoc (`cat > ... <<EOF`, `$(date ...)`) runs programs while huge flow variables and
    placeholder values are set: they are shell variables there, not the programs' environment."""
    title, cause = big(size, "<!channel> *bold* "), big(size, "OOMKilled ")
    xcoms = {"parse-alert": {"INCIDENT_ID": "PBIG2", "INCIDENT_TITLE": title},
             "diagnose": {"severity": "high", "root_cause": cause},
             "remediate": {"action_taken": "restart", "result": "success"}}
    o = op(TransformOperator, SEED_NODES["log-incident"], list(xcoms), ["parse-alert"])
    o.execute(ctx(xcoms))
    path = Path("/tmp/incident-PBIG2.json")
    try:
        record = json.loads(path.read_text())
    finally:
        path.unlink(missing_ok=True)
    assert record["title"] == title and record["root_cause"] == cause and record["incident_id"] == "PBIG2"


def test_a_large_value_the_script_exports_is_an_output_and_programs_still_start():
    value = big(400_000)
    o = op(TransformOperator, {"id": "t", "type": "Transform", "config": {"script": (
        'export BIG="${event.incident.title}"\n'
        'export SMALL=ok\n'
        '/bin/true || exit 7\n'  # a program started after a huge export: E2BIG without the export wrapper
        'export SIZE=$(printf %s "$BIG" | wc -c)\n'
        'export CHILD_SEES_SMALL=$(/usr/bin/env | grep -c ^SMALL=)\n')}})
    out = o.execute(ctx({}, {"event": {"incident": {"title": value}}}))
    assert out["BIG"] == value and out["SMALL"] == "ok"
    assert int(out["SIZE"]) == len(value.encode()) and out["CHILD_SEES_SMALL"] == "1"


def test_values_too_many_for_arg_max_together_still_run():
    """30 values of 100 KB (3 MB, over ARG_MAX's 2 MiB): each small enough to export alone, not all together."""
    values = {f"V{i}": chr(65 + i % 26) * 100_000 for i in range(30)}
    code, out, err, exported = run_script('echo "${#V0} ${#V29}"; /bin/true; export DONE=1', values, 30)
    assert (code, out, exported) == (0, "100000 100000\n", {"DONE": "1"}), err


def test_small_values_are_still_the_environment_of_the_programs_a_script_starts():
    code, out, err, _ = run_script("/usr/bin/env | grep ^INCIDENT_ID=", {"INCIDENT_ID": "P1", "X": "y" * EXPORT_MAX}, 10)
    assert (code, out) == (0, "INCIDENT_ID=P1\n"), err


@pytest.mark.parametrize("size", SIZES)
def test_a_script_nodes_command_reads_a_huge_value(size):
    title = big(size, "$(touch /tmp/pwned-large-values)")
    o = op(ScriptOperator, {"id": "s", "type": "Script", "config": {"scriptConfig": {
        "command": 'printf %s "${event.incident.title}" | wc -c', "env": {"NOTE": "${event.incident.title}"}}}})
    assert int(o.execute(ctx({}, {"event": {"incident": {"title": title}}}))) == len(title.encode())
    assert not PWNED.exists()


def test_bash_own_variable_names_cannot_be_set_by_a_flow_variable():
    code, out, err, _ = run_script('printf "%q|%s|%s\\n" "$IFS" "${BASH_ENV-unset}" "$OK"',
                                   {"IFS": "x", "BASH_ENV": "/etc/passwd", "OK": "yes"}, 10)
    assert (code, out) == (0, "$' \\t\\n'|unset|yes\n"), err


@pytest.fixture(autouse=True)
def _no_pwned():
    PWNED.unlink(missing_ok=True)
    yield
    assert not PWNED.exists()
    PWNED.unlink(missing_ok=True)
    assert "BIG" not in os.environ


def test_a_script_export_that_fits_stays_in_the_programs_environment():
    code, out, err, exported = run_script(
        'export MID="$(printf "é%.0s" {1..20000})"\nexport BIG="$MID$MID"\n/usr/bin/env | cut -d= -f1 | grep -x "MID\\|BIG"',
        {}, 10)
    assert (code, out) == (0, "MID\n"), err  # 40 KB fits; 80 KB is the script's own variable only
    assert len(exported["MID"]) == 20000 and len(exported["BIG"]) == 40000
