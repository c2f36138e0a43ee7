"""The package's layout: each public name defined in one module (a re-export module defines none)."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pprlib

PACKAGE = Path(pprlib.__file__).parent

KNOWN_TWICE: dict[str, set[str]] = {}
"""Names defined in two modules (none left; none may be added)."""


def definitions() -> dict[str, set[str]]:
    """Public top-level functions, classes and constants of every module, by name."""
    found = defaultdict(set)
    for path in PACKAGE.rglob("*.py"):
        module = ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            names = []
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names = [node.name]
            elif isinstance(node, ast.Assign) and not isinstance(node.value, (ast.Name, ast.Attribute)):
                # a constant (an alias of another module's, ``MIXED = evidence.MIXED``, defines nothing)
                names = [t.id for t in node.targets if isinstance(t, ast.Name) and t.id.isupper()]
            for name in names:
                if not name.startswith("_"):
                    found[name].add(module)
    return found


def test_no_new_name_is_defined_twice_in_the_package():
    twice = {name: modules for name, modules in definitions().items() if len(modules) > 1}
    assert twice == {k: v for k, v in KNOWN_TWICE.items() if k in twice}, "a name defined in two modules"
    assert set(twice) == set(KNOWN_TWICE), f"cleaned up: drop {set(KNOWN_TWICE) - set(twice)} from KNOWN_TWICE"


def test_the_experiments_module_only_re_exports():
    tree = ast.parse((PACKAGE / "experiments.py").read_text(encoding="utf-8"))
    defined = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
    assert not defined, [n.name for n in defined]
    from pprlib import comparisons, experiments, runs

    assert experiments.compare is comparisons.compare and experiments.tuned_model is runs.tuned_model


def import_graph() -> dict[str, set[str]]:
    """Which ``pprlib`` modules each module imports at run time (at the top or inside a function;
    ``if TYPE_CHECKING:`` blocks left out, they import nothing when the code runs)."""
    modules = {".".join(("pprlib", *p.relative_to(PACKAGE).with_suffix("").parts)).removesuffix(".__init__"): p
               for p in PACKAGE.rglob("*.py")}
    graph = {m: set() for m in modules}

    def visit(node, here):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("pprlib"):
            for target in (node.module, *(f"{node.module}.{a.name}" for a in node.names)):
                if target in modules and target != here:
                    graph[here].add(target)
        elif isinstance(node, ast.Import):
            graph[here].update(a.name for a in node.names if a.name in modules and a.name != here)
        for child in ast.iter_child_nodes(node):
            visit(child, here)

    for name, path in modules.items():
        visit(ast.parse(path.read_text(encoding="utf-8")), name)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every import circle, each once (from its smallest module name)."""
    found = []

    def walk(path):
        for nxt in sorted(graph[path[-1]]):
            if nxt == path[0]:
                found.append(list(path))
            elif nxt not in path and nxt > path[0]:
                walk([*path, nxt])

    for start in sorted(graph):
        walk([start])
    return found


KNOWN_CIRCLES = []
"""Import circles left (none: the data checks and the schema share pprlib.data.errors)."""


def test_no_new_import_circle_in_the_package():
    assert cycles(import_graph()) == KNOWN_CIRCLES


def test_the_run_layer_does_not_call_up_into_the_comparisons():
    graph = import_graph()
    for low in ("pprlib.runs", "pprlib.batched", "pprlib.grid", "pprlib.train", "pprlib.evaluation"):
        assert "pprlib.comparisons" not in graph[low], low
    assert "pprlib.grid" not in graph["pprlib.runs"]  # the runner is chosen above the runs


def test_the_data_layer_imports_nothing_above_it():
    """``pprlib.data`` builds on itself and on the cache (a leaf: it imports nothing of ``pprlib``);
    no import of the data layer, at the top or inside a function, reaches up to the runs, the
    evaluation or the analysis (the ceilings' evaluation, caching and tables are in ``pprlib.ceilings``)."""
    graph = import_graph()
    assert not graph["pprlib.cache"]
    data = {m for m in graph if m == "pprlib.data" or m.startswith("pprlib.data.")}
    for module in sorted(data):
        assert graph[module] <= data | {"pprlib.cache"}, (module, graph[module] - data)
