"""benchmarks/book_time.py: a chapter's time split into the parts its kernel counted."""

from __future__ import annotations

import importlib.util
import json

import nbformat
import pytest

from pprlib import book, timing


def _load():
    spec = importlib.util.spec_from_file_location("book_time", book.ROOT / "benchmarks" / "book_time.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _executed(folder, name, parts):
    cell = nbformat.v4.new_code_cell("provenance_table(config)")
    if parts is not None:
        cell.outputs = [nbformat.v4.new_output("display_data", data={"text/plain": repr(parts)},
                                               metadata={"scrapbook": {"name": "seconds_by_part"}})]
    nb = nbformat.v4.new_notebook(cells=[cell])
    nbformat.write(nb, str(folder / name))


def test_the_table_splits_each_chapter_into_its_parts_and_the_rest(tmp_path):
    executed = tmp_path / "_build" / "executed"
    (executed / "book").mkdir(parents=True)
    parts = {"seconds": {**{p: 0.0 for p in timing.PARTS}, "tuning steps": 30.0, "learning-rate choice": 20.0},
             "counts": {"runs": 12, "optimizer steps": 900, "pre-trainings": 1}}
    _executed(executed / "book", "few_shot.ipynb", parts)
    _executed(executed / "book", "intro.ipynb", None)  # a chapter that counts nothing
    (executed / "manifest.json").write_text(json.dumps({"book/few_shot.ipynb": {"seconds": 80.0},
                                                        "book/intro.ipynb": {"seconds": 2.0}}))
    table = _load().chapter_times(tmp_path / "_build").set_index("chapter")
    assert table.loc["few_shot", "tuning steps"] == 30.0 and table.loc["few_shot", "learning-rate choice"] == 20.0
    assert table.loc["few_shot", "everything else"] == pytest.approx(30.0)
    assert table.loc["few_shot", "runs"] == 12 and table.loc["few_shot", "optimizer steps"] == 900
    assert table.loc["intro", "everything else"] == 2.0 and table.loc["intro", "runs"] == 0
    assert list(table.index) == ["few_shot", "intro"]  # the longest first
