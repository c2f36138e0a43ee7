"""The book runner is quiet: one line per chapter and real warnings. Kernels talk to it over
IPC sockets, so the kernel has no reason to print its unencrypted-TCP warning."""

from __future__ import annotations

import subprocess
import sys

import nbformat
import pytest

pytestmark = pytest.mark.notebooks

SCRIPT = """
import pathlib, sys, tempfile
import papermill
from pprlib.book import _ipc_kernel_manager
folder = pathlib.Path(sys.argv[1])
extra = {{}}
if sys.argv[2] == "ipc":
    extra["kernel_manager_class"] = _ipc_kernel_manager(folder)
papermill.execute_notebook(str(folder / "nb.ipynb"), str(folder / "out.ipynb"), kernel_name="python3",
                           progress_bar=False, log_output=False, **extra)
"""


def _run(tmp_path, transport: str) -> str:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1 + 1")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(tmp_path / "nb.ipynb"))
    done = subprocess.run([sys.executable, "-c", SCRIPT.format(), str(tmp_path), transport],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


def test_kernels_over_ipc_print_nothing(tmp_path):
    assert _run(tmp_path, "ipc").strip() == ""
    assert list(tmp_path.glob("kernel-*")) == []  # socket files are removed with the kernel


def test_the_default_tcp_kernel_warns_which_is_why_the_runner_uses_ipc(tmp_path):
    """The control for the test above: without IPC the kernel prints the warning."""
    assert "Kernel is running over TCP without encryption" in _run(tmp_path, "tcp")
