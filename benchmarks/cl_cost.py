"""What PPR's contrastive loss costs a tuning step, view by view (a measurement, not a test).

    python benchmarks/cl_cost.py [--reps 7]

A step of PPR's prompt-oriented contrastive loss runs the sequence model three times: for the
recommendation loss, for the prompt-based view (the same clicks after a prompt from a partly
masked profile) and for the behaviour-based views (every anchor's own clicks, partly masked, one
sequence per anchor). This times one tuning step of PPR(light) and PPR(full) on the default
world's cold tuning users, one CPU thread, the book's batches, with the loss as the book trains
it and with parts of it taken away:

* ``none``: the recommendation loss alone;
* ``prompt view only``: the contrastive loss with the prompt-based view only;
* ``behaviour views only``: the contrastive loss with the behaviour-based views only;
* ``the book's``: both views, as the book tunes;
* ``the book's, 64 anchors``: both views on a random 64 of each batch's anchors
  (``ContrastiveConfig.max_anchors``), a cheaper loss the book does not use.

Zero-shot anchors have no clicks to mask, so a zero-shot step of the book's loss has the
prompt-based view only: there ``none`` and ``the book's`` are timed. The variants alternate epoch by epoch (``--reps``
epochs each, the first of each left out), so that a change in the machine's load hits them
alike; the median milliseconds per optimizer step of each, its ratio to ``none`` and the mean
number of anchors and behaviour-based views per batch go to ``results/cl_cost.csv``, each row
with what its loss holds (``prompt_view``, ``behaviour_view``, ``max_anchors``: empty for every
anchor), from which the Performance chapter reads it (:func:`pprlib.bench.cl_cost`).
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
from pathlib import Path

import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.book_time import machine, replace_rows  # noqa: E402
from benchmarks.step_paths import default_context, epoch_seconds  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "cl_cost.csv"
CASES = [("PPR(light)", "few"), ("PPR(full)", "few"), ("PPR(light)", "zero"), ("PPR(full)", "zero")]
ANCHORS = 64


def variants(cl, targets: str) -> dict:
    """The contrastive settings timed for ``targets``, by name (None: no contrastive loss)."""
    if targets == "zero":
        return {"none": None, "the book's": cl}
    return {"none": None, "prompt view only": dataclasses.replace(cl, behaviour_view=False),
            "behaviour views only": dataclasses.replace(cl, prompt_view=False), "the book's": cl,
            f"the book's, {ANCHORS} anchors": dataclasses.replace(cl, max_anchors=ANCHORS)}


def views_per_batch(model, job, batches, cl) -> tuple[float, float]:
    """Mean anchors and behaviour-based views per batch with ``cl`` (0, 0 without it)."""
    if cl is None:
        return 0.0, 0.0
    generator = torch.Generator().manual_seed(0)
    inputs = [model.loss_inputs(batch, job["cfg"].targets, cl, generator) for batch in batches]
    return (statistics.mean(len(x["rows"]) for x in inputs), statistics.mean(len(x["b_index"]) for x in inputs))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--label", default="tuning step by contrastive view, default world, one thread")
    args = ap.parse_args()
    from pprlib import runs
    from pprlib.data.batching import loader
    from pprlib.train import make_optimizer

    ctx = default_context()
    rows = []
    for name, targets in CASES:
        model, job = runs.tuning_job(ctx, name, ctx.settings(lr={name: 1e-3}), targets, 0)
        batches = list(loader(job["train"], job["cfg"].batch_size, shuffle=True, seed=0))
        state = {k: v.clone() for k, v in model.state_dict().items()}
        timed = variants(job["cl"], targets)
        times = {variant: [] for variant in timed}
        for _ in range(args.reps):
            for variant, cl in timed.items():
                model.load_state_dict(state)  # every epoch starts from the same weights
                optimizer = make_optimizer(job["params"], job["cfg"])
                times[variant].append(epoch_seconds(model, batches, job["cfg"], cl, optimizer))
        none = statistics.median(times["none"][1:])
        for variant, cl in timed.items():
            ms = statistics.median(times[variant][1:])
            anchors, behaviour = views_per_batch(model, job, batches, cl)
            rows.append({"method": name, "targets": targets, "loss": variant,
                         "prompt_view": cl is not None and cl.prompt_view,
                         "behaviour_view": cl is not None and cl.behaviour_view and targets != "zero",
                         "max_anchors": cl.max_anchors if cl is not None else None,
                         "ms": 1e3 * ms, "ratio": ms / none, "anchors": anchors, "behaviour_views": behaviour})
            print(f"{name} {targets} {variant}: {1e3 * ms:.2f} ms per step ({ms / none:.2f} x none)")
    table = pd.DataFrame(rows)
    table.insert(0, "label", args.label)
    table["machine"] = machine()
    replace_rows(RESULTS, table, args.label, float_format="%.3f")


if __name__ == "__main__":
    main()
