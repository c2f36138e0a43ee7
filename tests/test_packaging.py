"""The two install routes (pip via pyproject.toml, conda via environment.yml) agree, the book
stack is pinned, and the run profiles match the notebooks' parameters cells."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

from pprlib import book

ROOT = Path(__file__).resolve().parent.parent


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _normal(req: str) -> str:
    return re.sub(r"\s+", "", req).lower()


def test_environment_yml_installs_what_pip_installs():
    project = _pyproject()["project"]
    pip_route = set(project["dependencies"]) | set(project["optional-dependencies"]["book"]) | set(
        project["optional-dependencies"]["test"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    conda_route = {r for r in pip_section if not r.startswith("-e") and r != _torch_pin()}
    assert {_normal(r) for r in conda_route} == {_normal(r) for r in pip_route}
    assert _torch_pin() in pip_section


def _torch_pin() -> str:
    makefile = (ROOT / "Makefile").read_text()
    pin = re.search(r'"(torch==[0-9.]+)"', makefile)
    assert pin, "the Makefile must install a pinned CPU torch"
    return pin.group(1)


def test_book_stack_is_pinned_and_has_no_scrapbook():
    book_extra = _pyproject()["project"]["optional-dependencies"]["book"]
    names = {re.split(r"[=<>!~]", r)[0].lower(): r for r in book_extra}
    for pkg in ("jupyter-book", "sphinx", "myst-nb", "papermill"):
        assert "==" in names[pkg], f"{pkg} must be pinned"
    assert names["jupyter-book"] == "jupyter-book==1.0.4.post1"
    assert names["sphinx"].startswith("sphinx==7.")
    assert "scrapbook" not in names


def test_notebook_defaults_match_the_default_profile():
    default = book.load_profile("default")
    for path in book.toc_files():
        if path.suffix != ".ipynb":
            continue
        declared = book.notebook_parameters(path)
        for name, value in declared.items():
            if name in book.RUNNER_PARAMETERS:  # set by the runner, not by a profile
                continue
            assert name in default, f"{path.name}: parameter {name!r} is missing from default.yaml"
            assert eval(value) == default[name], f"{path.name}: {name} = {value} but default.yaml says {default[name]!r}"


def test_profiles_define_the_same_parameters():
    names = {p: set(book.load_profile(p)) for p in book.profile_names()}
    reference = names["default"]
    for profile, keys in names.items():
        assert keys == reference, f"{profile}.yaml differs from default.yaml in {keys ^ reference}"


def test_unknown_profile_is_a_clear_error():
    import pytest

    with pytest.raises(ValueError, match=r"unknown profile 'nope'; choose from \[.*'default'.*'tiny'"):
        book.load_profile("nope")


def test_cli_rejects_an_unknown_profile(capsys):
    from pprlib.cli import main

    assert main(["book", "--profile", "nope"]) == 1
    err = capsys.readouterr().err
    assert "unknown profile 'nope'" in err and "tiny" in err


def test_cli_stats_prints_the_table(capsys):
    from pprlib.cli import main

    assert main(["stats", "--profile", "tiny"]) == 0
    out = capsys.readouterr().out
    assert "pre-train instances" in out and "cold users (tune / val / test)" in out
