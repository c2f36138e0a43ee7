"""Peak memory of a command and every process it starts (a measurement, not a test).

    python benchmarks/memory.py -- make book            # the whole book with its kernels
    python benchmarks/memory.py --out results/book_memory.csv -- make book

Every ``--every`` seconds the process tree of the command is read with psutil and summed:
the proportional set size (PSS: a page shared by k processes counts 1/k in each, so the sum is
what the tree holds together) and the resident set size (RSS: shared pages counted in every
process, an upper bound). Prints the peaks (all processes together, and the largest one with
its command line) and, with ``--out``, appends one row to a CSV file.
"""

from __future__ import annotations

import argparse
import csv
import platform
import subprocess
import sys
import time
from pathlib import Path

import psutil

GIB = 2**30


def tree(root: psutil.Process) -> list[psutil.Process]:
    try:
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def sample(processes: list[psutil.Process]) -> tuple[float, float, tuple[float, str]]:
    """(PSS sum, RSS sum, (largest PSS, its command)) of ``processes``, in bytes."""
    pss = rss = 0.0
    largest = (0.0, "")
    for proc in processes:
        try:
            info = proc.memory_full_info()
            # absolute paths as their last part: the results name no machine's folders
            cmd = " ".join(Path(a).name if a.startswith("/") else a for a in proc.cmdline())[:120]
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        pss, rss = pss + info.pss, rss + info.rss
        largest = max(largest, (float(info.pss), cmd))
    return pss, rss, largest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--every", type=float, default=1.0, help="seconds between samples")
    parser.add_argument("--out", type=Path, help="append a row to this CSV file")
    parser.add_argument("--label", default="", help="the row's label (default: the command)")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the command, after --")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to measure after --")
    start = time.perf_counter()
    child = subprocess.Popen(command)
    root = psutil.Process(child.pid)
    peak_pss = peak_rss = 0.0
    peak_one = (0.0, "")
    at = 0.0
    while child.poll() is None:
        pss, rss, one = sample(tree(root))
        if pss > peak_pss:
            peak_pss, at = pss, time.perf_counter() - start
        peak_rss, peak_one = max(peak_rss, rss), max(peak_one, one)
        time.sleep(args.every)
    seconds = time.perf_counter() - start
    row = {"label": args.label or " ".join(command), "exit": child.returncode, "seconds": round(seconds, 1),
           "peak_pss_gib": round(peak_pss / GIB, 3), "peak_at_s": round(at, 1), "peak_rss_sum_gib": round(peak_rss / GIB, 3),
           "largest_pss_gib": round(peak_one[0] / GIB, 3), "largest": peak_one[1],
           "machine": f"{platform.processor() or platform.machine()}, {psutil.cpu_count()} cores"}
    print(", ".join(f"{k} {v}" for k, v in row.items()), file=sys.stderr)
    if args.out:
        new = not args.out.exists()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with args.out.open("a", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(row))
            if new:
                writer.writeheader()
            writer.writerow(row)
    return child.returncode


if __name__ == "__main__":
    sys.exit(main())
