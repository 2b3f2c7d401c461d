"""The product's parts depend on each other one way only (docs/architecture.md), and never on the lab or the
tests; inside a part, its modules import each other without a cycle.

Every import in `aof_airflow/` (module-level and function-local alike) is read with `ast`; an arrow
between two parts must be in ALLOWED, and the graph of parts must have no cycle. A new part must be
added to PARTS with its arrows: that is the moment to decide where it sits. Between modules, a cycle hidden
by a function-local import is still a cycle (only `if TYPE_CHECKING:` imports, which never run, are left out):
what both sides need belongs in a module of its own that neither imports back.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PRODUCT = ROOT / "aof_airflow"

# Modules every part may use: settings, our own database, the one Airflow REST client, how child processes
# run (safe env, process-group kill), the one Retry-After parser.
FOUNDATION = {"aof_airflow", "config", "db", "airflow_rest", "celery_config", "subprocesses", "retry_after"}
PARTS = {"spec", "templating", "factory", "operators", "agent", "approvals", "relay", "incidents", "cli", "plugin",
         "services"}

ALLOWED: dict[str, set[str]] = {
    "spec": {"templating"},                      # spec checks ${...} references with the template parser
    "templating": set(),
    "factory": {"spec", "templating", "operators",
                "incidents"},                    # the daily report's DAG reads incident records
    "operators": {"spec", "templating", "agent", "approvals",
                  "services"},                   # an HTTP node's API profile, the conf's text made carriable
    "agent": {"spec",
              "services"},                       # the Prometheus tool's query client, the metrics history verdicts
    "approvals": {"spec", "services"},          # Slack's client, retry policy and reaction vocabulary
    "relay": {"spec", "approvals",               # a Slack button click is written to the approval decision store
              "services",                        # PagerDuty's alert lookup, the event's text made carriable
              "incidents"},                      # one remediation per target: which run a signal belongs to
    "incidents": {"spec", "services"},          # which reaction means which approval outcome
    "services": set(),                           # PagerDuty's API, API profiles by host, carriable event text, Slack
    "cli": PARTS - {"cli", "plugin"},            # the command line is a client of every part
    "plugin": {"relay", "incidents"},
}
FORBIDDEN_ROOTS = ("aof_lab", "tests")


def _module_of(path: Path, root: Path = ROOT) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, root: Path = ROOT) -> list[tuple[str, int]]:
    """Absolute names of everything `path` imports, with the line."""
    mod = _module_of(path, root)
    package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
    found: list[tuple[str, int]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            # `from aof_airflow import config` names a module, not the package
            found += [(f"{target}.{a.name}" if target == "aof_airflow" else target, node.lineno) for a in node.names]
    return found


def _part(name: str) -> str | None:
    bits = name.split(".")
    if bits[0] != "aof_airflow":
        return None
    return bits[1] if len(bits) > 1 else "aof_airflow"


def _arrows(root: Path = ROOT) -> dict[tuple[str, str], list[str]]:
    arrows: dict[tuple[str, str], list[str]] = defaultdict(list)
    for path in sorted((root / "aof_airflow").rglob("*.py")):
        src = _part(_module_of(path, root))
        for name, line in _imports(path, root):
            dst = _part(name)
            if dst and dst != src:
                arrows[(src, dst)].append(f"{path.relative_to(root)}:{line}")
    return arrows


def _forbidden(arrows: dict[tuple[str, str], list[str]]) -> list[str]:
    bad = [f"{s} -> {d}: {', '.join(where[:3])}" for (s, d), where in sorted(arrows.items())
           if d not in FOUNDATION and s not in FOUNDATION and d not in ALLOWED.get(s, set())]
    bad += [f"{s} (foundation) -> {d}: {', '.join(where[:3])}" for (s, d), where in sorted(arrows.items())
            if s in FOUNDATION and d in PARTS]
    return bad


def test_every_module_belongs_to_a_known_part():
    unknown = {_part(_module_of(p)) for p in PRODUCT.rglob("*.py")} - PARTS - FOUNDATION
    assert not unknown, f"new parts {sorted(unknown)}: add them to PARTS and ALLOWED with their arrows"


def test_no_forbidden_arrow():
    bad = _forbidden(_arrows())
    assert not bad, "imports against the architecture (docs/architecture.md):\n" + "\n".join(bad)


def test_no_cycle_between_parts():
    graph: dict[str, set[str]] = defaultdict(set)
    for s, d in _arrows():
        if s in PARTS and d in PARTS:
            graph[s].add(d)

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(n == goal or (n not in seen and reaches(n, goal, seen | {n})) for n in graph[start])

    cycles = sorted(p for p in PARTS if reaches(p, p, {p}))
    assert not cycles, f"parts on a cycle: {cycles}"


def test_the_allowed_arrows_themselves_have_no_cycle():
    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(n == goal or (n not in seen and reaches(n, goal, seen | {n})) for n in ALLOWED.get(start, ()))

    assert not [p for p in PARTS if reaches(p, p, {p})]


def test_the_product_never_imports_the_lab_or_the_tests():
    offenders = [f"{p.relative_to(ROOT)}:{line} imports {name}"
                 for p in [*PRODUCT.rglob("*.py"), *(ROOT / "dags").glob("*.py"), *(ROOT / "plugins").glob("*.py")]
                 for name, line in _imports(p) if name.split(".")[0] in FORBIDDEN_ROOTS]
    # a dynamic import would hide from ast: the lab's name must not appear in product code at all
    offenders += [f"{p.relative_to(ROOT)} names aof_lab" for p in PRODUCT.rglob("*.py") if "aof_lab" in p.read_text()]
    assert not offenders, "\n".join(offenders)


def test_the_checker_sees_a_forbidden_arrow(tmp_path):
    """The reader must see relative and function-local imports, or the tests above prove nothing."""
    pkg = tmp_path / "aof_airflow"
    for sub, text in {
        "operators/base.py": "from ..factory.context import build_roots\n",             # relative, upward
        "relay/app.py": "def f():\n    from aof_airflow.operators import slack\n",     # function-local
        "incidents/ui.py": "from aof_airflow import config\nimport aof_airflow.spec.models\n",  # allowed
    }.items():
        (pkg / sub).parent.mkdir(parents=True, exist_ok=True)
        (pkg / sub).parent.joinpath("__init__.py").touch()
        (pkg / sub).write_text(text)
    bad = _forbidden(_arrows(tmp_path))
    assert [b.split(":")[0] for b in bad] == ["operators -> factory", "relay -> operators"], bad


CYCLE_EXEMPT: tuple[str, ...] = ()


def _module_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """module -> the product modules it imports at run time (a package's name stands for its __init__)."""
    paths = {_module_of(p, root): p for p in (root / "aof_airflow").rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in paths}
    for mod, path in paths.items():
        tree = ast.parse(path.read_text(), str(path))
        hidden = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If) and "TYPE_CHECKING" in
                  ast.unparse(block.test) for n in ast.walk(block)}
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        for node in ast.walk(tree):
            if id(node) in hidden:
                continue
            if isinstance(node, ast.Import):
                graph[mod] |= {a.name for a in node.names if a.name in paths}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    bits = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(bits + ([node.module] if node.module else []))
                for a in node.names:
                    target = f"{base}.{a.name}" if f"{base}.{a.name}" in paths else base
                    if target in paths and target != mod:
                        graph[mod].add(target)
    return graph


def _module_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on.add(start)
        while work:
            v, edges = work[-1]
            w = next(edges, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                group = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    group.append(w)
                    if w == v:
                        break
                if len(group) > 1:
                    out.append(sorted(group))
    return out


def test_no_cycle_between_modules():
    cycles = [c for c in _module_cycles(_module_graph()) if not all(m.startswith(CYCLE_EXEMPT) for m in c)]
    assert not cycles, "modules importing each other (move what both need into a module of its own):\n" + "\n".join(
        " <-> ".join(c) for c in cycles)


def test_the_module_checker_sees_a_cycle_hidden_in_a_function(tmp_path):
    pkg = tmp_path / "aof_airflow" / "templating"
    pkg.mkdir(parents=True)
    (pkg.parent / "__init__.py").touch()
    (pkg / "__init__.py").touch()
    (pkg / "a.py").write_text("from aof_airflow.templating.b import x\n")
    (pkg / "b.py").write_text("def x():\n    from aof_airflow.templating import a\n")
    (pkg / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import a\n")
    (pkg / "d.py").write_text("from . import c\n")
    assert _module_cycles(_module_graph(tmp_path)) == [["aof_airflow.templating.a", "aof_airflow.templating.b"]]
