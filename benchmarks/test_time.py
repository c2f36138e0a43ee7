"""Where the test suite's time goes (a measurement, not a test).

    python benchmarks/test_time.py --label "make test, JOBS=2" --jobs 2

Runs the suite as ``make test`` does (``--jobs`` processes, each test module whole on one) with
pytest's ``--durations=0`` and writes, under ``--label`` with the machine and the suite's wall
time: the 30 slowest phases (a test's set-up, where its fixtures are built, its call or its
tear-down) to ``results/test_time.csv`` and every module's seconds (all its phases summed) to
``results/test_modules.csv``, replacing the rows of the same label.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
from benchmarks.book_time import machine, replace_rows  # noqa: E402

SLOWEST = HERE / "results" / "test_time.csv"
MODULES = HERE / "results" / "test_modules.csv"
LINE = re.compile(r"^\s*([0-9.]+)s\s+(setup|call|teardown)\s+(.+?)\s*$")


def durations(output: str) -> pd.DataFrame:
    """The phases pytest's ``--durations`` lists: seconds, phase, test id, module."""
    rows = [(float(m[1]), m[2], m[3]) for m in map(LINE.match, output.splitlines()) if m]
    frame = pd.DataFrame(rows, columns=["seconds", "phase", "test"])
    frame["module"] = frame.test.str.split("::").str[0]
    return frame


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--label", required=True)
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--durations=0", "--durations-min=0"]
    if args.jobs > 1:
        command += ["-n", str(args.jobs), "--dist", "loadfile"]
    start = time.perf_counter()
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    print(proc.stdout.splitlines()[-1] if proc.stdout else proc.stderr[-2000:])
    frame = durations(proc.stdout)
    here = machine()
    slowest = frame.nlargest(30, "seconds").assign(label=args.label, jobs=args.jobs, wall_s=round(wall, 1),
                                                   machine=here)
    modules = (frame.groupby("module").seconds.sum().sort_values(ascending=False).reset_index()
               .assign(label=args.label, jobs=args.jobs, wall_s=round(wall, 1), machine=here))
    replace_rows(SLOWEST, slowest, args.label, "%.2f")
    replace_rows(MODULES, modules, args.label, "%.2f")
    print(modules.head(15).to_string(index=False))
    print(f"{wall:.0f} s wall, {frame.seconds.sum():.0f} s in tests; exit status {proc.returncode}")


if __name__ == "__main__":
    main()
