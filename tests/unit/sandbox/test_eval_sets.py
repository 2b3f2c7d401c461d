"""Evaluation sets (`lab/aof_lab/eval_sets/<set>/*.yaml`) are scenario files read by path: each must load, name the
public reports it is modelled on, state the true cause, say what every change does, and be served to the real
kubectl. A set measures whether a diagnostician acts where a change is the fix, so at least a third of its
scenarios must have one."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

import aof_lab
from aof_lab.sandbox.kube import KubeAPI
from aof_lab.sandbox.scenario import Scenario, load_scenario

EVAL_SETS = Path(aof_lab.__file__).parent / "eval_sets"
SET_DIRS = sorted(p for p in EVAL_SETS.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))
FILES = sorted(f for d in SET_DIRS for f in d.glob("*.yaml"))
CHANGES = {"rollout-restart", "rollout-undo", "scale", "delete-pod"}


def test_there_is_a_set_and_it_has_files():
    assert SET_DIRS and FILES


def test_the_sandbox_takes_scenarios_by_path():
    with KubeAPI(FILES[0]) as api, KubeAPI(str(FILES[1])) as api2:
        assert set(api.scenarios) == {FILES[0].stem} and set(api2.scenarios) == {FILES[1].stem}


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_scenario_loads_by_path_and_is_complete(path: Path):
    sc = load_scenario(path)
    assert sc.sources, "name the public reports it is modelled on"
    assert sc.expect.cause and all(fact for fact in sc.expect.cause), "state the facts of the true cause"
    assert set(sc.on_action) >= CHANGES, f"on_action must say what each change does, missing {CHANGES - set(sc.on_action)}"
    assert sc.expect.root_cause_class is None, "an independent set does not use the engine's own class names"
    kind = sc.incident.kind
    assert any(o["kind"].lower() == kind and o["metadata"]["name"] == sc.incident.name for o in sc.objects)
    heals = {a for a, o in sc.on_action.items() if o == "heal"}
    if heals:
        assert set(sc.expect.actions) & heals, "an action that heals must be among the acceptable actions"
    else:
        assert sc.expect.actions == ["none"], "where no change heals, the acceptable action is none"


@pytest.mark.parametrize("set_dir", SET_DIRS, ids=lambda p: p.name)
def test_each_set_is_large_varied_and_unique(set_dir: Path):
    scs = [load_scenario(f) for f in sorted(set_dir.glob("*.yaml"))]
    assert len(scs) >= 30
    healing = [s for s in scs if "heal" in s.on_action.values()]
    assert 3 * len(healing) >= len(scs), f"only {len(healing)} of {len(scs)} have a change that heals"
    for attr in (lambda s: s.incident.id, lambda s: s.incident.namespace, lambda s: s.name):
        values = [attr(s) for s in scs]
        assert len(values) == len(set(values))
    assert len({s.incident.kind for s in scs}) >= 5
    assert (set_dir / "README.md").is_file()
    readme = (set_dir / "README.md").read_text()
    assert all(s.name in readme for s in scs), "the README table names every scenario"


# ---- the real kubectl against the sandbox ------------------------------------------------------------------
def _sample() -> list[Scenario]:
    """Scenarios that between them use every kind the sandbox serves for the sets, metrics and previous logs."""
    scs = [load_scenario(f) for f in FILES]
    kinds_seen: set[str] = set()
    picked: list[Scenario] = []
    for sc in scs:
        kinds = {o["kind"] for o in sc.objects}
        if not kinds <= kinds_seen or (sc.metrics and not any(p.metrics for p in picked)):
            picked.append(sc)
            kinds_seen |= kinds
    return picked


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kubectl_reads_a_sample_of_the_sets(tmp_path):
    sample = _sample()
    assert len(sample) >= 3
    with KubeAPI(sample) as api:
        cfg = api.kubeconfig(tmp_path / "kubeconfig")
        env = {**os.environ, "KUBECONFIG": str(cfg), "KUBECACHEDIR": str(tmp_path / "cache"), "HOME": str(tmp_path)}

        def kubectl(*args: str) -> str:
            r = subprocess.run(["kubectl", *args], env=env, capture_output=True, text=True, timeout=60)
            assert r.returncode == 0, f"kubectl {' '.join(args)}: {r.stderr}"
            return r.stdout

        for sc in sample:
            ns = sc.incident.namespace
            kind, name = sc.incident.kind, sc.incident.name
            got = json.loads(kubectl("get", f"{kind}/{name}", "-n", ns, "-o", "json"))
            assert got["metadata"]["name"] == name
            assert name in kubectl("describe", f"{kind}/{name}", "-n", ns)
            listed = kubectl("get", "all", "-n", ns)
            for o in sc.objects:
                if o["kind"] == "Pod" and o["metadata"].get("namespace", ns) == ns:
                    assert o["metadata"]["name"] in listed
            kubectl("get", "events", "-n", ns)
            for key, text in sc.logs.items():
                lns, pod, container, *previous = key.split("/")
                out = kubectl("logs", "-n", lns, pod, "-c", container, *(["--previous"] if previous else []))
                assert len(out.splitlines()) == len(text.splitlines())  # timestamps are shifted, lines are not
            if sc.metrics:
                top = kubectl("top", "pods", "-n", ns)
                assert all(key.split("/", 1)[1] in top for key in sc.metrics if key.startswith(ns + "/"))
        kinds = {o["kind"] for sc in sample for o in sc.objects}
        for kind, resource in (("ValidatingWebhookConfiguration", "validatingwebhookconfigurations"), ("IngressClass", "ingressclasses"),
                               ("PriorityClass", "priorityclasses")):
            if kind in kinds:
                assert kubectl("get", resource).strip()


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_deleting_a_hung_job_pod_gets_a_fresh_pod_from_the_job(tmp_path):
    """A CronJob blocked by a hung run (concurrencyPolicy Forbid) heals when its pod is deleted: the Job starts another."""
    path = EVAL_SETS / "holdout-2026-12" / "ho-statement-import-cron-hung.yaml"
    sc = load_scenario(path)
    ns = sc.incident.namespace
    job = next(o for o in sc.objects if o["kind"] == "Job" and o["status"].get("active"))
    hung = next(o["metadata"]["name"] for o in sc.objects
                if o["kind"] == "Pod" and o["metadata"]["ownerReferences"][0]["name"] == job["metadata"]["name"])
    with KubeAPI(path) as api:
        env = {**os.environ, "KUBECONFIG": str(api.kubeconfig(tmp_path / "kubeconfig")), "KUBECACHEDIR": str(tmp_path / "cache"),
               "HOME": str(tmp_path)}
        r = subprocess.run(["kubectl", "delete", "pod", hung, "-n", ns], env=env, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        pods = json.loads(subprocess.run(["kubectl", "get", "pods", "-n", ns, "-o", "json"], env=env, capture_output=True,
                                         text=True, timeout=60).stdout)["items"]
        fresh = [p for p in pods if p["metadata"]["ownerReferences"][0]["name"] == job["metadata"]["name"]]
        assert [p["metadata"]["ownerReferences"][0]["kind"] for p in fresh] == ["Job"] and fresh[0]["metadata"]["name"] != hung
        assert fresh[0]["status"]["phase"] == "Running" and fresh[0]["metadata"]["ownerReferences"][0]["apiVersion"] == "batch/v1"
        got = json.loads(subprocess.run(["kubectl", "get", "job", job["metadata"]["name"], "-n", ns, "-o", "json"], env=env,
                                        capture_output=True, text=True, timeout=60).stdout)
        assert got["status"]["active"] == 1 and got["status"]["ready"] == 1
        assert [(a.action, a.outcome) for a in api.actions] == [("delete-pod", "heal")]
