"""Faults injected at every stage of what the run writes: a cache entry (:func:`~pprlib.cache.cached`,
:func:`~pprlib.cache.atomic_write`), a chapter of the book runner (its executed copy and the
manifest that vouches for it), a full disk under the cache, and two runners sharing one cache.

Each fault is placed by a hook, not by timing: a child process replaces the function at the
stage (``os.open``, ``os.replace``, the save, papermill) by one that kills the process
(``SIGKILL``: no ``finally`` runs, as after a power cut of the process) or raises
``KeyboardInterrupt`` (Ctrl-C). What is left on disk is then checked, and the next run must
finish the work from it with the right result.

What :mod:`tests.test_cache` and :mod:`tests.test_resume` cover already is not repeated here: an
exception inside the save, a corrupt or truncated file, two processes racing on one ``cached``
entry, and a real CLI run killed between two chapters.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from pprlib import book, profiles
from pprlib.cache import atomic_write, cached

ROOT = Path(__file__).resolve().parent.parent


def _child(script: str, *args, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
           "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(script), *map(str, args)], capture_output=True,
                          text=True, env=env, timeout=timeout)


# ------------------------------------------------------------------------------------------
# a cache entry, stopped at every stage of its write
# ------------------------------------------------------------------------------------------
OLD, NEW = list(range(10, 30)), list(range(1000, 1400))

CACHE_CHILD = """
    import os, signal, sys
    from pathlib import Path
    from pprlib import cache

    path, mode, stage, kind = Path(sys.argv[1]), *sys.argv[2:5]

    def fault(where):
        if where == stage:
            if kind == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            raise KeyboardInterrupt(where)

    real_open, real_replace = os.open, os.replace

    def open_(file, *args, **kwargs):
        made = real_open(file, *args, **kwargs)
        if str(file).endswith(".tmp"):
            fault("temp made")
        return made

    def replace(src, dst):
        fault("before rename")
        real_replace(src, dst)
        fault("after rename")

    os.open, os.replace = open_, replace

    def compute():
        fault("compute")
        return list(range(1000, 1400))

    def save(value, tmp):
        with open(tmp, "w") as fh:
            for i, v in enumerate(value):
                fh.write(f"{v}\\n")
                if i == len(value) // 2:
                    fh.flush()
                    os.fsync(fh.fileno())
                    fault("mid-write")

    load = lambda p: [int(line) for line in Path(p).read_text().splitlines()]
    if mode == "cached":
        cache.cached(path, compute, save, load)
    else:  # a file rewritten in place: the run manifest, an executed chapter, save_pretrained's checkpoint
        cache.atomic_write(path, lambda tmp: save(compute(), tmp))
"""


def load_numbers(path: Path) -> list[int]:
    """The entry's format: one number a line. A file cut short still loads, as a shorter list:
    exactly what a write in place would leave for the next run to trust."""
    return [int(line) for line in path.read_text().splitlines()]


def save_numbers(value, tmp: Path) -> None:
    tmp.write_text("".join(f"{v}\n" for v in value))


STAGES = ["compute", "temp made", "mid-write", "before rename", "after rename"]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", ["kill", "raise"])
@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("mode", ["cached", "rewrite"])
def test_a_cache_write_stopped_at_any_stage_leaves_the_old_entry_or_none_and_the_next_call_recovers(
        tmp_path, mode, stage, kind):
    path = tmp_path / "entry.txt"
    if mode == "rewrite":
        save_numbers(OLD, path)
    done = _child(CACHE_CHILD, path, mode, stage, kind)
    assert done.returncode == (-signal.SIGKILL if kind == "kill" else -signal.SIGINT), done.stderr

    # left on disk: the old entry or none (the whole new one once renamed), never a part
    if stage == "after rename":
        assert load_numbers(path) == NEW
    elif mode == "rewrite":
        assert load_numbers(path) == OLD
    else:
        assert not path.exists()
    left = sorted(p.name for p in tmp_path.iterdir())
    temps = [name for name in left if name.startswith(".entry.txt.") and name.endswith(".tmp")]
    expected = {"entry.txt"} if path.exists() else set()
    expected |= {"entry.txt.lock"} if mode == "cached" else set()
    assert set(left) - set(temps) == expected
    # a temporary file stays only where nothing could remove it (a kill after it was made), and
    # it is never read: its name is not the entry's
    made = stage != "compute" or mode == "rewrite"  # the rewrite computes inside its write
    assert len(temps) == (kind == "kill" and made and stage != "after rename")

    # the next call: the old entry or the finished one loads; none is computed, once
    calls = []

    def compute():
        calls.append(1)
        return NEW

    value = cached(path, compute, save_numbers, load_numbers)
    assert value == (OLD if mode == "rewrite" and stage != "after rename" else NEW)
    assert len(calls) == (mode == "cached" and stage != "after rename")
    assert load_numbers(path) == value


# ------------------------------------------------------------------------------------------
# a chapter of the book runner, stopped at every stage
# ------------------------------------------------------------------------------------------
CHAPTERS = ["a", "b", "c"]
VICTIM = "b"

BOOK_CHILD = """
    import json, os, signal, sys
    from pathlib import Path
    import nbformat, papermill
    from pprlib import book, profiles

    root, build, profile, stage, force = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
    victim = "book/b.ipynb"
    pages = [root / "book" / f"{name}.ipynb" for name in "abc"]
    book.ROOT, book.toc_files = root, lambda: pages
    profiles._problem_apart = lambda path: None  # the profile is 'seed: 1'; no child process for it

    def fault(where, name):
        if where == stage and name == victim:
            os.kill(os.getpid(), signal.SIGKILL)

    def execute_notebook(source, output, **kwargs):
        # papermill writes the executed copy when it starts and again after every cell
        name = Path(source).relative_to(root).as_posix()
        nb = nbformat.read(source, as_version=4)
        nb.metadata["executed"] = "partly"
        nbformat.write(nb, output)
        fault("executing", name)
        nb.metadata["executed"] = "wholly"
        nbformat.write(nb, output)
        fault("executed", name)

    papermill.execute_notebook = execute_notebook
    real_write = book.atomic_write

    def atomic_write(path, write):
        if path.name != "manifest.json":
            return real_write(path, write)
        before = json.loads(path.read_text()) if path.exists() else {}
        recording = lambda p: victim in json.loads(p.read_text()) and victim not in before

        def written(tmp):
            write(tmp)
            if recording(tmp):
                fault("recording", victim)  # its record written, not yet renamed into place

        real_write(path, written)
        if recording(path):
            fault("recorded", victim)
        return path

    book.atomic_write = atomic_write
    book.execute(profile, build_dir=build, force=force == "force", log=print)
"""

REDONE = {  # what the next run executes, after the run of each mode was killed at each stage of chapter b
    "fresh": {"executing": {"b", "c"}, "executed": {"b", "c"}, "recording": {"b", "c"}, "recorded": {"c"}},
    "force": {"executing": {"b"}, "executed": {"b"}, "recording": {"b"}, "recorded": set()},
    "deleted": {"executing": {"b"}, "executed": {"b"}, "recording": {"b"}, "recorded": set()},
}


@pytest.fixture
def project(tmp_path, monkeypatch, write_notebook):
    """Three fake chapters a, b, c; ``run(force=False)`` executes them here with a papermill that
    only copies (``executed: wholly``) and returns the chapters it executed."""
    import nbformat

    root = tmp_path / "project"
    (root / "book").mkdir(parents=True)
    pages = [write_notebook(root / "book" / f"{name}.ipynb", "seed = 1", f"x = '{name}'") for name in CHAPTERS]
    monkeypatch.setattr(book, "ROOT", root)
    monkeypatch.setattr(book, "toc_files", lambda: pages)
    monkeypatch.setattr(profiles, "_problem_apart", lambda path: None)
    profile = tmp_path / "p.yaml"
    profile.write_text("seed: 1\n")
    build = tmp_path / "_build"
    ran = []

    def execute_notebook(source, output, **kwargs):
        ran.append(Path(source).stem)
        nb = nbformat.read(source, as_version=4)
        nb.metadata["executed"] = "wholly"
        nbformat.write(nb, output)

    monkeypatch.setattr("papermill.execute_notebook", execute_notebook)

    def run(force=False):
        ran.clear()
        book.execute(profile, build_dir=build, force=force, log=lambda *_: None)
        return set(ran)

    return root, build, profile, run


def _vouched_for(build: Path) -> dict[str, str]:
    """Each chapter the manifest records, with how far its executed copy got: a record must
    only ever stand for a whole one."""
    import nbformat

    manifest = build / "executed" / "manifest.json"
    records = json.loads(manifest.read_text()) if manifest.exists() else {}
    return {name: nbformat.read(str(build / "executed" / name), as_version=4).metadata.get("executed", "none")
            for name in records}


@pytest.mark.timeout(300)
@pytest.mark.parametrize("stage", ["executing", "executed", "recording", "recorded"])
@pytest.mark.parametrize("mode", ["fresh", "force", "deleted"])
def test_a_run_killed_at_any_stage_of_a_chapter_leaves_a_true_manifest_and_the_next_redoes_exactly_the_rest(
        project, mode, stage):
    """``fresh``: the first run; ``force``: ``--force`` over a finished run; ``deleted``: a
    finished run whose executed copy of b was deleted (its record kept) to have it run again."""
    root, build, profile, run = project
    if mode != "fresh":
        assert run() == set(CHAPTERS)
    if mode == "deleted":
        (build / "executed" / "book" / "b.ipynb").unlink()
    done = _child(BOOK_CHILD, root, build, profile, stage, "force" if mode == "force" else "no")
    assert done.returncode == -signal.SIGKILL, done.stdout + done.stderr

    assert set(_vouched_for(build).values()) <= {"wholly"}, _vouched_for(build)
    assert run() == REDONE[mode][stage]
    assert _vouched_for(build) == {f"book/{name}.ipynb": "wholly" for name in CHAPTERS}


@pytest.mark.notebooks
@pytest.mark.timeout(300)
def test_a_forced_rerun_killed_inside_a_real_kernel_is_redone(project, write_notebook):
    """The same with papermill and a kernel: the run is killed while chapter b's kernel sleeps
    (papermill has rewritten b's executed copy up to that cell); the next run, not forced, must
    execute b again, not take the half copy for done."""
    root, build, profile, run = project
    assert run() == set(CHAPTERS)
    started = build.parent / "b-started"
    write_notebook(root / "book" / "b.ipynb", "seed = 1", "x = 'b'",
                   f"import pathlib, time\npathlib.Path({str(started)!r}).touch()\ntime.sleep(120)")
    assert run() == {"b"}  # the sleeping cell is only run by the child: this run's papermill only copies
    script = ("import sys\nfrom pathlib import Path\nfrom pprlib import book, profiles\n"
              "root = Path(sys.argv[1])\npages = [root / 'book' / f'{n}.ipynb' for n in 'abc']\n"
              "book.ROOT, book.toc_files = root, lambda: pages\nprofiles._problem_apart = lambda path: None\n"
              "book.execute(sys.argv[3], build_dir=Path(sys.argv[2]), force=True, log=print)\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", script, str(root), str(build), str(profile)], env=env,
                            start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 240
    while not started.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert started.exists(), proc.communicate()[0] if proc.poll() is not None else "b never started"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    manifest = json.loads((build / "executed" / "manifest.json").read_text())
    assert "book/b.ipynb" not in manifest and set(manifest) == {"book/a.ipynb", "book/c.ipynb"}
    assert "time.sleep(120)" in (build / "executed" / "book" / "b.ipynb").read_text()  # papermill's half copy
    assert run() == {"b"}


# ------------------------------------------------------------------------------------------
# a full disk under the cache
# ------------------------------------------------------------------------------------------
FULL = Path("/dev/full")  # every write to it fails with ENOSPC, as on a full disk
needs_full = pytest.mark.skipif(not FULL.exists(), reason="no /dev/full here")
NO_SPACE = "No space left on device"


def save_on_a_full_disk(value, tmp: Path) -> None:
    """Writes half the entry, then meets a full disk the way a real write does: an ``OSError``
    with errno ``ENOSPC`` and no file name."""
    tmp.write_text("1\n2\n")
    with open(FULL, "w") as fh:
        fh.write("3\n" * 100_000)


@needs_full
@pytest.mark.parametrize("mode", ["cached", "rewrite"])
def test_a_full_disk_is_an_error_naming_the_entry_with_no_part_left_and_the_old_entry_kept(tmp_path, mode):
    path = tmp_path / "entry.txt"
    if mode == "rewrite":
        save_numbers(OLD, path)
    with pytest.raises(OSError) as info:
        if mode == "cached":
            cached(path, lambda: NEW, save_on_a_full_disk, load_numbers)
        else:
            atomic_write(path, lambda tmp: save_on_a_full_disk(NEW, tmp))
    assert (info.value.errno, info.value.strerror, info.value.filename) == (errno.ENOSPC, NO_SPACE, str(path))
    assert sorted(p.name for p in tmp_path.iterdir()) == (["entry.txt"] if mode == "rewrite" else []) + (
        ["entry.txt.lock"] if mode == "cached" else [])
    if mode == "rewrite":
        assert load_numbers(path) == OLD
    assert cached(path, lambda: NEW, save_numbers, load_numbers) == (OLD if mode == "rewrite" else NEW)  # space again


@needs_full
def test_a_full_disk_ends_the_command_line_run_with_one_line_naming_the_file(tmp_path, monkeypatch, capsys):
    from pprlib.cli import main

    path = tmp_path / "cache" / "runs" / "run-0123.pt"
    monkeypatch.setattr(book, "run", lambda *a, **k: cached(path, lambda: NEW, save_on_a_full_disk, load_numbers))
    assert main(["book", "--profile", "tiny", "--no-html", "--build-dir", str(tmp_path / "_build")]) == 1
    assert capsys.readouterr().err == (f"error: {path}: {NO_SPACE}; free some space on that disk (or set "
                                       "PPR_CACHE_DIR to another one)\n")
    assert sorted(p.name for p in path.parent.iterdir()) == ["run-0123.pt.lock"]


@needs_full
def test_a_full_disk_under_a_torch_checkpoint_names_the_file_too(tmp_path, monkeypatch):
    """Given a file name, ``torch.save`` on a full disk says only ``unexpected pos 704 vs 598``
    (a RuntimeError); the run layer writes through a Python file, whose error is ENOSPC."""
    import torch

    from pprlib import runs

    real_open = open
    monkeypatch.setattr(runs, "open", lambda path, mode="r", *a, **k: real_open(FULL, mode), raising=False)
    path = tmp_path / "runs" / "run-0123.pt"
    with pytest.raises(OSError) as info:
        runs.stored(path, lambda: {"weights": torch.zeros(50_000)})
    assert (info.value.errno, info.value.filename) == (errno.ENOSPC, str(path))
    assert sorted(p.name for p in path.parent.iterdir()) == ["run-0123.pt.lock"]
    monkeypatch.undo()
    assert runs.stored(path, lambda: {"weights": torch.ones(3)})["weights"].tolist() == [1.0, 1.0, 1.0]


@needs_full
@pytest.mark.notebooks
@pytest.mark.timeout(300)
def test_a_full_disk_inside_a_chapter_stops_the_runner_naming_the_chapter_and_the_file(tmp_path, monkeypatch,
                                                                                     write_notebook):
    root = tmp_path / "project"
    (root / "book").mkdir(parents=True)
    path = tmp_path / "cache" / "entry.txt"
    page = write_notebook(root / "book" / "full.ipynb", "seed = 1", textwrap.dedent(f"""
        from pathlib import Path
        from pprlib.cache import cached

        def save(value, tmp):
            with open({str(FULL)!r}, "w") as fh:
                fh.write("3\\n" * 100_000)

        cached(Path({str(path)!r}), lambda: 1, save, lambda p: 1)
    """))
    monkeypatch.setattr(book, "ROOT", root)
    monkeypatch.setattr(book, "toc_files", lambda: [page])
    monkeypatch.setattr(profiles, "_problem_apart", lambda p: None)
    profile = tmp_path / "p.yaml"
    profile.write_text("seed: 1\n")
    with pytest.raises(book.BookError) as info:
        book.execute(profile, build_dir=tmp_path / "_build", log=lambda *_: None)
    assert str(info.value).startswith(
        f"book/full.ipynb failed in cell In [3] (OSError: [Errno 28] {NO_SPACE}: '{path}'); the executed copy ")
    assert sorted(p.name for p in path.parent.iterdir()) == ["entry.txt.lock"]


# ------------------------------------------------------------------------------------------
# two runners on one cache
# ------------------------------------------------------------------------------------------
RUNNER_CHILD = """
    import json, sys, time
    from pathlib import Path
    import torch
    from pprlib import timing
    from pprlib.context import BookConfig, prepare
    from pprlib.data.synthetic import SyntheticConfig

    torch.set_num_threads(1)
    Path(sys.argv[1]).touch()  # ready
    while not Path(sys.argv[2]).exists():  # both start their work together
        time.sleep(0.05)
    ctx = prepare(BookConfig(n_users=200, n_items=150, heldout_users=0, zero_shot_users=0, pretrain_epochs=2,
                             progress=False), synthetic=SyntheticConfig(n_users=200, n_items=150, max_length=30))
    print(json.dumps({"key": ctx.pre.key, "split": ctx.split_key,
                      "weights": {k: v.double().sum().item() for k, v in ctx.pre.state.items()},
                      "pre-trainings": timing.totals()["counts"].get("pre-trainings", 0)}))
"""


@pytest.mark.timeout(600)
def test_two_runners_on_one_cache_both_finish_with_equal_results_and_one_pre_training(tmp_path):
    """Two processes prepare the same context (a split and a pre-trained backbone, the book's
    largest shared cache entries) in one cache folder, started together. The level is the run's
    own: what a chapter does first, through the same ``cached`` calls a tuning run makes (its
    entry is written the same way), with a model small enough to take seconds."""
    cache, go = tmp_path / "cache", tmp_path / "go"
    env = {**os.environ, "PPR_CACHE_DIR": str(cache), "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    ready = [tmp_path / f"ready-{i}" for i in range(2)]
    procs = [subprocess.Popen([sys.executable, "-c", textwrap.dedent(RUNNER_CHILD), str(r), str(go)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for r in ready]
    deadline = time.monotonic() + 120
    while not all(r.exists() for r in ready) and time.monotonic() < deadline:
        time.sleep(0.05)
    go.touch()
    outs = [p.communicate(timeout=400) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err[-2000:] for _, err in outs]
    results = [json.loads(out.strip().splitlines()[-1]) for out, _ in outs]
    assert sum(r.pop("pre-trainings") for r in results) == 1  # one pre-trained, the other waited and loaded
    assert results[0] == results[1]

    import numpy as np
    import torch

    files = sorted(p.relative_to(cache).as_posix() for p in cache.rglob("*") if p.is_file())
    assert not [f for f in files if f.endswith(".tmp")], files
    checkpoints = [cache / f for f in files if f.startswith("checkpoints/") and f.endswith(".pt")]
    assert len(checkpoints) == 1
    state = torch.load(checkpoints[0], weights_only=True)["state"]
    assert {k: v.double().sum().item() for k, v in state.items()} == results[0]["weights"]
    splits = [f for f in files if f.startswith("splits/") and f.endswith(".npz")]
    assert len(splits) == 1
    with np.load(cache / splits[0]) as z:  # a whole archive: every member reads
        assert all(z[name].size >= 0 for name in z.files)
