"""Every notebook of the toc runs with the tiny profile, its glued values make sense, and the
strict book build succeeds on the executed notebooks."""

from __future__ import annotations

import os

import pytest

from pprlib import book

pytestmark = pytest.mark.notebooks


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    root = tmp_path_factory.mktemp("book")
    build_dir = root / "_build"
    old = os.environ.get("PPR_CACHE_DIR")
    os.environ["PPR_CACHE_DIR"] = str(root / "cache")
    try:
        paths = book.execute("tiny", build_dir=build_dir, log=lambda *_: None)
    finally:
        if old is None:
            os.environ.pop("PPR_CACHE_DIR", None)
        else:
            os.environ["PPR_CACHE_DIR"] = old
    return build_dir, {p.stem: p for p in paths}


def test_every_toc_notebook_was_executed(executed):
    _, paths = executed
    expected = {p.stem for p in book.toc_files() if p.suffix == ".ipynb"}
    assert set(paths) == expected


def test_data_chapter_glues_consistent_statistics(executed):
    _, paths = executed
    g = book.glued(paths["data_protocol"])
    tiny = book.load_profile("tiny")
    assert g["n_users"] == tiny["n_users"]
    assert g["n_items"] == tiny["n_items"]
    assert 0.15 < g["cold_share"] < 0.35
    assert g["n_test_zero"] == g["n_test_users"]  # one zero-shot instance per cold test user
    assert g["n_test_few"] > g["n_test_zero"]
    # sampled metrics flatter popularity: full ranking is much harder than 99 random negatives
    assert 0 < g["pop_full_ndcg10"] < g["pop_sampled_ndcg10"] < 1
    for key in ("stats_table", "effect_table", "baseline_table"):
        assert "<table" in g[key]


def test_strict_book_build(executed):
    build_dir, _ = executed
    index = book.build(build_dir, log=lambda *_: None)
    assert index.exists()
    page = build_dir / "html" / "book" / "data_protocol.html"
    html = page.read_text()
    assert "Data and evaluation protocol" in html
    assert "<img" in html  # the figures made it into the page
