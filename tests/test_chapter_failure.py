"""A chapter that raises stops the batch runner with a message naming the notebook and the cell,
keeps the executed copy for inspection, and leaves the chapters already done intact."""

from __future__ import annotations

import json

import nbformat
import pytest

from pprlib import book

pytestmark = pytest.mark.notebooks



def test_failing_chapter_stops_the_run_and_names_notebook_and_cell(tmp_path, monkeypatch, write_notebook):
    root = tmp_path / "project"
    (root / "book").mkdir(parents=True)
    good = write_notebook(root / "book" / "good.ipynb", "seed = 1", "from myst_nb import glue\nglue('answer', seed + 41)")
    bad = write_notebook(root / "book" / "bad.ipynb", "seed = 1", "x = 2", "raise ValueError('boom: the data is wrong')")
    later = write_notebook(root / "book" / "later.ipynb", "seed = 1", "y = 3")
    monkeypatch.setattr(book, "ROOT", root)
    monkeypatch.setattr(book, "toc_files", lambda: [good, bad, later])
    profile = tmp_path / "p.yaml"
    profile.write_text("seed: 1\n")
    build_dir = tmp_path / "_build"

    with pytest.raises(book.BookError) as info:
        book.execute(profile, build_dir=build_dir, jobs=1, log=lambda *_: None)
    message = str(info.value)
    kept = build_dir / "executed" / "book" / "bad.ipynb"
    assert message == (f"book/bad.ipynb failed in cell In [4] (ValueError: boom: the data is wrong); the executed "
                       f"copy with the traceback is kept at {kept}; the other chapters' results are intact")
    assert "boom" in kept.read_text()  # the traceback is in the kept copy
    manifest = json.loads((build_dir / "executed" / "manifest.json").read_text())
    assert set(manifest) == {"book/good.ipynb"}  # the finished chapter stays recorded, the failed one not
    assert book.glued(build_dir / "executed" / "book" / "good.ipynb")["answer"] == 42
    assert not (build_dir / "executed" / "book" / "later.ipynb").exists()  # nothing new started

    # after the fix, the next run skips the good chapter and runs the rest
    write_notebook(bad, "seed = 1", "x = 2")
    lines = []
    book.execute(profile, build_dir=build_dir, jobs=1, log=lines.append)
    assert "[book] book/good.ipynb: up to date, skipped" in lines
    assert set(json.loads((build_dir / "executed" / "manifest.json").read_text())) == {
        "book/good.ipynb", "book/bad.ipynb", "book/later.ipynb"}


def test_a_chapter_reruns_when_a_file_it_reads_changes(tmp_path, monkeypatch, write_notebook):
    root = tmp_path / "project"
    (root / "book").mkdir(parents=True)
    (root / "results.csv").write_text("a,b\n1,2\n")
    page = write_notebook(root / "book" / "page.ipynb", "seed = 1", "import pandas")
    nb = nbformat.read(str(page), as_version=4)
    nb.metadata["pprlib"] = {"inputs": ["results.csv"], "priority": 2}
    nbformat.write(nb, str(page))
    monkeypatch.setattr(book, "ROOT", root)
    monkeypatch.setattr(book, "toc_files", lambda: [page])
    profile = tmp_path / "p.yaml"
    profile.write_text("seed: 1\n")
    first = book.plan(profile, tmp_path / "_build")[0]
    assert first.priority == 2
    (root / "results.csv").write_text("a,b\n1,3\n")
    assert book.plan(profile, tmp_path / "_build")[0].key != first.key
    (root / "results.csv").unlink()
    assert book.plan(profile, tmp_path / "_build")[0].key != first.key
