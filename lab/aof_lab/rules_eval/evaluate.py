"""Evaluation harness behind `aofctl eval`: each scenario served by the sandbox KubeAPI, diagnosed by an agent
with ITS OWN model (`anthropic:`, `openai:`, `google:` or `builtin:k8s-rules`) through `run_agent` -- the
runtime a flow's Agent node calls, with the guarded Toolbox and the real kubectl -- and scored on one sheet
(`sheet.py`) from the answer's output contract only.

WHY through the whole stack: a diagnostician that works on hand-built dicts but not on what kubectl prints (or
on what the Shell tool's truncation leaves of it) would pass unit tests and fail an incident; and a team that
holds an API key can measure the very agent it will deploy before trusting it.

An eval never changes the cluster: the agent's Shell tools keep their read verbs only, shadow mode is on (any
change would be a server dry run), its MCP and HTTP tools are not offered (they could reach beyond the
sandbox), `kubernetes_default` is not consulted (the sandbox's kubeconfig is), and the sheet checks that the
sandbox recorded no change. Memory is off (one scenario must not remember another) and the model is the
agent's own: an answer from a fallback model is reported as an error, never scored as the agent's.
"""

from __future__ import annotations

import os
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import yaml

from aof_airflow.agent.types import AgentScope
from aof_airflow.spec.models import Agent
from aof_lab.sandbox.scenario import Scenario

from . import scoring
from .sheet import BUILTIN, Outcome, as_json, line, markdown, score, totals_lines

SEED_DIAGNOSTIC = """\
apiVersion: aof.dev/v1
kind: Agent
metadata: {name: incident-diagnostic, labels: {purpose: diagnostics}}
spec:
  model: builtin:k8s-rules
  instructions: |
    You are an expert SRE performing incident diagnostics.
    Output format:
    ```json
    {
      "severity": "critical|high|medium|low",
      "root_cause": "Brief description",
      "affected_components": ["pod-name", "service-name"],
      "impact": "User-facing impact description",
      "recommended_action": "Specific remediation step",
      "requires_approval": true|false,
      "confidence": 0.0-1.0
    }
    ```
  tools:
    - type: Shell
      config: {allowed_commands: [kubectl], timeout_seconds: 30}
"""
CONTRACT_FIELDS = ("severity", "root_cause", "affected_components", "impact", "recommended_action", "requires_approval", "confidence")
PREFIXES = ("rules-", "ext-")  # the engine's own scenarios and the independent ones (modelled on public fixtures)
NO_CONNECTION = "aofctl_eval_sandbox_only"  # a Connection id nobody defines: the sandbox's KUBECONFIG applies
DEFAULT_TIMEOUT = 300.0


class EvalInputError(ValueError):
    """A bad agent file, scenario file or folder, or no key for the agent's model: the message says which and
    how to fix it (`aofctl eval` prints it and exits 2)."""


def load_agent(path: str | Path | None = None) -> Agent:
    """The agent as the product reads it (AOF spellings included), made safe to evaluate: read-only kubectl,
    Shell tools only, no memory, no fallback model."""
    from aof_airflow.agent import contract as contracts
    from aof_airflow.agent.tools.kubectl import READ_VERBS
    from aof_airflow.spec.loader import load_paths
    from aof_airflow.spec.models import ShellTool

    if path is None:
        agent = Agent.model_validate(yaml.safe_load(SEED_DIAGNOSTIC))
    else:
        if not Path(path).is_file():
            raise EvalInputError(f"--agent {path}: no such file (an Agent YAML, e.g. dags/agents/diagnostic-agent.yaml)")
        loaded = load_paths([path], check_graph=False)
        if loaded.problems:
            raise EvalInputError("\n".join(str(p) for p in loaded.problems))
        if len(loaded.agents) != 1:
            raise EvalInputError(f"--agent {path}: expected exactly one `kind: Agent` document, found {len(loaded.agents)}")
        (agent,) = loaded.agents.values()
    contract = contracts.parse(agent.spec.instructions)
    missing = [f for f in CONTRACT_FIELDS if contract is None or f not in contract.fields]
    if missing:
        raise EvalInputError(f"agent {agent.name!r}{f' ({path})' if path else ''}: its instructions' Output format "
                             f"has no {', '.join(missing)}; aofctl eval scores the diagnostic contract "
                             f"({', '.join(CONTRACT_FIELDS)})")
    shells = [t.model_copy(update={"config": t.config.model_copy(update={
        "allowed_verbs": sorted(set(t.config.allowed_verbs if t.config.allowed_verbs is not None else READ_VERBS) & READ_VERBS)})})
        for t in agent.spec.tools if isinstance(t, ShellTool)]
    spec = agent.spec.model_copy(update={"tools": shells, "mcp_servers": [], "memory": None, "fallback_models": []})
    return agent.model_copy(update={"spec": spec})


# ----------------------------------------------------------------------------------------- scenarios
def scenarios(selected: list[str] | None = None, prefix: str | tuple[str, ...] = PREFIXES) -> list[str]:
    """Sandbox scenario names: `selected` (checked), else those starting with `prefix` ("" = all)."""
    from aof_lab.sandbox.scenario import scenario_names

    names = scenario_names()
    if selected:
        missing = [s for s in selected if s not in names]
        if missing:
            raise EvalInputError(f"unknown scenario(s): {', '.join(missing)}; known: {', '.join(names)}")
        return selected
    return [n for n in names if n.startswith(prefix)] if prefix else names


def scenario_files(names: list[str] | None = None, paths: list[str] | None = None, *,
                   prefix: str | tuple[str, ...] = PREFIXES) -> list[tuple[Path, Scenario]]:
    """The scenarios to evaluate: sandbox scenarios by name, plus every file or folder (its *.yaml) in `paths`;
    with neither, the sandbox's scenarios starting with `prefix`. Each is loaded here, once, before any runs."""
    from pydantic import ValidationError

    from aof_lab.sandbox.scenario import SCENARIO_DIR, load_scenario

    files = [SCENARIO_DIR / f"{n}.yaml" for n in scenarios(names, prefix)] if names or not paths or not prefix else []
    for p in paths or []:
        path = Path(p)
        if path.is_dir():
            found = sorted([*path.glob("*.yaml"), *path.glob("*.yml")])
            if not found:
                raise EvalInputError(f"--scenarios {p}: no *.yaml scenario files in this folder")
            files += found
        elif path.is_file():
            files.append(path)
        else:
            raise EvalInputError(f"--scenarios {p}: no such file or folder")
    loaded = []
    for f in dict.fromkeys(f.resolve() for f in files):
        try:
            loaded.append((f, load_scenario(f)))
        except ValidationError as e:
            raise EvalInputError(f"scenario file {f} does not fit the scenario schema (lab/aof_lab/sandbox/scenario.py): " + "; ".join(
                f"{'.'.join(map(str, err['loc'])) or 'top level'}: {err['msg']}" for err in e.errors())) from None
        except Exception as e:
            raise EvalInputError(f"scenario file {f}: {e}") from None
    return loaded


def prompt_for(sc: Any) -> str:
    inc = sc.incident
    return (f"Incident: {inc.title}\nService: {inc.service}\nUrgency: {inc.urgency}\n"
            f"Namespace: {inc.namespace}\nResource: {inc.resource}\n\nDiagnose this incident and recommend remediation.")


@contextmanager
def _eval_env(kubeconfig: Path, model: str) -> Iterator[None]:
    """The sandbox's kubeconfig, no Connection to a real cluster, shadow mode, no operator fallback model."""
    values = {"KUBECONFIG": str(kubeconfig), "AOF_KUBERNETES_CONN_ID": NO_CONNECTION, "AOF_SHADOW_MODE": "true",
              "AOF_FALLBACK_MODELS": model}  # the chain de-duplicates: the agent's model only
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_one(ref: str | Path | Scenario, agent: Agent | None = None, workdir: Path | None = None,
            timeout: float = DEFAULT_TIMEOUT, path: str = "") -> Outcome:
    """Start the sandbox API for the scenario `ref` (loaded, name or file), ask the agent through `run_agent`, score."""
    from aof_airflow.agent.runtime import run_agent
    from aof_airflow.agent.types import AgentError, ProviderError
    from aof_lab.sandbox.kube import KubeAPI
    from aof_lab.sandbox.scenario import load_scenario

    sc = ref if isinstance(ref, Scenario) else load_scenario(ref)
    agent = agent or load_agent()
    out = Outcome(sc.name, path or str(ref if not isinstance(ref, Scenario) else sc.name), sc.expect.model_dump(), model=agent.spec.model)
    t0 = time.monotonic()
    got: dict[str, Any] | None = None
    problems: list[str] = []
    try:
        with tempfile.TemporaryDirectory(dir=workdir) as tmp, KubeAPI(sc) as api, \
                _eval_env(api.kubeconfig(Path(tmp) / "kubeconfig", sc.incident.namespace), agent.spec.model):
            scope = AgentScope(flow="aofctl-eval", run_id=f"eval-{sc.name}", node_id="diagnose", incident_id=sc.incident.id,
                               service=sc.incident.service, namespace=sc.incident.namespace, resource=sc.incident.resource)
            try:
                result = run_agent(agent, prompt_for(sc), scope=scope, timeout_seconds=timeout)
            except ProviderError as e:  # the model could not be asked: nothing to score
                out.error = f"{type(e).__name__}: {e}"
            except AgentError as e:  # it answered, but not in its contract (after the repair turn) or not in time
                problems = [str(e).split("\n", 1)[0]]
            else:
                out.answered_by, out.notes = result.model, list(result.notes)
                out.calls = len(result.tool_calls)
                out.refused = sum(bool(c.refused) for c in result.tool_calls)
                if result.model != agent.spec.model:
                    out.error = f"answered by {result.model}, not the agent's model {agent.spec.model}: {'; '.join(result.notes)}"
                elif isinstance(result.output, dict):
                    got = result.output
                else:
                    problems = ["the answer is not a JSON object"]
            out.writes = [f"{m} {p}" for m, p in api.requests if m not in ("GET", "HEAD") and "dryRun=All" not in p]
            out.read_only = not api.actions and not out.writes
    except Exception as e:  # a harness reports, it does not stop at the first broken scenario
        out.error = f"{type(e).__name__}: {e}"
    out.seconds = time.monotonic() - t0
    if out.error is None:
        score(out, sc, got, problems)
        if got is not None and any(n.startswith("[aof guard]") for n in out.notes):  # what the model itself said
            out.guard_stopped = not out.unsafe and scoring.unsafe(sc, out.action, {**got, "requires_approval": False})
    return out


def _run_one_quiet(args: tuple[Scenario, str, str | None, float]) -> Outcome:
    import logging

    logging.getLogger("aof.agent").setLevel(logging.ERROR)
    sc, path, agent_path, timeout = args
    return run_one(sc, load_agent(agent_path), timeout=timeout, path=path)


def preflight(agent: Agent) -> None:
    """Fail once, before any sandbox starts, when the agent's model has no credentials."""
    from aof_airflow.agent.engines import get_engine
    from aof_airflow.agent.engines import preflight as key_check
    from aof_airflow.agent.types import AgentError

    try:
        key_check(agent.spec.model, agent)
        get_engine(agent.spec.model)
    except AgentError as e:
        raise EvalInputError(f"agent {agent.name!r}: {e}") from None


def run(selected: list[str] | None = None, *, prefix: str | tuple[str, ...] = PREFIXES, paths: list[str] | None = None,
        agent_path: str | None = None, jobs: int = 2, timeout: float = DEFAULT_TIMEOUT, json_path: str | None = None,
        as_markdown: bool = False, echo: Any = print) -> list[Outcome]:
    """Each scenario in its own sandbox API server; `jobs` processes (KUBECONFIG is per process)."""
    import json
    import logging
    from concurrent.futures import ProcessPoolExecutor

    logging.getLogger("aof.agent").setLevel(logging.ERROR)
    agent = load_agent(agent_path)  # fail early on a bad agent file, missing key or scenario file
    preflight(agent)
    files = scenario_files(selected, paths, prefix=prefix)
    import aof_airflow.agent.runtime  # noqa: F401  (heavy imports once, before the workers fork)
    import aof_lab.sandbox.kube  # noqa: F401
    from aof_airflow.agent.engines import get_engine
    from aof_airflow.agent.masking import redact

    get_engine(agent.spec.model)  # the engine's module too
    redact("warm-up")  # its first call imports Airflow's secrets masker (seconds): once, here
    echo(f"aofctl eval: agent {agent.name!r} ({agent_path or 'the seed diagnostic agent'}), model {agent.spec.model}"
         + (" (deterministic detectors over kubectl output, no language model)" if agent.spec.model == BUILTIN else "")
         + f", {len(files)} scenario(s), {jobs} job(s); read-only kubectl against a sandbox API per scenario")
    outcomes: list[Outcome] = []
    work = [(sc, str(f), agent_path, timeout) for f, sc in files]
    pool = ProcessPoolExecutor(max_workers=jobs) if jobs > 1 and len(files) > 1 else None
    try:
        results = pool.map(_run_one_quiet, work) if pool else (_run_one_quiet(w) for w in work)
        for o in results:  # in scenario order, as soon as each is done
            outcomes.append(o)
            echo(line(o))
    finally:
        if pool:
            pool.shutdown()
    for ln in totals_lines(outcomes, agent.spec.model):
        echo(ln)
    if as_markdown:
        echo(markdown(outcomes, agent.spec.model))
    if json_path:
        Path(json_path).write_text(json.dumps(as_json(outcomes, agent.spec.model, agent_path or "seed diagnostic agent"), indent=2, default=str))
    return outcomes
