"""A run that diverges (its loss or weights no longer finite) is a result, not a crash: it stops,
says so in its history, keeps its best weights from before, and a learning-rate choice skips it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pprlib import train


def _poisoned(monkeypatch, bad_lr: float, after_steps: int = 1):
    """Optimizers at ``bad_lr`` fill the tuned weights with NaN after ``after_steps`` steps."""
    make = train.make_optimizer

    def poisoned(params, cfg):
        opt = make(params, cfg)
        if cfg.lr != bad_lr:
            return opt
        step, count = opt.step, [0]

        def bad_step(*args, **kwargs):
            out = step(*args, **kwargs)
            count[0] += 1
            if count[0] >= after_steps:
                with torch.no_grad():
                    for p in params:
                        p.fill_(float("nan"))
            return out

        opt.step = bad_step
        return opt

    monkeypatch.setattr(train, "make_optimizer", poisoned)


def test_a_diverging_run_stops_says_so_and_keeps_its_best_finite_weights(small_ctx, monkeypatch, tmp_path):
    from pprlib.runs import tuning_job

    monkeypatch.setenv("PPR_CACHE_DIR", str(tmp_path))
    _poisoned(monkeypatch, 1e-2)
    model, job = tuning_job(small_ctx, "ft", small_ctx.settings(lr={"ft": 1e-2}), "few", 0)
    history = train.fit(**job)
    assert train.has_diverged(history) and bool(history["diverged"].iloc[-1])
    assert history["epoch"].iloc[-1] == 1  # stopped in the first epoch, not at the budget
    assert all(torch.isfinite(p).all() for p in model.parameters())  # the best weights from before
    assert not train.has_diverged(history.iloc[:-1])


def test_the_learning_rate_choice_skips_a_diverged_rate_and_names_it(small_ctx, monkeypatch, tmp_path):
    from pprlib.comparisons import choose_lr

    monkeypatch.setenv("PPR_CACHE_DIR", str(tmp_path))
    _poisoned(monkeypatch, 1e-2)
    with pytest.warns(RuntimeWarning, match=r"ft diverged at learning rate 0\.01 \(epoch 1\)"):
        assert choose_lr(small_ctx, ["ft"], "few", seed=0) == {"ft": 1e-4}


def test_every_rate_diverging_is_an_error_naming_the_method_and_the_rates(small_ctx, monkeypatch, tmp_path):
    from pprlib.comparisons import choose_lr

    monkeypatch.setenv("PPR_CACHE_DIR", str(tmp_path))
    _poisoned(monkeypatch, 1e-2)
    make = train.make_optimizer
    monkeypatch.setattr(train, "make_optimizer", lambda params, cfg: make(params, type(cfg)(**{
        **cfg.__dict__, "lr": 1e-2})))  # every rate of the grid trains as the poisoned one
    with pytest.raises(ValueError, match=r"PPR\(light\) diverged at every learning rate of the grid \(0\.0001 \(epoch 1\), "
                                         r"0\.01 \(epoch 1\)"):
        choose_lr(small_ctx, ["PPR(light)"], "few", seed=0)


def test_diverged_reads_the_loss_and_the_weights():
    finite = [torch.ones(3)]
    assert not train.diverged(1.0, finite)
    assert train.diverged(float("nan"), finite) and train.diverged(np.inf, finite)
    assert train.diverged(1.0, [torch.tensor([1.0, float("inf")])])
