"""One source of truth for the book's parameters: BookConfig's fields, the chapters'
``parameters`` cells and the run profiles agree, and a profile is checked before any work."""

from __future__ import annotations

import ast
import dataclasses

import pytest

from pprlib import book
from pprlib.experiments import PROFILE_KEYS, BookConfig


def _declared() -> dict[str, dict]:
    return {p.name: book.notebook_parameters(p) for p in book.toc_files() if p.suffix == ".ipynb"}


def test_parameters_cells_and_book_config_fields_are_equal():
    declared = _declared()
    in_cells = set().union(*declared.values()) - set(book.RUNNER_PARAMETERS)
    assert in_cells == set(PROFILE_KEYS), (
        f"only in parameters cells: {sorted(in_cells - PROFILE_KEYS)}; "
        f"only in BookConfig (profile fields): {sorted(PROFILE_KEYS - in_cells)}")


def test_parameters_cells_default_to_book_config_defaults():
    defaults = {f.name: f.default for f in dataclasses.fields(BookConfig)}
    for notebook, params in _declared().items():
        for name, code in params.items():
            if name in book.RUNNER_PARAMETERS:
                continue
            value = ast.literal_eval(code)
            expected = defaults[name]
            assert (tuple(value) if isinstance(value, list) else value) == expected, (notebook, name)


@pytest.mark.parametrize("name", book.profile_names())
def test_every_shipped_profile_passes_the_schema(name):
    params = book.load_profile(name)
    config = BookConfig.from_params(params)
    assert config.profile == name
    assert set(params) == set(PROFILE_KEYS), f"{name}.yaml should set every parameter"


def test_yaml_1_2_floats_are_numbers(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("lr_grid: [1e-4, 5E-3, 2.5e+1]\nnoise_rates: [0, 1e-1]\n")
    assert book.load_profile(path)["lr_grid"] == [1e-4, 5e-3, 25.0]
    assert BookConfig.from_params(book.load_profile(path)).noise_rates == (0.0, 0.1)


def test_a_profile_setting_no_chapter_reads_is_refused(tmp_path, monkeypatch):
    """Defence in depth beside the equality test: the runner itself refuses a key it cannot pass on."""
    path = tmp_path / "mine.yaml"
    path.write_text("seed: 1\n")
    monkeypatch.setattr(book, "notebook_parameters", lambda p: {"profile": '"default"'})
    with pytest.raises(book.BookError) as info:
        book.plan(path, tmp_path / "_build")
    assert str(info.value) == "profile setting(s) ['seed'] are read by no chapter's parameters cell"


def test_the_runner_checks_the_profile_before_the_first_chapter(tmp_path, monkeypatch):
    path = tmp_path / "mine.yaml"
    path.write_text("seeds: 3\n")
    started = []
    monkeypatch.setattr("papermill.execute_notebook", lambda *a, **k: started.append(a))
    with pytest.raises(ValueError) as info:
        book.execute(path, build_dir=tmp_path / "_build", log=lambda *_: None)
    assert str(info.value) == f"{path}, line 1: key 'seeds' must be a list of integers such as [0, 1, 2], got 3"
    assert started == []
