"""Comparisons: many runs of :mod:`pprlib.runs` over methods, seeds and learning rates.

:func:`compare` runs several methods over seeds and collects their per-instance test metrics,
:func:`choose_lr` picks each method's learning rate on validation, :func:`trained_on_all` trains
the "all data" baselines. Each first lets the runner (:mod:`pprlib.grid`: in this process,
batched, on Ray) compute the missing runs into the cache, chosen here by the ``runner``
argument, whose default is the environment variable ``PPR_RUNNER``; then it reads them one by
one. This module sits above the runners: :mod:`pprlib.runs` and :mod:`pprlib.batched` never
call up into it.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import TYPE_CHECKING

import numpy as np

from pprlib import grid, timing
from pprlib.comparison import Comparison, collect
from pprlib.evaluation import evaluate
from pprlib.methods import method
from pprlib.models.ppr import PPRConfig, PPRModel, SequenceCLConfig
from pprlib.runs import TuneSettings, instances, label, pretrain, run_method
from pprlib.train import has_diverged, resolve_device

if TYPE_CHECKING:
    from pprlib.context import Context




def compare(ctx: Context, methods: list[str], settings: TuneSettings | None = None, targets: str = "few",
            seeds: list[int] | None = None, *, use_cache: bool = True, log=None, runner: str | None = None
            ) -> Comparison:
    """Run every method for every seed (default: the context's seeds) and collect per-instance
    test metrics; ``runner`` (:data:`pprlib.grid.RUNNERS`, default ``PPR_RUNNER``) computes the
    missing runs first."""
    settings = settings or ctx.settings()
    for name in methods:
        method(name)  # fail early on a typo
    seeds = list(ctx.config.seeds) if seeds is None else list(seeds)
    if use_cache:  # the runner computes the runs into the cache first (batched, on Ray), then read below
        grid.prefetch(ctx, [(name, settings, targets, seed) for seed in seeds for name in methods], runner)
    return collect(lambda name, seed: run_method(ctx, name, settings, targets, seed, use_cache=use_cache),
                   methods, seeds, log=log)


def choose_lr(ctx: Context, names: list[str], targets: str = "few", base: TuneSettings | None = None,
              seed: int | None = None, *, runner: str | None = None) -> dict[str, float]:
    """The learning rate of each method from ``ctx.config.lr_grid``, chosen on the validation
    split (best validation NDCG@10 of one seed): the fair setting (the data chapter's "Fair comparisons" section).

    Each rate is scored by its best validation NDCG@10 *after tuning started* (epoch >= 1):
    epoch 0 is the untuned model, the same for every rate, and counting it would make every
    rate that only loses tie with the first one. Ties go to the rate listed first in the grid. A
    rate whose run diverged (:func:`~pprlib.train.has_diverged`) is a failed candidate, left out
    with a warning naming the method, the rate and the epoch; if every rate diverged, a
    ``ValueError`` names them all."""
    base = base or ctx.settings()
    seed = ctx.config.seeds[0] if seed is None else seed
    grid_settings = {(name, lr): dataclasses.replace(base, lr={**base.lr, name: lr})
                     for name in names if method(name).tuned for lr in ctx.config.lr_grid}
    chosen = {}
    with timing.part("learning-rate choice"):
        grid.prefetch(ctx, [(name, settings, targets, seed) for (name, _), settings in grid_settings.items()], runner)
        for name in names:
            if not method(name).tuned:
                continue
            best, failed = (-np.inf, None), []
            for lr in ctx.config.lr_grid:
                history = run_method(ctx, name, grid_settings[name, lr], targets, seed)["history"]
                if has_diverged(history):  # a failed candidate, never chosen
                    failed.append((lr, int(history["epoch"].max())))
                    continue
                score = history.loc[history["epoch"] > 0, "val/NDCG@10"].max()
                if score > best[0]:  # strictly better: a tie keeps the earlier rate
                    best = (score, lr)
            if failed:
                said = ", ".join(f"{lr:g} (epoch {epoch})" for lr, epoch in failed)
                if best[1] is None:
                    raise ValueError(f"{name} diverged at every learning rate of the grid ({said}; {targets}-shot, "
                                     f"seed {seed}): its loss or weights became NaN or infinite; add smaller rates "
                                     "to lr_grid")
                warnings.warn(f"{name} diverged at learning rate {said} ({targets}-shot, seed {seed}): that rate "
                              f"is left out of the choice; {best[1]:g} chosen", RuntimeWarning, stacklevel=2)
            chosen[name] = best[1]
    return chosen


def trained_on_all(ctx: Context, name: str = "SASRec (all data)", seq_cl: SequenceCLConfig | None = None,
                   targets: str = "few", test_population: str | None = None) -> Comparison:
    """A backbone trained from scratch on the warm users and the cold tuning users together,
    evaluated on the cold test users like every tuned method (one run, the context's seed;
    ``test_population`` defaults to the context's, :attr:`~pprlib.context.Context.test_population`)."""
    pre = pretrain(ctx.split, ctx.backbone, ctx.pretrain_cfg, seq_cl=seq_cl, include_cold=True)
    data = ctx.split.data
    model = PPRModel(data.n_items, data.field_sizes, ctx.backbone, PPRConfig(prompt="none", profile_model=False))
    model.load_pretrained(pre.state)
    device = resolve_device(ctx.pretrain_cfg.device)
    model.to(device).eval()
    test = instances(ctx.split, test_population or ctx.test_population, targets)
    with timing.part("test evaluation"):
        per = evaluate(model.full_sort_predict, ctx.split, test, device=device)
    label(per, ctx.split, test)
    key = (name, ctx.config.seeds[0])
    return Comparison({key: per}, {key: pre.history}, {key: float(pre.history.seconds.max())})
