"""The ``movielens-1m`` profile's method chapters at MovieLens-1M's size, timed (a measurement, not a test).

    python benchmarks/movielens_1m.py --label "ML-1M size, generated"            # a generated folder
    python benchmarks/movielens_1m.py --folder path/to/ml-1m --label "ML-1M"    # the real files

GroupLens does not allow redistributing ML-1M, so without ``--folder`` a folder of its size is
written from the generator (:func:`generated_folder`: 6,040 users, 3,706 movies, about a
million ratings, every user with at least 20, a heavy tail of long histories; the GroupLens
format, :func:`pprlib.data.writers.write_movielens_1m`). The chapters (default: pre-training,
few-shot, zero-shot) are executed on an empty cache with ``--jobs`` at a time, as ``make book``
does, and each chapter's seconds and their parts (:mod:`pprlib.timing`) are appended to
``results/movielens_1m_time.csv`` under ``--label`` with the machine.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from benchmarks.book_time import chapter_times, machine, replace_rows  # noqa: E402

RESULTS = HERE / "results" / "movielens_1m_time.csv"
ML1M = {"users": 6040, "movies": 3706, "ratings": 1_000_209}
"""MovieLens-1M's size (GroupLens' README); every user has rated at least 20 movies."""


def generated_folder(folder: Path, seed: int = 0) -> Path:
    """A GroupLens ML-1M folder of ML-1M's size written from the generator: log-normal history
    lengths (spread 0.8, at most 2,000, 0.1 % below 10 and about 1 % below ML-1M's minimum of
    20), about 163 ratings per user as in ML-1M's 166."""
    from pprlib.data.synthetic import SyntheticConfig, generate
    from pprlib.data.writers import write_movielens_1m

    cfg = SyntheticConfig(n_users=ML1M["users"], n_items=ML1M["movies"], seed=seed, cold_share=0.001,
                          length_sigma=0.8, max_length=2000, profile_missing_rate=0.0)
    return write_movielens_1m(folder, generate(cfg), seed)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folder", type=Path, help="a GroupLens ml-1m folder (default: one written from the generator)")
    ap.add_argument("--label", required=True)
    ap.add_argument("--only", nargs="+", default=["pretraining", "few_shot", "zero_shot"])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--work", type=Path, help="folder for the data, cache and build (default: a temporary one)")
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="pprlib-ml1m-"))
    folder = args.folder
    if folder is None:
        start = time.perf_counter()
        folder = generated_folder(work / "ml-1m")
        print(f"wrote {folder} in {time.perf_counter() - start:.0f} s")
    env = {**os.environ, "PPR_MOVIELENS_1M": str(folder), "PPR_CACHE_DIR": str(work / "cache"), "TQDM_DISABLE": "1"}
    build = work / "_build"
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pprlib", "book", "--profile", "movielens-1m", "--jobs", str(args.jobs),
                    "--no-html", "--force", "--build-dir", str(build), "--only", *args.only], env=env, check=True)
    wall = time.perf_counter() - start
    table = chapter_times(build)
    table.insert(0, "label", args.label)
    table["wall seconds (all chapters)"] = round(wall, 1)
    table["machine"] = machine()
    table = replace_rows(RESULTS, table, args.label)
    print(table[table.label == args.label].drop(columns=["label", "machine"]).to_string(index=False))
    print(f"{wall:.0f} s wall for {', '.join(args.only)} at --jobs {args.jobs}; wrote {RESULTS}")


if __name__ == "__main__":
    main()
