"""aofctl imports only the command modules a command needs: `aofctl validate` must stay quick."""

import subprocess
import sys
from pathlib import Path

from aof_airflow.cli import build, command_modules

ROOT = Path(__file__).resolve().parents[3]


def test_every_module_provides_the_words_it_claims():
    for module, words in command_modules().items():
        cli = build(words[0])
        choices = cli.parser._subparsers._group_actions[0].choices  # the top-level words
        for word in words:
            assert word in choices, f"{module} does not provide {word!r}"


def test_validate_does_not_import_airflow_or_the_sdks():
    code = ("import sys; from aof_airflow.cli import main; "
            "rc = main(['validate', '-f', 'dags/flows', '-f', 'dags/agents']); "
            "print(rc, sorted(m for m in ('airflow', 'anthropic', 'openai', 'fastapi') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.stdout.strip().splitlines()[-1] == "0 []", out.stdout + out.stderr


def test_the_lab_commands_come_from_entry_points():
    """`aofctl demo` is the lab's: found through its entry point, not named by the product."""
    modules = command_modules()
    assert modules["aof_lab.cli.demo_commands"] == ("demo",)
    assert {"aof_lab.cli.sandbox_commands", "aof_lab.cli.eval_commands"} <= set(modules)
