"""The DAG file's scan cache is keyed on the code that wrote it as well as the YAML, and a parse leaves the
heap Airflow froze frozen (aof_airflow/factory/scan.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from importlib import metadata

from aof_airflow.factory import scan as scan_module
from tests.locations import REPO

FOLDERS = [REPO / "dags/flows", REPO / "dags/agents"]


def test_a_new_package_version_or_edited_code_never_loads_an_old_pickle(tmp_path, monkeypatch):
    monkeypatch.setenv("AOF_CACHE_FOLDER", str(tmp_path / "cache"))
    first = scan_module.scan(FOLDERS)
    assert len(list((tmp_path / "cache").glob("scan-*.pickle"))) == 1
    loads: list[int] = []
    real = scan_module._load
    monkeypatch.setattr(scan_module, "_load", lambda paths: loads.append(1) or real(paths))
    assert scan_module.scan(FOLDERS).plans.keys() == first.plans.keys() and loads == []  # same code: cached

    monkeypatch.setattr(metadata, "version", lambda name: "99.0-upgraded")
    scan_module.scan(FOLDERS)
    assert loads == [1]  # an upgrade reads the YAML again instead of unpickling the old classes
    monkeypatch.undo()

    monkeypatch.setenv("AOF_CACHE_FOLDER", str(tmp_path / "cache"))
    monkeypatch.setattr(scan_module, "_load", lambda paths: loads.append(2) or real(paths))
    module = REPO / "aof_airflow/spec/problems.py"
    st = os.stat(module)
    try:
        os.utime(module, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # a model edited in a checkout
        scan_module.scan(FOLDERS)
    finally:
        os.utime(module, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert loads == [1, 2]


PROBE = textwrap.dedent("""
    import gc, json, sys
    from pathlib import Path
    import airflow.sdk
    from aof_airflow.factory.scan import build_dags
    if sys.argv[1] == "frozen":
        gc.freeze()  # as the dag-processor manager does before it forks a parse
    before = gc.get_freeze_count()
    dags = build_dags([Path(sys.argv[2]), Path(sys.argv[3])])
    print(json.dumps({"before": before, "after": gc.get_freeze_count(), "dags": len(dags), "gc": gc.isenabled()}))
""")


def _probe(mode: str, tmp_path) -> dict:
    import json

    env = {k: v for k, v in os.environ.items() if not k.startswith(("AOF_", "AIRFLOW"))}
    env.update({"AIRFLOW_HOME": str(tmp_path / "home"), "AOF_CACHE_FOLDER": str(tmp_path / "cache"),
                "PYTHONPATH": str(REPO)})
    out = subprocess.run([sys.executable, "-c", PROBE, mode, *map(str, FOLDERS)], env=env, capture_output=True,
                         text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_parse_keeps_the_heap_airflow_froze_frozen_and_adds_its_dags(tmp_path):
    r = _probe("frozen", tmp_path)
    assert r["dags"] == 1 and r["gc"] is True
    assert r["before"] > 10_000 and r["after"] > r["before"], r  # not unfrozen (it went to 0 before)


def test_where_nothing_was_frozen_nothing_is(tmp_path):
    r = _probe("plain", tmp_path)
    assert (r["before"], r["after"], r["dags"], r["gc"]) == (0, 0, 1, True)
