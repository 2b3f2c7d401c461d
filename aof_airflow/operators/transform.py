"""Transform node: a bash script whose `export`s become flow variables (docs/architecture.md, "Values never become code").

Flow values reach the script only as variables (render_shell turns each `${...}` into a reference to one),
so an incident titled `"; rm -rf / #` or `$(curl ...)` stays a string. They travel in a file, not in the
process's environment: Linux refuses an environment string over 128 KiB (MAX_ARG_STRLEN) and a whole
environment over ARG_MAX, and a PagerDuty title or custom details can be larger (up to 512 KB). The wrapper
reads the file with bash's `read -d ''` (NUL-separated name, flag, value) and sets each value with
`printf -v`, so no value is ever parsed as code. A value that fits (`EXPORT_MAX`, within `EXPORT_TOTAL`) is
also exported to the programs the script starts; a larger one is a shell variable of the script only (the
kernel would refuse to start any program with it in the environment), and so is a large value the script
itself exports (`export` is wrapped to drop the export flag of such a value, after exporting it): pipe it
to a program with `printf '%s' "$TITLE" | jq -R .`. The exports are read back from the same bash process by
an EXIT trap that writes every exported variable, and every large one, with builtins only (NUL-separated):
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
# bash's own variables: a flow variable of that name would change how the wrapper or the script runs
BASH_OWN = re.compile(r"^(BASH.*|SHELLOPTS|IFS|UID|EUID|PPID|PS4|ENV|GLOBIGNORE|CDPATH|__aof_.*|__AOF_.*)$")
MAX_LOG = 4000
EXPORT_MAX = 64 * 1024  # bytes of one exported `NAME=value`; Linux's MAX_ARG_STRLEN is 128 KiB
EXPORT_TOTAL = 1024 * 1024  # bytes of all exported values; ARG_MAX is usually 2 MiB (stack / 4), args included

# $1: where to dump the exports, $2: the script, $3: the values. `.` keeps the script in this shell, so the
# EXIT trap sees its exports. Only builtins run before the script: a large value is never in an exec's env.
WRAPPER = r"""
readonly __AOF_DUMP="$1" __AOF_SCRIPT="$2" __AOF_VALUES="$3" __AOF_EXPORT_MAX=%(export_max)d
__aof_big=()
while IFS= read -r -d '' __aof_n && IFS= read -r -d '' __aof_x && IFS= read -r -d '' __aof_v; do
  printf -v "$__aof_n" '%%s' "$__aof_v"
  if [[ $__aof_x == x ]]; then builtin export "$__aof_n"; else __aof_big+=("$__aof_n"); fi
done < "$__AOF_VALUES"
unset __aof_n __aof_x __aof_v
export() {
  builtin export "$@" || return
  local __aof_a __aof_v LC_ALL=C  # C: ${#v} counts bytes
  for __aof_a in "$@"; do
    [[ $__aof_a == -* ]] && return 0
    __aof_a="${__aof_a%%%%=*}"
    __aof_v="${!__aof_a-}"
    if (( ${#__aof_a} + ${#__aof_v} + 2 > __AOF_EXPORT_MAX )); then declare -g +x "$__aof_a"; __aof_big+=("$__aof_a"); fi
  done
}
__aof_dump() {
  local __aof_e
  for __aof_e in $(compgen -e) "${__aof_big[@]}"; do printf '%%s=%%s\0' "$__aof_e" "${!__aof_e-}"; done > "$__AOF_DUMP"
}
trap __aof_dump EXIT
set --
. "$__AOF_SCRIPT"
""" % {"export_max": EXPORT_MAX}


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


def values_file(values: dict[str, str]) -> bytes:
    """`values` as the wrapper reads them: name, `x` (export it) or `-` (a shell variable only), value; NUL after
    each. Exported while each fits EXPORT_MAX and all fit EXPORT_TOTAL, smallest first."""
    out: list[bytes] = []
    total = 0
    for name, value in sorted(values.items(), key=lambda kv: len(kv[1])):
        data = value.replace("\0", "\ufffd").encode("utf-8", "replace")
        size = len(name) + len(data) + 2
        export = size <= EXPORT_MAX and total + size <= EXPORT_TOTAL
        total += size if export else 0
        out.append(b"%s\0%s\0%s\0" % (name.encode(), b"x" if export else b"-", data))
    return b"".join(out)


def run_script(script: str, values: dict[str, str], timeout: float,
               cwd: str | None = None) -> tuple[int, str, str, dict[str, str]]:
    """Run `script` with bash and `values` as its variables (in `cwd`, else a fresh folder);
    (exit code, stdout, stderr, exports). The process's own environment is only `safe_env()`."""
    base = safe_env()
    values = {k: v for k, v in values.items() if VAR_NAME.match(k) and not BASH_OWN.match(k) and k not in SAFE_ENV}
    with tempfile.TemporaryDirectory(prefix="aof-transform-") as tmp:
        script_path, dump_path, values_path = Path(tmp, "script.sh"), Path(tmp, "env.dump"), Path(tmp, "values")
        script_path.write_text(script, encoding="utf-8")
        values_path.write_bytes(values_file(values))
        proc = subprocess.Popen(
            ["bash", "--noprofile", "--norc", "-c", WRAPPER, "aof-transform", str(dump_path), str(script_path),
             str(values_path)],
            env=base, cwd=cwd or tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
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
            exported_variables({**base, **values}, dump))


def _tail(text: str) -> str:
    return text if len(text) <= MAX_LOG else f"...[{len(text) - MAX_LOG} chars cut]...\n" + text[-MAX_LOG:]


class TransformOperator(NodeOperator):
    """Runs a Transform's bash `script` with the flow's values as variables; its exports are the output.

    :param flow_name: the flow (DAG) the node belongs to
    :param node: the node's spec: `script`, `timeout_seconds`
    :param ancestors: the node ids whose outputs its `${...}` may read
    :param transforms: the ancestor Transforms whose exports are its flow variables, in order
    :param decides: the children whose conditions its output decides
    :param wiring: spec.context, `${previous.output}` and the flow's log settings
    """

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
        code, out, err, exported = run_script(shell.script, {**values, **shell.env}, timeout,
                                              cwd=cwd or self.wiring.context.get("working_dir"))
        if out.strip():
            self.log.info("stdout:\n%s", _tail(out))
        if err.strip():
            self.log.warning("stderr:\n%s", _tail(err))
        return code, out, err, exported
