"""The tuning step with and without its exact fast paths (a measurement, not a test).

    python benchmarks/step_paths.py [--reps 7]

Two paths of a tuning step give the same numbers bit for bit as the ones they replaced (the
tests check it) and are timed here against them, on the default world's cold tuning users, one
CPU thread, the book's batches and contrastive loss:

* the optimizer: AdamW's multi-tensor (``foreach``) implementation against its
  one-tensor-at-a-time loop (torch's default on a CPU);
* the profile mask of PPR's prompt-based view: each row's k smallest draws found by selection
  (``kthvalue``) against a sort of the whole row (:func:`pprlib.augment._random_subset`).

For each method and targets the two variants alternate epoch by epoch (``--reps`` epochs each,
the first of each left out), so that a change in the machine's load hits both alike; the median
seconds per optimizer step of each and their ratio go to ``results/step_paths.csv``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.book_time import machine, replace_rows  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "step_paths.csv"
CASES = [("ft", "few"), ("PPR(light)", "few"), ("PPR(full)", "few"), ("PPR(light)", "zero"), ("PPR(full)", "zero")]


def default_context():
    """The default profile's context, at one CPU thread (the book's kernels run two at a time)."""
    from pprlib.config import BookConfig
    from pprlib.context import prepare
    from pprlib.profiles import load_profile

    torch.set_num_threads(1)
    return prepare(BookConfig.from_params(load_profile("default")))


def epoch_seconds(model, batches, cfg, cl, optimizer) -> float:
    """Seconds per optimizer step of one tuning epoch of ``model`` over ``batches`` (the tuning
    settings ``cfg``, the contrastive settings ``cl``), drawing from a generator seeded 0."""
    generator = torch.Generator().manual_seed(0)
    model.train()
    start = time.perf_counter()
    for batch in batches:
        loss, _ = model(batch, cfg.targets, cl, generator, cfg.loss, None)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return (time.perf_counter() - start) / len(batches)


def step_seconds(ctx, name: str, targets: str, fast: bool) -> float:
    """Seconds per optimizer step of one epoch of ``name`` tuned on ``targets``, with the fast
    paths (``fast``) or without them."""
    from pprlib import augment, runs
    from pprlib.data.batching import loader
    from pprlib.train import make_optimizer

    model, job = runs.tuning_job(ctx, name, ctx.settings(lr={name: 1e-3}), targets, 0)
    cfg = job["cfg"]
    optimizer = (make_optimizer(job["params"], cfg) if fast else
                 torch.optim.AdamW(job["params"], lr=cfg.lr, weight_decay=cfg.weight_decay, foreach=False))
    selection = augment._smallest_by_selection
    if not fast:
        augment._smallest_by_selection = lambda noise, counts: None  # every mask by the sort
    try:
        batches = list(loader(job["train"], cfg.batch_size, shuffle=True, seed=0))
        return epoch_seconds(model, batches, cfg, job["cl"], optimizer)
    finally:
        augment._smallest_by_selection = selection


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--label", default="tuning step, default world, one thread")
    args = ap.parse_args()
    ctx = default_context()
    rows = []
    for name, targets in CASES:
        times = {True: [], False: []}
        for _ in range(args.reps):
            for fast in (False, True):
                times[fast].append(step_seconds(ctx, name, targets, fast))
        before, after = statistics.median(times[False][1:]), statistics.median(times[True][1:])
        rows.append({"method": name, "targets": targets, "before_ms": 1e3 * before, "after_ms": 1e3 * after,
                     "ratio": after / before})
        print(f"{name} {targets}: {1e3 * before:.2f} -> {1e3 * after:.2f} ms per step ({after / before:.3f})")
    table = pd.DataFrame(rows)
    table.insert(0, "label", args.label)
    table["machine"] = machine()
    replace_rows(RESULTS, table, args.label, float_format="%.3f")


if __name__ == "__main__":
    main()
