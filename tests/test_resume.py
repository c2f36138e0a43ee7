"""An interrupted batch run resumes where it stopped and produces the same book.

A real run of the CLI is killed (SIGKILL to its whole process group) as soon as its first
chapter is recorded as finished; the second run skips that chapter, executes the rest, and its
glued values equal those of an uninterrupted run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from pprlib import book

pytestmark = pytest.mark.notebooks

# two chapters, the first quick (the kill waits for it), the second with real work (the
# generated data, its split and ceilings, written to the cache while the kill may land)
CHAPTERS = ["intro", "data_protocol"]


def _command(build_dir):
    return [sys.executable, "-m", "pprlib", "book", "--profile", "tiny", "--no-html", "--jobs", "1",
            "--build-dir", str(build_dir), "--only", *CHAPTERS]


def _env(cache):
    return {**os.environ, "PPR_CACHE_DIR": str(cache), "OMP_NUM_THREADS": "1"}


def _glued(build_dir):
    """Glued values of the chapters, wall-clock timings left out."""
    out = {}
    for name in CHAPTERS:
        values = book.glued(build_dir / "executed" / "book" / f"{name}.ipynb", rich=False)
        out[name] = {k: v for k, v in values.items() if "seconds" not in k}
    return out


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    """A run that was never interrupted (fresh cache, same settings)."""
    root = tmp_path_factory.mktemp("clean")
    run = subprocess.run(_command(root / "_build"), env=_env(root / "cache"), capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    return _glued(root / "_build")


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_killed_run_resumes_from_the_first_unfinished_chapter(tmp_path, sig, clean):
    build_dir = tmp_path / "_build"
    manifest = build_dir / "executed" / "manifest.json"
    proc = subprocess.Popen(_command(build_dir), env=_env(tmp_path / "cache"), start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if manifest.exists() and json.loads(manifest.read_text()):
            break
        time.sleep(0.2)
    assert proc.poll() is None, "the run ended before it could be interrupted:\n" + proc.stdout.read()
    os.killpg(proc.pid, sig)
    proc.wait(timeout=60)
    proc.stdout.close()
    finished = set(json.loads(manifest.read_text()))
    everything = {f"book/{n}.ipynb" for n in CHAPTERS}
    assert finished and finished < everything  # stopped in the middle

    resumed = subprocess.run(_command(build_dir), env=_env(tmp_path / "cache"), capture_output=True, text=True,
                             timeout=600)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    for name in finished:
        assert f"{name}: up to date, skipped" in resumed.stdout
    for name in everything - finished:
        assert f"{name}: done in" in resumed.stdout
    assert set(json.loads(manifest.read_text())) == everything

    assert _glued(build_dir) == clean
