"""The experiment layer: settings, learning-rate choice, comparisons, inference."""

from __future__ import annotations

import numpy as np
import pytest

from pprlib import experiments as ex


@pytest.fixture
def ctx(small_ctx):
    return small_ctx


def test_book_config_validation():
    with pytest.raises(ValueError, match="seeds"):
        ex.BookConfig(seeds=())
    with pytest.raises(ValueError, match="lr_grid"):
        ex.BookConfig(lr_grid=(0.0,))
    with pytest.raises(ValueError, match="DataSpec.source"):
        ex.BookConfig(dataset="netflix")
    with pytest.raises(ValueError, match="tune_epochs"):
        ex.BookConfig(tune_epochs=0)


def test_unknown_method_is_a_clear_error(ctx):
    with pytest.raises(ValueError, match=r"unknown method 'PPR\(medium\)'; choose from"):
        ex.compare(ctx, ["ft", "PPR(medium)"], ctx.settings(), seeds=[0])


def test_choose_lr_picks_from_the_grid_by_validation(ctx):
    lrs = ex.choose_lr(ctx, ["most popular", "ft", "PPR(light)"], "few")
    assert set(lrs) == {"ft", "PPR(light)"}  # untuned methods have no learning rate
    for name, lr in lrs.items():
        assert lr in ctx.config.lr_grid
        histories = {g: ex.run_method(ctx, name, ctx.settings(lr={name: g}), "few", 0)[
            "history"] for g in ctx.config.lr_grid}
        scores = {g: h.loc[h.epoch > 0, "val/NDCG@10"].max() for g, h in histories.items()}
        assert scores[lr] == max(scores.values())


def test_comparison_summary_and_paired_tests(ctx):
    result = ex.compare(ctx, ["most popular", "ft", "PPR(light)"], ctx.settings(), "all", [0, 1])
    tidy = result.tidy()
    assert set(tidy.method) == {"most popular", "ft", "PPR(light)"} and set(tidy.seed) == {0, 1}
    assert "position" not in set(tidy.metric)
    table = result.summary()
    assert list(table.index) == ["most popular", "ft", "PPR(light)"]
    assert "±" in table.loc["ft", "NDCG@10"]
    e = result.effect("PPR(light)", "ft")
    assert 0 <= e.p <= 1 and e.n_seeds == 2 and e.lo <= e.estimate <= e.hi
    zero, few = result.only("zero"), result.only("few")
    n_zero = len(zero.per_instance[("ft", 0)]["NDCG@10"])
    n_few = len(few.per_instance[("ft", 0)]["NDCG@10"])
    assert n_zero == len(ctx.split.test_users)
    assert n_zero + n_few == len(result.per_instance[("ft", 0)]["NDCG@10"])


def test_recommend_for_a_new_and_a_known_user(ctx):
    model, _ = ex.tune(ctx, "PPR(light)", ctx.settings(), "all", 0)
    data = ctx.split.data
    new = ex.recommend(model, data, {"gender": "F"}, [], k=5)
    assert len(new) == 5 and new.score.is_monotonic_decreasing
    history = [data.item_ids[i] for i in data.sequence(0)[:3]]
    top = ex.recommend(model, data, data.profile_labels(0), history, k=20)
    assert not set(history) & set(top.item)  # seen items are excluded
    with pytest.raises(ValueError, match="unknown item"):
        ex.recommend(model, data, {}, ["no-such-item"])
    with pytest.raises(ValueError, match="not in its vocabulary"):
        ex.recommend(model, data, {"gender": "X"}, [])


def test_parameter_table_light_share_shrinks_with_the_catalogue():
    small = ex.parameter_table(1000, [3, 9, 6])
    large = ex.parameter_table(100_000, [3, 9, 6])
    assert small.loc["ft", "% of ft"] == 100
    assert large.loc["PPR(light)", "% of ft"] < small.loc["PPR(light)", "% of ft"]
    # light tunes the same profile-side parameters whatever the catalogue size
    assert small.loc["PPR(light)", "tuned parameters"] == large.loc["PPR(light)", "tuned parameters"]


def test_noisy_profiles_touch_only_cold_users(ctx):
    noisy = ex.cold_profiles(ctx.split, 0.5, seed=0)
    clean = ctx.split.data.profiles
    assert np.array_equal(noisy[ctx.split.warm_users], clean[ctx.split.warm_users])
    cold = ctx.split.test_users
    changed = (noisy[cold] != clean[cold]).mean()
    assert 0.2 < changed < 0.6
    assert np.array_equal(ex.cold_profiles(ctx.split, 0.0, seed=0), clean)


def test_all_data_baselines_are_one_run_each(ctx):
    from pprlib.models import SequenceCLConfig

    sasrec = ex.trained_on_all(ctx)
    cl4srec = ex.trained_on_all(ctx, "CL4SRec (all data)", SequenceCLConfig())
    assert list(sasrec.per_instance) == [("SASRec (all data)", 0)]
    merged = sasrec.merge(cl4srec)
    assert merged.methods == ["SASRec (all data)", "CL4SRec (all data)"]
    assert "(1 run)" in merged.summary(reference=None).loc["SASRec (all data)", "NDCG@10"]
    # the contrastive pre-training really ran: its history records the sequence-CL loss
    assert "loss/seq_cl" in cl4srec.histories[("CL4SRec (all data)", 0)].columns


def test_sequence_cl_config_validation():
    from pprlib.models import SequenceCLConfig

    with pytest.raises(ValueError, match="crop_ratio"):
        SequenceCLConfig(crop_ratio=1.5)
    with pytest.raises(ValueError, match="temperature"):
        SequenceCLConfig(temperature=0)
