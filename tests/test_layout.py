"""The package's layout: each public name defined in one module (a re-export module defines none)."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pprlib

PACKAGE = Path(pprlib.__file__).parent

KNOWN_TWICE = {
    # names still defined in two modules, each pair a clean-up to do (none may be added)
    "build": {"book", "tasks.cross_domain"}, "run": {"book", "tasks.cross_domain"},
    "main": {"cli", "distributed"},
}


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
    from pprlib import experiments, runs

    assert experiments.compare is runs.compare and experiments.tuned_model is runs.tuned_model
