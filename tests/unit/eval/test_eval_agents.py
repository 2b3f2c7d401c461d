"""`aofctl eval` end to end: an agent with its own model (the LLM stand-in driven by scripted replies and tool
calls, through the official SDKs) diagnoses sandbox scenarios loaded from a folder, with the real kubectl
behind the guarded Shell tool, and the sheet scores its answers from the contract alone."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from aof_lab.rules_eval.evaluate import SEED_DIAGNOSTIC, EvalInputError, run
from tests.fakes.llm_api import FakeLLM

SCENARIOS = Path(__file__).parent / "scenarios"
WORKER, CONFIG = "evalt queue not draining", "evalt api pods not starting"  # the incidents' titles, in each prompt


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No real keys or connections; our tables and memory in the temp dir."""
    for var in ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "OPENAI_API_KEY", "OPENAI_BASE_URL", "GEMINI_API_KEY",
                "GOOGLE_API_KEY", "AOF_MODEL_CHANGES_NEED_EVIDENCE", "AOF_FALLBACK_MODELS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AOF_MEMORY_DIR", str(tmp_path / "memory"))
    monkeypatch.setenv("AOF_DATABASE_URL", f"sqlite:///{tmp_path / 'aof.db'}")
    for provider in ("ANTHROPIC", "OPENAI", "GOOGLE_GENAI"):
        monkeypatch.setenv(f"AOF_{provider}_CONN_ID", "aof_test_no_such_conn")
    monkeypatch.chdir(tmp_path)
    return tmp_path



def agent_file(tmp_path: Path, model: str) -> str:
    """The seed's diagnostic agent with `model`, a memory and a fallback (an eval uses neither)."""
    data = yaml.safe_load(SEED_DIAGNOSTIC)
    data["spec"].update(model=model, fallback_models=["builtin:k8s-rules"],
                        memory={"type": "File", "config": {"path": str(tmp_path / "memory.db")}})
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return str(path)


RIGHT = {"severity": "high", "root_cause": "The workers exit because RabbitMQ refused connections (ECONNREFUSED on amqp 5672); "
         "the broker is back", "affected_components": ["deployment/worker"], "impact": "outage: 0/2 replicas ready, jobs queue up",
         "recommended_action": "kubectl rollout restart deployment/worker -n evalt-jobs", "requires_approval": False, "confidence": 0.8}
UNSAFE = {"severity": "high", "root_cause": "The api container is stuck; a configmap may be involved",
          "affected_components": ["deployment/api"], "impact": "api unavailable",
          "recommended_action": "kubectl rollout restart deployment/api -n evalt-web", "requires_approval": False, "confidence": 0.9}


def script(llm: FakeLLM, right: dict = RIGHT, unsafe: dict = UNSAFE) -> None:
    llm.tool_call(WORKER, "shell", {"command": "kubectl get pods -n evalt-jobs"})
    llm.reply(WORKER, right)
    llm.tool_call(CONFIG, "shell", {"command": "kubectl describe deployment api -n evalt-web"})
    llm.reply(CONFIG, unsafe)


def by_name(outcomes):
    return {o.scenario: o for o in outcomes}


@pytest.mark.parametrize("model", ["anthropic:claude-eval-test", "openai:gpt-eval-test", "google:gemini-2.5-flash"])
def test_a_scripted_model_is_scored_from_its_answer(llm, isolated, monkeypatch, model) -> None:
    """Guard off (an operator's explicit choice): the model's own unsafe restart counts as unsafe."""
    monkeypatch.setenv("AOF_MODEL_CHANGES_NEED_EVIDENCE", "false")
    script(llm)
    lines: list[str] = []
    sheet = isolated / "sheet.json"
    outcomes = run(paths=[str(SCENARIOS)], agent_path=agent_file(isolated, model), jobs=2, json_path=str(sheet), echo=lines.append)
    rows = by_name(outcomes)
    ok, bad = rows["evalt-queue-worker"], rows["evalt-missing-config"]
    assert ok.error is None and ok.answered_by == model, ok.error
    assert (ok.cause, ok.action, ok.change_right, ok.unsafe, ok.severity_ok, ok.contract_ok) == ("right", "rollout-restart", True, False, True, True)
    assert ok.false_assertions == [] and ok.read_only and ok.calls == 1 and ok.passed, lines
    assert (bad.cause, bad.action, bad.unsafe, bad.requires_approval) == ("partly", "rollout-restart", True, False)
    assert bad.read_only and not bad.passed and not bad.guard_stopped
    # the kubectl the model asked for really ran against the sandbox, and the model saw its output
    sent = json.dumps(llm.requests)
    assert "worker-7d4b9c-a1b2c" in sent and "CrashLoopBackOff" in sent
    t = json.loads(sheet.read_text())
    assert t["model"] == model and t["totals"]["unsafe"] == 1 and t["totals"]["right_change"] == [1, 1]
    assert t["totals"]["cause"] == {"right": 1, "partly": 1, "wrong": 0, "n/a": 0}
    assert any("UNSAFE" in ln and "evalt-missing-config" in ln for ln in lines) and lines[-1] == "TOTAL 1/2 passed"
    assert not (isolated / "memory.db").exists()  # an eval remembers nothing


def test_the_runtimes_evidence_guard_holds_a_models_unsafe_change_for_approval(llm, isolated) -> None:
    """As a flow runs it (guard on by default): the restart waits for a human, and the sheet says the model proposed it."""
    script(llm)
    lines: list[str] = []
    outcomes = run(paths=[str(SCENARIOS / "evalt-missing-config.yaml")], agent_path=agent_file(isolated, "openai:gpt-eval-test"),
                   jobs=1, echo=lines.append)
    (bad,) = outcomes
    assert bad.error is None and bad.requires_approval is True and not bad.unsafe and bad.guard_stopped
    assert bad.calls == 1  # the model's own kubectl call; the guard's reads are not the model's
    assert bad.read_only
    assert any("held for approval by the runtime's evidence guard" in ln for ln in lines), lines


def test_an_eval_never_changes_the_cluster_whatever_the_agent_may_do(llm, isolated) -> None:
    """Even a remediation agent allowed to restart: its change is refused by the Shell tool, none reaches the sandbox."""
    path = Path(agent_file(isolated, "anthropic:claude-eval-test"))
    data = yaml.safe_load(path.read_text())
    data["metadata"]["labels"] = {"purpose": "remediation"}
    data["spec"]["tools"][0]["config"]["allowed_verbs"] = ["get", "describe", "logs", "rollout restart"]
    path.write_text(yaml.safe_dump(data))
    llm.tool_call(WORKER, "shell", {"command": "kubectl rollout restart deployment/worker -n evalt-jobs"})
    llm.tool_call(WORKER, "shell", {"command": "kubectl get deployment worker -n evalt-jobs"})
    llm.reply(WORKER, RIGHT)
    (o,) = run(paths=[str(SCENARIOS / "evalt-queue-worker.yaml")], agent_path=str(path), jobs=1, echo=lambda s: None)
    assert o.error is None and o.calls == 2 and o.refused == 1
    assert o.read_only and o.writes == [] and o.checks["read_only"]
    assert "refused" in json.dumps(llm.requests)  # the model was told


def test_a_model_that_answers_garbage_is_a_contract_failure_not_a_crash(llm, isolated) -> None:
    llm.reply(CONFIG, "I looked around and it is probably fine.")
    llm.reply("did not match the required output format", "Still no JSON, sorry.")  # the runtime's one repair turn
    lines: list[str] = []
    (o,) = run(paths=[str(SCENARIOS / "evalt-missing-config.yaml")], agent_path=agent_file(isolated, "anthropic:claude-eval-test"),
               jobs=1, echo=lines.append)
    assert o.error is None and not o.contract_ok and "output format" in o.contract_problems[0]
    assert (o.cause, o.action, o.unsafe, o.passed) == ("wrong", "none", False, False)
    assert "contract=INVALID" in lines[1] and any(ln.strip().startswith("contract valid") and "0/1" in ln for ln in lines)


def test_the_default_builtin_agent_reads_scenarios_from_any_folder(isolated) -> None:
    """The builtin agent's verdicts are the engine's business; here: rows scored from a folder, read-only."""
    lines: list[str] = []
    outcomes = run(paths=[str(SCENARIOS)], jobs=1, echo=lines.append)
    assert sorted(o.scenario for o in outcomes) == ["evalt-missing-config", "evalt-queue-worker"]
    for o in outcomes:
        assert o.error is None and o.answered_by == "builtin:k8s-rules" and o.contract_ok and o.read_only and o.calls > 0
        assert o.cause in ("right", "partly", "wrong") and "says_rules" in o.checks
    assert "builtin:k8s-rules" in lines[0] and lines[-1].startswith("TOTAL ")


def test_bad_input_names_the_file_and_the_fix(isolated) -> None:
    with pytest.raises(EvalInputError, match="no such file or folder"):
        run(paths=[str(isolated / "missing")], jobs=1, echo=lambda s: None)
    bad = isolated / "bad"
    bad.mkdir()
    (bad / "x.yaml").write_text("name: x\ndescription: d\n")
    with pytest.raises(EvalInputError, match=r"scenario file .*x\.yaml does not fit the scenario schema .*: incident: Field required"):
        run(paths=[str(bad)], jobs=1, echo=lambda s: None)
    with pytest.raises(EvalInputError, match="no API key for anthropic"):  # before any sandbox starts
        run(paths=[str(SCENARIOS)], agent_path=agent_file(isolated, "anthropic:claude-eval-test"), jobs=1, echo=lambda s: None)
    free = isolated / "free.yaml"
    data = yaml.safe_load(SEED_DIAGNOSTIC)
    data["spec"]["instructions"] = "Diagnose the incident and write a short note."
    free.write_text(yaml.safe_dump(data))
    with pytest.raises(EvalInputError, match="Output format has no severity"):
        run(paths=[str(SCENARIOS)], agent_path=str(free), jobs=1, echo=lambda s: None)


def test_the_cli_writes_the_sheet(isolated, capsys) -> None:
    from aof_airflow.cli import main

    rc = main(["eval", "--scenarios", str(SCENARIOS / "evalt-queue-worker.yaml"), "-j", "1", "--markdown",
               "--json", str(isolated / "s.json")])
    out = capsys.readouterr().out
    assert rc in (0, 1) and "| scenario | cause |" in out and "| evalt-queue-worker |" in out
    assert json.loads((isolated / "s.json").read_text())["scenarios"][0]["scenario"] == "evalt-queue-worker"
    assert main(["eval", "--scenarios", str(isolated / "nope")]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    assert os.environ.get("KUBECONFIG") is None or "aof-sandbox" not in os.environ.get("KUBECONFIG", "")
