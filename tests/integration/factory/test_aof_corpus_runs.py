"""AOF's own flows (../shared/corpora/aof) as Airflow DAGs: every flow that validates is built by the DagBag with no
import error, and runs with `dag.test()` where its tools allow, against the stand-ins: kubectl against the
sandbox cluster, the Slack and PagerDuty stand-ins, and the LLM stand-in as the operator's fallback model.

Prints the counts (documents, validated, built, ran) and, for every flow that did not run to the end, the exact
reason. Refusals that belong to issue 16's trigger/provider part (lane16b: `google:` models, triggers) are
named as such; any other failure of a built flow fails this test.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from aof_lab.sandbox.kube import KubeAPI
from aof_lab.sandbox.slack import SlackWebAPI
from tests.corpora.aof_corpus import ROOT, read_corpus
from tests.fakes.llm_api import FakeLLM
from tests.harness import machine
from tests.harness.in_process import in_process_env

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[3]
RUNNER = Path(__file__).with_name("run_flow.py")
INPUT_DATA = {"items": [{"name": "a", "value": 3}, {"name": "b", "value": 5}]}
# What a flow needs that is not on this machine, so it is built but not run (each checked here)
CANNOT_RUN = {
    **({} if machine.docker_daemon() else {
        "docker-troubleshoot-script": "its Script nodes call `docker`, and no Docker daemon runs on this machine"}),
    **({} if Path("scripts/flow-pr-review.sh").exists() else {
        "github-pr-review": "its Script runs ./scripts/flow-pr-review.sh from AOF's repository, which is code "
                            "(not a sample) and is not in the corpus"}),
}
# A run that stops must stop on a truthful run-time error naming its node: the LLM stand-in answers prose, and a
# Conditional reading `${agent.output.passed}` of prose is refused (never read as an empty string).
RUNTIME_REFUSAL = re.compile(r"\$\{[\w.-]+\}: [\w-]+\.output has no '[\w-]+'")
EVENT = {"event": {"text": "diagnose", "user": "U0HUMAN001", "ts": "1764583200.000100", "channel": "C0PROD0001"}}


def _flat(file: str) -> str:
    return file.replace("/", "__")


@pytest.fixture(scope="module")
def corpus_home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[Any]]:
    """An Airflow home whose dags folder holds aof_flows.py, every corpus flow that validates, and every corpus
    file of agents whose documents all validate (the first definition of each name)."""
    docs = read_corpus()
    home = tmp_path_factory.mktemp("aof-corpus")
    dags = home / "dags"
    (dags / "flows").mkdir(parents=True)
    (dags / "agents").mkdir()
    shutil.copy(REPO / "dags/aof_flows.py", dags / "aof_flows.py")
    by_file: dict[str, list[Any]] = {}
    for d in docs:
        by_file.setdefault(d.file, []).append(d)
    names: set[str] = set()
    for file, ds in sorted(by_file.items()):
        if not all(d.validated for d in ds) or len(ds) != _documents_in(file):
            continue
        if any(d.name in names for d in ds if d.kind == "Agent"):
            continue  # another example of the same agent name (docs-tests repeat the quickstart's)
        names.update(d.name for d in ds if d.kind == "Agent")
        folder = "flows" if any(d.kind == "AgentFlow" for d in ds) else "agents"
        shutil.copy(ROOT / file, dags / folder / _flat(file))
    (home / "memory").mkdir()
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=in_process_env(home, dags), check=True,
                   capture_output=True, timeout=300)
    return home, dags, docs


def _documents_in(file: str) -> int:
    import yaml

    return sum(1 for d in yaml.safe_load_all((ROOT / file).read_text()) if d is not None)


def _run(home: Path, dags: Path, dag_id: str, conf: dict[str, Any], env_extra: dict[str, str],
         tmp: Path) -> dict[str, Any]:
    env = in_process_env(home, dags, **env_extra)
    conf_path, out_path = tmp / f"{dag_id}.conf.json", tmp / f"{dag_id}.out.json"
    conf_path.write_text(json.dumps(conf))
    proc = subprocess.run([sys.executable, str(RUNNER), dag_id, str(conf_path), str(out_path)], env=env,
                          capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0 and out_path.exists(), proc.stderr[-4000:]
    out = json.loads(out_path.read_text())
    out["log"] = proc.stdout + proc.stderr
    return out


def test_aof_corpus_flows_build_and_run(corpus_home, tmp_path, capsys):
    home, dags, docs = corpus_home
    flows = [d for d in docs if d.kind == "AgentFlow"]
    valid = sorted(d.name for d in flows if d.validated)
    Path("/tmp/input-data.json").write_text(json.dumps(INPUT_DATA))  # the file data-pipeline's first node reads
    report: dict[str, str] = {}
    built: list[str] = []
    with KubeAPI("high-memory-api") as kube, SlackWebAPI() as slack, FakeLLM() as llm:
        llm.reply("", "## Summary\nEverything inspected looks healthy (LLM stand-in's scripted answer).")
        env = {
            **llm.env(),
            "AOF_FALLBACK_MODELS": "openai:gpt-4o-mini",
            "KUBECONFIG": str(kube.kubeconfig(tmp_path / "kubeconfig")),
            "AIRFLOW_CONN_SLACK_DEFAULT": json.dumps({"conn_type": "slack", "password": slack.token,
                                                      "extra": {"base_url": slack.base_url}}),
        }
        for name in valid:
            if name in CANNOT_RUN:
                continue
            out = _run(home, dags, name, EVENT, env, tmp_path)
            assert out["import_errors"] == {}, out["import_errors"]
            built = out["dag_ids"]
            failed = sorted(t for t, s in out["tasks"].items() if s == "failed")
            if out["state"] == "success":
                report[name] = "ran: success (" + ", ".join(f"{t}={s}" for t, s in sorted(out["tasks"].items())) + ")"
            else:
                why = RUNTIME_REFUSAL.search(out["log"])
                assert failed and why, (name, out["tasks"], out["log"][-6000:])
                ok = sorted(t for t, s in out["tasks"].items() if s == "success")
                report[name] = f"ran until {', '.join(failed)}: {why.group(0)}; succeeded before it: {', '.join(ok)}"
        if not built:
            built = _run(home, dags, "none", {}, env, tmp_path)["dag_ids"]
    for name, why in CANNOT_RUN.items():
        report[name] = f"built, not run: {why}"
    ran = [n for n, r in report.items() if r.startswith("ran: success")]
    with capsys.disabled():
        print(f"\nAOF corpus flows: documents {len(flows)}, AOF accepts {sum(d.aof_accepts for d in flows)}, "
              f"validated {len(valid)}, built {len([n for n in valid if n in built])} (DagBag import errors: 0), "
              f"ran to the end {len(ran)}")
        for name in valid:
            print(f"  {name}: {report[name]}")
        for d in flows:
            if not d.validated:
                print(f"  {d.file}: {d.refusal[:200]}")
    assert set(valid) <= set(built)
    assert sorted(report) == valid
    assert "succeeded before it" not in report.get("k8s-health-check", "") or "get-pods" in report["k8s-health-check"]
