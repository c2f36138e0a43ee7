"""The code a reader sees is the code that teaches: a chapter's book-keeping cells (glue calls,
and the imports and assignments that feed them) are hidden with a cell tag.

A cell is book-keeping when, parsed with :mod:`ast`, it calls ``glue`` and every top-level
statement is an import, an assignment, a ``glue(...)`` call, or a loop / ``if`` / ``with``
made of the same. Such a cell must carry ``remove-cell`` (or ``remove-input`` where its
output is shown).
"""

from __future__ import annotations

import ast
import json

import pytest

from pprlib import book

HIDDEN = {"remove-cell", "remove-input"}
BOOKKEEPING_CALLS = {"glue"}


def _is_bookkeeping_call(node: ast.AST) -> bool:
    if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)):
        return False
    func = node.value.func
    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
    return name in BOOKKEEPING_CALLS


def _only_bookkeeping(statements) -> bool:
    for node in statements:
        if isinstance(node, (ast.Import, ast.ImportFrom, ast.Assign, ast.AugAssign, ast.AnnAssign)):
            continue
        if _is_bookkeeping_call(node):
            continue
        if isinstance(node, (ast.For, ast.If, ast.With)):
            if _only_bookkeeping(node.body) and _only_bookkeeping(getattr(node, "orelse", [])):
                continue
        return False
    return True


def is_bookkeeping(source: str) -> bool:
    """Whether a code cell only glues values (and computes or imports what it glues)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:  # IPython magics: not a glue-only cell
        return False
    calls_glue = any(_is_bookkeeping_call(n) for n in ast.walk(tree) if isinstance(n, ast.Expr))
    return calls_glue and _only_bookkeeping(tree.body)


def visible_bookkeeping(path) -> list[str]:
    """Ids (or indices) of the book-keeping cells of notebook ``path`` left visible."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    out = []
    for i, cell in enumerate(cells):
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        if is_bookkeeping(source) and not HIDDEN & set(cell.get("metadata", {}).get("tags", [])):
            out.append(cell.get("id", str(i)))
    return out


@pytest.mark.parametrize("source, expected", [
    ('glue("a", 1, display=False)', True),
    ('import x\nfrom y import glue\nv = x.f()\nglue("a", v, display=False)', True),
    ('for k, e in effects.items():\n    glue(f"ev_{k}", e.as_dict(), display=False)', True),
    ('if ok:\n    glue("a", 1)\nelse:\n    glue("a", 2)', True),
    ('table = f()\nglue("t", table, display=False)\ntable', False),  # shows a table
    ('glue("a", 1)\nplt.show()', False),  # draws a figure
    ('x = 1', False),  # glues nothing
    ('%matplotlib inline\nglue("a", 1)', False),
])
def test_bookkeeping_is_recognised_from_the_cell_code(source, expected):
    assert is_bookkeeping(source) is expected


PENDING: dict[str, str] = {}
"""Chapters whose book-keeping cells another change hides (strict: the test fails once they
are hidden, so that the entry is removed)."""


def _chapters():
    for path in (p for p in book.toc_files() if p.suffix == ".ipynb"):
        marks = [pytest.mark.xfail(reason=PENDING[path.stem], strict=True)] if path.stem in PENDING else []
        yield pytest.param(path, id=path.stem, marks=marks)


@pytest.mark.parametrize("path", list(_chapters()))
def test_no_chapter_shows_a_bookkeeping_cell(path):
    assert visible_bookkeeping(path) == [], (
        f"{path.name}: these code cells only glue values; tag them 'remove-cell' (or 'remove-input')")


@pytest.mark.parametrize("path", [p for p in book.toc_files() if p.suffix == ".ipynb"], ids=lambda p: p.stem)
def test_every_cell_of_a_chapter_has_its_own_id(path):
    """nbformat 4.5 requires cell ids: without them every execution warns (and a future
    nbformat refuses the notebook)."""
    import nbformat

    nb = json.loads(path.read_text())
    ids = [cell.get("id") for cell in nb["cells"]]
    assert None not in ids, f"{path.name}: cells {[i for i, v in enumerate(ids) if v is None]} have no id"
    assert len(set(ids)) == len(ids), f"{path.name}: a cell id is used twice"
    nbformat.validate(nbformat.reads(path.read_text(), as_version=4))
