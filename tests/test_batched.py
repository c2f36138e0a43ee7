"""Runs trained together (pprlib.batched) equal the same runs done one by one."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from pprlib import runs as rs
from pprlib.batched import FitRun, batchable, run_many, tune_many

# weights and metrics agree up to float rounding: padding, batched matrix products and the
# math attention kernel change the order of float operations, and training carries that along
WEIGHTS_ATOL = 2e-4
METRICS_ATOL = 1e-5


def _runs(ctx, name):
    """Three runs of ``name`` with different seeds and learning rates, patience 1: one of them
    stops (and restores its best weights) while the others continue."""
    train = dataclasses.replace(ctx.tune_cfg, max_epochs=4, patience=1)
    return [(dataclasses.replace(ctx.settings(lr={name: lr}), train=train), seed)
            for lr, seed in ((1e-2, 0), (1e-3, 1), (3e-2, 2))]


@pytest.mark.parametrize("name", ["ft", "PPR(light)", "PPR(full)"])
def test_batched_runs_equal_the_runs_done_one_by_one(small_ctx, name):
    ctx = small_ctx
    runs = _runs(ctx, name)
    alone = [rs.tune(ctx, name, s, "few", seed) for s, seed in runs]
    together = tune_many(ctx, name, runs, "few")
    epochs = [len(h) for _, h in alone]
    assert len(set(epochs)) > 1, f"the premise: one run stops before another ({epochs})"
    if rs.method(name).contrastive:
        assert all("loss/cl" in h.columns for _, h in alone), "the contrastive loss is part of the test"
    for (m1, h1), (m2, h2) in zip(alone, together, strict=True):
        assert list(h1.columns) == list(h2.columns) and len(h1) == len(h2)
        numeric = [c for c in h1.columns if c != "seconds"]
        np.testing.assert_allclose(h2[numeric].to_numpy(), h1[numeric].to_numpy(), atol=METRICS_ATOL, rtol=1e-4)
        s1, s2 = m1.state_dict(), m2.state_dict()
        assert s1.keys() == s2.keys()
        for k in s1:
            torch.testing.assert_close(s2[k], s1[k], atol=WEIGHTS_ATOL, rtol=1e-3, msg=f"{name}: {k}")


def test_run_many_equals_run_method_and_stores_under_the_same_keys(small_ctx, tmp_path, monkeypatch):
    ctx = small_ctx
    monkeypatch.setenv("PPR_CACHE_DIR", str(tmp_path))
    settings = dataclasses.replace(ctx.settings(lr={"PPR(light)": 1e-2}),
                                   train=dataclasses.replace(ctx.tune_cfg, max_epochs=2))
    runs = [(name, settings, "few", seed) for name in ("pre-train", "PPR(light)") for seed in (0, 1)]
    together = run_many(ctx, runs)
    for (name, s, targets, seed), out in zip(runs, together, strict=True):
        alone = rs.run_method(ctx, name, s, targets, seed, use_cache=False)
        for metric, values in alone["metrics"].items():
            np.testing.assert_allclose(out["metrics"][metric], values, atol=METRICS_ATOL, err_msg=f"{name} {metric}")
        stored = rs.run_method(ctx, name, s, targets, seed)  # read, not recomputed
        assert stored["seconds"] == out["seconds"]


def test_runs_that_cannot_be_batched_say_why(small_ctx):
    ctx = small_ctx
    _, job = rs.tuning_job(ctx, "ft", ctx.settings(), "few", 0)
    assert batchable(FitRun(**job)) is None
    assert "loss 'ce'" in batchable(FitRun(**{**job, "cfg": dataclasses.replace(job["cfg"], loss="ce")}))


def test_a_run_that_diverges_in_a_batch_stops_as_alone_while_the_others_go_on(small_ctx, monkeypatch):
    """The batched loop keeps each run's epochs as :func:`pprlib.train.fit` does (one
    bookkeeping, :class:`pprlib.train.Epochs`): a run whose weights become NaN stops, its
    history says ``diverged``, it keeps its best finite weights; the run beside it is unaffected."""
    from test_divergence import _poisoned  # (the tests folder is on the path)

    import pprlib.batched as batched
    from pprlib import train

    _poisoned(monkeypatch, 3e-2)
    monkeypatch.setattr(batched, "make_optimizer", train.make_optimizer)  # the poisoned one
    ctx = small_ctx
    runs = _runs(ctx, "PPR(light)")  # rates 1e-2, 1e-3 and the poisoned 3e-2
    healthy = rs.tune(ctx, "PPR(light)", runs[0][0], "few", runs[0][1])
    together = tune_many(ctx, "PPR(light)", runs, "few")
    model, history = together[2]
    assert train.has_diverged(history) and history["epoch"].iloc[-1] == 1
    assert all(torch.isfinite(p).all() for p in model.parameters())
    numeric = [c for c in healthy[1].columns if c != "seconds"]
    np.testing.assert_allclose(together[0][1][numeric].to_numpy(), healthy[1][numeric].to_numpy(), atol=METRICS_ATOL)
