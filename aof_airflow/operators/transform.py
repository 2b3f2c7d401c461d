"""Transform node: a bash script whose `export`s become flow variables (docs/architecture.md, "Values never become code").

Flow values reach the script only as environment variables (render_shell turns each `${...}` into a
reference to one), so an incident titled `"; rm -rf / #` or `$(curl ...)` stays a string. The exports are
read back from the same bash process: an EXIT trap dumps its environment (NUL-separated) to a file, and
whatever the script added or changed is the node's output.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from airflow.sdk import Context
from airflow.sdk.exceptions import AirflowException

from aof_airflow.operators.base import NodeOperator, render_or_fail
from aof_airflow.spec.models import TransformNode
from aof_airflow.subprocesses import SAFE_ENV, kill_group, safe_env

if TYPE_CHECKING:
    from aof_airflow.templating import TemplateContext

VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SHELL_NOISE = {"PWD", "OLDPWD", "SHLVL", "_"}
MAX_LOG = 4000

# $1: where to dump the env, $2: the script. `.` keeps the script in this shell so the trap sees its exports.
WRAPPER = 'trap \'env -0 > "$1"\' EXIT\n. "$2"\n'


def exported_variables(before: dict[str, str], after_dump: bytes) -> dict[str, str]:
    """Variables the script exported: new or changed entries of its final environment."""
    out: dict[str, str] = {}
    for item in after_dump.split(b"\0"):
        if not item or b"=" not in item:
            continue
        k, _, v = item.decode("utf-8", "replace").partition("=")
        if k in SHELL_NOISE or k.startswith("AOF_V_") or before.get(k) == v:
            continue
        out[k] = v
    return out


def run_script(script: str, env: dict[str, str], timeout: float,
               cwd: str | None = None) -> tuple[int, str, str, dict[str, str]]:
    """Run `script` with bash and `env` (in `cwd`, else a fresh folder); (exit code, stdout, stderr, exports)."""
    full_env = safe_env(env)
    with tempfile.TemporaryDirectory(prefix="aof-transform-") as tmp:
        script_path, dump_path = Path(tmp, "script.sh"), Path(tmp, "env.dump")
        script_path.write_text(script, encoding="utf-8")
        proc = subprocess.Popen(
            ["bash", "--noprofile", "--norc", "-c", WRAPPER, "aof-transform", str(dump_path), str(script_path)],
            env=full_env, cwd=cwd or tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(proc)
            proc.communicate()
            raise AirflowException(f"script did not finish within {timeout:g}s (killed)")
        dump = dump_path.read_bytes() if dump_path.exists() else b""
    return (proc.returncode, stdout.decode("utf-8", "replace"), stderr.decode("utf-8", "replace"),
            exported_variables(full_env, dump))


def _tail(text: str) -> str:
    return text if len(text) <= MAX_LOG else f"...[{len(text) - MAX_LOG} chars cut]...\n" + text[-MAX_LOG:]


class TransformOperator(NodeOperator):
    node_types = ("Transform",)
    ui_color = "#fff4d6"
    node: TransformNode

    def run(self, tctx: TemplateContext, context: Context) -> dict[str, str]:
        cfg = self.node.config
        code, out, err, exported = self.run_bash(cfg.script, tctx, timeout=cfg.timeout_seconds)
        if code != 0:
            raise AirflowException(f"node {self.node.id!r}: script exited with status {code}: {_tail(err).strip()}")
        self.log.info("exported: %s", ", ".join(sorted(exported)) or "nothing")
        return exported

    def run_bash(self, template: str, tctx: TemplateContext, *, timeout: float, env: dict[str, str] | None = None,
                 cwd: str | None = None) -> tuple[int, str, str, dict[str, str]]:
        """Render `template` for bash (values only as env vars) and run it; stdout/stderr go to the task log.
        Its environment: spec.context's env, then the flow variables (plain env vars, `$INCIDENT_ID` works),
        then `env`, then the placeholders' values, each winning over the one before."""
        from aof_airflow.templating import render_shell  # off the DAG-parse path (test_dag_shape)

        shell = render_or_fail(self.node.id, "script", render_shell, template, tctx)
        values = {**self.wiring.environment(), **self.flow_variables(), **(env or {})}
        safe = {k: v for k, v in values.items() if VAR_NAME.match(k) and k not in SAFE_ENV}
        code, out, err, exported = run_script(shell.script, {**safe, **shell.env}, timeout,
                                              cwd=cwd or self.wiring.context.get("working_dir"))
        if out.strip():
            self.log.info("stdout:\n%s", _tail(out))
        if err.strip():
            self.log.warning("stderr:\n%s", _tail(err))
        return code, out, err, exported
