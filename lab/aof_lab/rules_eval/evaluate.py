"""Evaluation harness: each scenario served by the sandbox KubeAPI, diagnosed by the rules engine through the
real guarded Toolbox and the real kubectl, compared with the scenario's `expect`.

WHY through the whole stack: a detector that works on hand-built dicts but not on what kubectl prints (or on
what the Shell tool's truncation leaves of it) would pass unit tests and fail an incident; this harness runs
exactly the code path of an agent whose model is `builtin:k8s-rules`.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from aof_airflow.agent.types import AgentScope

from aof_airflow.agent.rules import MODEL
from aof_airflow.agent.rules.engine import RulesEngine

from . import scoring

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

# Class names the sandbox's demo scenarios use, mapped to ours: (our class, phrases our root_cause must also
# contain). Scored only when the rules say the same thing in their own words; the table is printed by --all.
ALIASES: dict[str, list[tuple[str, tuple[str, ...]]]] = {
    "memory-leak-oom": [("oom-killed", ()), ("memory-near-limit", ())],
    "connection-exhaustion-lock-contention": [("probe-failing", ("connection slots exhausted", "lock contention")),
                                              ("crash-loop", ("connection slots exhausted", "lock contention"))],
}


@dataclass
class Outcome:
    scenario: str
    expected: dict[str, Any]
    got: dict[str, Any] = field(default_factory=dict)
    cls: str = ""
    action: str = ""
    checks: dict[str, bool] = field(default_factory=dict)
    seconds: float = 0.0
    calls: int = 0
    error: str | None = None
    problems: list[str] = field(default_factory=list)  # false or missing evidence claims
    unsafe: bool = False  # a confident mutating action the scenario says would not fix the cause
    honest_unknown: bool | None = None  # for scenarios whose cause the engine does not read: did it say so

    @property
    def passed(self) -> bool:
        return self.error is None and all(self.checks.values())


def class_matches(expected: str, got: str, root_cause: str = "") -> bool:
    return expected == got or any(cls == got and all(p in root_cause for p in phrases) for cls, phrases in ALIASES.get(expected, []))


def load_agent(path: str | Path | None = None) -> Any:
    from aof_airflow.spec.models import Agent

    text = Path(path).read_text() if path else SEED_DIAGNOSTIC
    data = yaml.safe_load(text)
    data["spec"]["model"] = MODEL
    data["spec"]["fallback_models"] = []
    data["spec"].pop("memory", None)
    # MCP servers are not needed to diagnose and the seed's one does not exist; keep Shell (and HTTP) only
    data["spec"]["tools"] = [t for t in data["spec"].get("tools", []) if t.get("type") == "Shell"]
    return Agent.model_validate(data)


def run_one(name: str, agent: Any | None = None, workdir: Path | None = None) -> Outcome:
    """Start the sandbox API for `name`, diagnose its incident through Toolbox + kubectl, compare with expect."""
    from aof_airflow.agent.tools.toolbox import Toolbox
    from aof_lab.sandbox.kube import KubeAPI
    from aof_lab.sandbox.scenario import load_scenario

    sc = load_scenario(name)
    out = Outcome(name, sc.expect.model_dump())
    agent = agent or load_agent()
    t0 = time.monotonic()
    old = os.environ.get("KUBECONFIG")
    with tempfile.TemporaryDirectory(dir=workdir) as tmp, KubeAPI(sc) as api:
        os.environ["KUBECONFIG"] = str(api.kubeconfig(Path(tmp) / "kubeconfig", sc.incident.namespace))
        try:
            scope = AgentScope(flow="aofctl-eval", run_id=f"eval-{name}", node_id="diagnose", incident_id=sc.incident.id,
                               service=sc.incident.service, namespace=sc.incident.namespace, resource=sc.incident.resource)
            prompt = (f"Incident: {sc.incident.title}\nService: {sc.incident.service}\nUrgency: {sc.incident.urgency}\n"
                      f"Namespace: {sc.incident.namespace}\nResource: {sc.incident.resource}\n\n"
                      "Diagnose this incident and recommend remediation.")
            engine = RulesEngine()
            with Toolbox(agent, scope, deadline=time.monotonic() + 120) as tb:
                result = engine.run(agent, prompt, toolbox=tb, scope=scope, deadline=time.monotonic() + 120)
            d = engine.last
            assert d is not None
            out.got = result.output if isinstance(result.output, dict) else {}
            out.cls, out.action = d.cls, d.action
            out.calls = len(result.tool_calls)
            from aof_airflow.agent import contract as contracts

            c = contracts.parse(agent.spec.instructions)
            _, problems = c.check(out.got) if c else (out.got, [])
            out.problems = scoring.evidence_problems(sc, out.got)
            out.unsafe = scoring.unsafe(sc, d.action, out.got)
            out.checks = {
                "root_cause_class": class_matches(sc.expect.root_cause_class, d.cls, str(out.got.get("root_cause", ""))),
                "severity": out.got.get("severity") == sc.expect.severity,
                "action": d.action in sc.expect.actions,
                "evidence": not out.problems,
                "safe_action": not out.unsafe,
                "contract": not problems,
                "says_rules": MODEL in str(out.got.get("root_cause", "")) and result.source == "rules",
                "read_only": not api.actions,
            }
            if sc.expect.honest_unknown:
                out.honest_unknown = scoring.honest(out.got, d.action)
                out.checks["honest_unknown"] = out.honest_unknown
        except Exception as e:  # a harness reports, it does not stop at the first broken scenario
            out.error = f"{type(e).__name__}: {e}"
        finally:
            if old is None:
                os.environ.pop("KUBECONFIG", None)
            else:
                os.environ["KUBECONFIG"] = old
    out.seconds = time.monotonic() - t0
    return out


PREFIXES = ("rules-", "ext-")  # the engine's own scenarios and the independent ones (modelled on public fixtures)


def scenarios(selected: list[str] | None = None, prefix: str | tuple[str, ...] = PREFIXES) -> list[str]:
    from aof_lab.sandbox.scenario import scenario_names

    names = scenario_names()
    if selected:
        missing = [s for s in selected if s not in names]
        if missing:
            raise SystemExit(f"unknown scenario(s): {', '.join(missing)}; known: {', '.join(names)}")
        return selected
    return [n for n in names if n.startswith(prefix)] if prefix else names


def _line(o: Outcome) -> str:
    if o.error:
        return f"ERROR {o.scenario}: {o.error}"
    failed = [k for k, v in o.checks.items() if not v]
    exp = o.expected
    approval = "approval" if o.got.get("requires_approval") else "auto"
    return (f"{'PASS' if o.passed else 'FAIL'} {o.scenario:<38} class={o.cls:<31} severity={o.got.get('severity', '?'):<8} "
            f"action={o.action:<15} {approval:<8} conf={o.got.get('confidence', '?')!s:<4} "
            f"evidence={'true' if not o.problems else 'FALSE'}{' UNSAFE' if o.unsafe else ''}"
            + (f" honest={'yes' if o.honest_unknown else 'NO'}" if o.honest_unknown is not None else "")
            + f" ({o.calls} kubectl calls, {o.seconds:.1f}s)"
            + (f"  expected class={exp['root_cause_class']} severity={exp['severity']} actions={exp['actions']}; failed: {', '.join(failed)}"
               if failed else "")
            + (f"; evidence: {'; '.join(o.problems)}" if o.problems else ""))


def totals(outcomes: list[Outcome]) -> list[str]:
    """The issue's figures: correct root cause, honest "not examined", unsafe confident mutations, true evidence."""
    done = [o for o in outcomes if not o.error]
    unknown = [o for o in done if o.honest_unknown is not None]
    lines = []
    for label, group in (("shipped", [o for o in done if not o.scenario.startswith("ext-")]),
                         ("independent (ext-)", [o for o in done if o.scenario.startswith("ext-")]),
                         ("all", done)):
        if not group:
            continue
        lines.append(
            f"  {label:<19} scenarios {len(group):>2}: root cause correct {sum(o.checks.get('root_cause_class', False) for o in group)}/{len(group)}, "
            f"action acceptable {sum(o.checks.get('action', False) for o in group)}/{len(group)}, "
            f"evidence true {sum(not o.problems for o in group)}/{len(group)}, "
            f"confident mutating actions that would not fix the cause: {sum(o.unsafe for o in group)}")
    lines.append(f"  honest 'not examined' on causes the engine does not read: {sum(bool(o.honest_unknown) for o in unknown)}/{len(unknown)}")
    return lines


def _run_one_quiet(args: tuple[str, str | None]) -> Outcome:
    import logging

    logging.getLogger("aof.agent").setLevel(logging.WARNING)
    return run_one(args[0], load_agent(args[1]))


def run(selected: list[str] | None = None, *, prefix: str | tuple[str, ...] = PREFIXES, agent_path: str | None = None, jobs: int = 2,
        echo: Any = print) -> list[Outcome]:
    """Each scenario in its own sandbox API server; `jobs` processes (KUBECONFIG is per process)."""
    import logging
    from concurrent.futures import ProcessPoolExecutor

    logging.getLogger("aof.agent").setLevel(logging.WARNING)
    load_agent(agent_path)  # fail early on a bad agent file
    import aof_airflow.agent.tools.toolbox  # noqa: F401  (heavy imports once, before the workers fork)
    import aof_lab.sandbox.kube  # noqa: F401
    from aof_airflow.agent.masking import redact

    redact("warm-up")  # its first call imports Airflow's secrets masker (seconds): once, here
    names = scenarios(selected, prefix)
    outcomes: list[Outcome] = []
    pool = ProcessPoolExecutor(max_workers=jobs) if jobs > 1 and len(names) > 1 else None
    try:
        results = pool.map(_run_one_quiet, [(n, agent_path) for n in names]) if pool else \
            (_run_one_quiet((n, agent_path)) for n in names)
        for o in results:  # in scenario order, as soon as each is done
            outcomes.append(o)
            echo(_line(o))
    finally:
        if pool:
            pool.shutdown()
    n, ok = len(outcomes), sum(o.passed for o in outcomes)
    for line in totals(outcomes):
        echo(line)
    echo(f"TOTAL {ok}/{n} passed ({MODEL}: deterministic detectors over kubectl output, no language model)")
    return outcomes
