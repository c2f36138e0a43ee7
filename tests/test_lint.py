"""The linter: ruff, pinned in the test extra and configured in pyproject.toml (pyflakes and
pycodestyle's import, statement and syntax rules), finds nothing in the package, the tests,
the benchmarks and the quality scripts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ruff_finds_nothing():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "concise", "."],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, f"ruff (pip install -e '.[test]'):\n{result.stdout}{result.stderr}"
