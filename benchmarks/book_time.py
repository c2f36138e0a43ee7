"""Where the book's time goes, per chapter (a measurement, not a test).

    python benchmarks/book_time.py --build-dir _build --label "make book, fresh clone"

Reads an executed build (``<build-dir>/executed``): each chapter's wall time from the runner's
record (``manifest.json``) and the parts of it that the chapter's kernel counted
(:mod:`pprlib.timing`, glued as ``seconds_by_part`` by the provenance cell): pre-training, tuning
steps, validation, test evaluation, learning-rate choice, ceilings, and everything else (the
chapter's time less those: imports, data, statistics, figures, the kernel's start). Writes one
row per chapter to ``results/book_time.csv`` (replacing the rows of the same label) with the
runs, pre-trainings and optimizer steps, and prints the table. Run it on a build made with
``--force`` on an empty cache (a fresh clone): a chapter that read another's cached runs
shows only what it computed itself.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from pathlib import Path

import pandas as pd

from pprlib import book, timing

RESULTS = Path(__file__).parent / "results" / "book_time.csv"


def cpu_name() -> str:
    """The CPU's model name (Linux), else the machine type."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def machine() -> str:
    """The machine a measurement names: its CPU and how many cores it has."""
    return f"{cpu_name()}, {os.cpu_count()} cores"


def chapter_times(build_dir: Path) -> pd.DataFrame:
    """One row per executed chapter: its seconds, the seconds of each part, everything else, the counts."""
    executed = build_dir / "executed"
    manifest = json.loads((executed / "manifest.json").read_text(encoding="utf-8"))
    rows = []
    for name, record in manifest.items():
        path = executed / name
        parts = book.glued(path, rich=False).get("seconds_by_part") if path.exists() else None
        seconds = (parts or {}).get("seconds", {})
        counts = (parts or {}).get("counts", {})
        row = {"chapter": Path(name).stem, "seconds": float(record["seconds"])}
        row.update({p: float(seconds.get(p, 0.0)) for p in timing.PARTS})
        row["everything else"] = row["seconds"] - sum(row[p] for p in timing.PARTS)
        row.update({k: int(counts.get(k, 0)) for k in ("runs", "pre-trainings", "optimizer steps")})
        rows.append(row)
    return pd.DataFrame(rows).sort_values("seconds", ascending=False, ignore_index=True)


def replace_rows(path: Path, table: pd.DataFrame, label: str, float_format: str = "%.1f") -> pd.DataFrame:
    """Write ``table`` (one measurement, ``label``) to the results file ``path`` in place of that
    label's earlier rows, keeping the other measurements; returns the whole file's table."""
    if path.exists():
        old = pd.read_csv(path)
        table = pd.concat([old[old.label != label], table], ignore_index=True)
    table.to_csv(path, index=False, float_format=float_format)
    return table


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build-dir", default="_build", type=Path)
    ap.add_argument("--label", required=True, help="what was measured, e.g. 'make book, fresh clone'")
    ap.add_argument("--out", default=RESULTS, type=Path)
    args = ap.parse_args()
    table = chapter_times(args.build_dir)
    table.insert(0, "label", args.label)
    table["machine"] = machine()
    table = replace_rows(args.out, table, args.label)
    shown = table[table.label == args.label].drop(columns=["label", "machine"])
    print(shown.to_string(index=False, float_format=lambda v: f"{v:.1f}"))
    print(f"{shown.seconds.sum():.0f} s in all chapters; wrote {args.out}")


if __name__ == "__main__":
    main()
