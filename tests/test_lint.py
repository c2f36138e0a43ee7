"""The linter: ruff, pinned in the test extra and configured in pyproject.toml (pyflakes,
pycodestyle's import, statement and syntax rules, import order, bugbear and pyupgrade), finds
nothing in the package, the tests, the benchmarks and the quality scripts."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ruff_finds_nothing():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "concise", "."],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, f"ruff (pip install -e '.[test]'):\n{result.stdout}{result.stderr}"


def test_ruff_checks_the_house_rules():
    """The rule sets stay selected: import order (I), bugbear (B) and pyupgrade (UP) beside pyflakes
    and pycodestyle's import, statement and syntax rules."""
    lint = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["ruff"]["lint"]
    assert {"E4", "E7", "E9", "F", "I", "B", "UP"} <= set(lint["select"])
