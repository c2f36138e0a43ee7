"""The book runner's cache keys: a chapter re-runs when a profile value it declares changes,
when pprlib's code changes, and only then (papermill replaced by a recorder, so no kernel runs)."""

from __future__ import annotations

import shutil

import pytest

from pprlib import book


@pytest.fixture
def project(tmp_path, monkeypatch, write_notebook):
    """A project of three chapters: ``a`` declares ``tune_epochs`` and ``seed``, ``b`` only ``seed``,
    ``summary`` gathers the others (it declares ``executed_dir``); pprlib is one source file."""
    root = tmp_path / "project"
    (root / "book").mkdir(parents=True)
    (root / "pprlib").mkdir()
    (root / "pprlib" / "core.py").write_text("ANSWER = 42\n")
    pages = [write_notebook(root / "book" / "a.ipynb", "tune_epochs = 1\nseed = 0", "x = tune_epochs"),
             write_notebook(root / "book" / "b.ipynb", "seed = 0", "y = seed"),
             write_notebook(root / "book" / "summary.ipynb", "executed_dir = '.'", "z = 1")]
    monkeypatch.setattr(book, "ROOT", root)
    monkeypatch.setattr(book, "toc_files", lambda: pages)
    return root


def _keys(tmp_path, **values) -> dict[str, str]:
    profile = tmp_path / "profile.yaml"
    profile.write_text("".join(f"{k}: {v}\n" for k, v in values.items()))
    return {ch.source.stem: ch.key for ch in book.plan(profile, tmp_path / "_build")}


def test_a_profile_value_changes_the_key_of_the_chapters_that_declare_it(project, tmp_path):
    before = _keys(tmp_path, tune_epochs=1, seed=0)
    assert _keys(tmp_path, tune_epochs=1, seed=0) == before  # the key is a function of its inputs
    after = _keys(tmp_path, tune_epochs=2, seed=0)
    assert after["a"] != before["a"]
    assert after["b"] == before["b"]  # b does not declare tune_epochs
    assert after["summary"] != before["summary"]  # it gathers a
    seed = _keys(tmp_path, tune_epochs=1, seed=1)
    assert seed["a"] != before["a"] and seed["b"] != before["b"]
    # a setting that no chapter declares is refused before anything runs, not silently ignored
    with pytest.raises(book.BookError, match="n_items"):
        _keys(tmp_path, tune_epochs=1, seed=0, n_items=500)


def test_a_change_of_pprlib_code_changes_every_key(project, tmp_path):
    before = _keys(tmp_path, tune_epochs=1, seed=0)
    (project / "pprlib" / "core.py").write_text("ANSWER = 43\n")
    edited = _keys(tmp_path, tune_epochs=1, seed=0)
    assert all(edited[name] != before[name] for name in before)
    (project / "pprlib" / "more.py").write_text("")
    added = _keys(tmp_path, tune_epochs=1, seed=0)
    assert all(added[name] != edited[name] for name in before)
    # a renamed module with the same content is a different code base too
    shutil.move(project / "pprlib" / "more.py", project / "pprlib" / "other.py")
    moved = _keys(tmp_path, tune_epochs=1, seed=0)
    assert all(moved[name] != added[name] for name in before)
    # a file that is not Python source does not count
    (project / "pprlib" / "notes.txt").write_text("not code")
    assert _keys(tmp_path, tune_epochs=1, seed=0) == moved


def test_execute_reruns_exactly_the_chapters_whose_key_changed(project, tmp_path, monkeypatch):
    import papermill

    ran = []

    def record(source, output, parameters, **kwargs):
        ran.append((source.rsplit("/", 1)[-1], dict(parameters)))
        shutil.copy(source, output)

    monkeypatch.setattr(papermill, "execute_notebook", record)
    monkeypatch.setenv("TQDM_DISABLE", "1")  # execute() sets it; set here, monkeypatch restores it
    profile = tmp_path / "profile.yaml"
    build = tmp_path / "_build"

    def execute(**values):
        profile.write_text("".join(f"{k}: {v}\n" for k, v in values.items()))
        ran.clear()
        book.execute(profile, build_dir=build, jobs=1, log=lambda *_: None)
        return [name for name, _ in ran]

    assert execute(tune_epochs=1, seed=0) == ["a.ipynb", "b.ipynb", "summary.ipynb"]
    assert ran[0][1] == {"tune_epochs": 1, "seed": 0}  # each chapter gets the values it declares
    assert ran[1][1] == {"seed": 0}
    assert execute(tune_epochs=1, seed=0) == []  # nothing changed: nothing runs
    assert execute(tune_epochs=2, seed=0) == ["a.ipynb", "summary.ipynb"]
    (project / "pprlib" / "core.py").write_text("ANSWER = 0\n")
    assert execute(tune_epochs=2, seed=0) == ["a.ipynb", "b.ipynb", "summary.ipynb"]


def test_the_runner_checks_a_profile_without_importing_torch(tmp_path):
    """The runner lives as long as the book: torch imported there would hold its memory beside
    the chapters' kernels, so it checks the profile (settings and device) in a child process."""
    import subprocess
    import sys

    code = ("import sys; from pathlib import Path; from pprlib import book; "
            f"book.plan('tiny', Path({str(tmp_path / '_build')!r})); "
            "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=book.ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("profile", ["tiny", "default", "movielens"])
def test_the_child_checks_a_profile_on_cpu_without_importing_torch(profile):
    """The child process that checks a profile (settings, their fit, the memory they need) starts
    in about a second: torch, which takes longer to import than the whole check, is imported
    only to check a GPU device (``device: auto`` and ``cpu`` are always usable)."""
    import subprocess
    import sys

    code = ("import sys; from pprlib import profiles; "
            f"profiles.load_profile({profile!r}); "
            "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=book.ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("text, problem", [
    ("seeds: 3\n", "key 'seeds'"),
    ("device: cuda:7\n", "device 'cuda:7'"),
    ("sed: 1\n", "did you mean 'seed'"),
])
def test_a_profile_checked_apart_fails_with_the_message_of_one_checked_here(tmp_path, text, problem):
    import torch

    if text.startswith("device") and torch.cuda.device_count() > 7:
        pytest.skip("this machine has a cuda:7")
    path = tmp_path / "mine.yaml"
    path.write_text(text)
    with pytest.raises(ValueError) as here:
        book.load_profile(path)
    with pytest.raises(ValueError) as apart:
        book.load_profile(path, apart=True)
    assert str(apart.value) == str(here.value)
    assert problem in str(here.value) and str(path) in str(here.value)
