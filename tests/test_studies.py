"""The studies behind the ablation, noise and sparsity figures."""

from __future__ import annotations

import os

import numpy as np
import pytest

from pprlib import experiments as ex
from pprlib import studies
from pprlib.data.synthetic import SyntheticConfig


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    os.environ["PPR_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    config = ex.BookConfig(n_users=500, n_items=200, pretrain_epochs=2, tune_epochs=2, seeds=(0, 1), progress=False)
    return ex.prepare(config, synthetic=SyntheticConfig(n_users=500, n_items=200, max_length=60))


def test_ablation_variants_differ_only_in_the_removed_part():
    light = ex.method("PPR(light)")
    assert ex.method("PPR(light) w/o prompt aug").views == ("behaviour",)
    assert ex.method("PPR(light) w/o behaviour aug").views == ("prompt",)
    assert not ex.method("PPR(light) w/o CL").contrastive and light.contrastive
    assert ex.method("shared prompt (light)").ppr.prompt == "shared"
    assert len(studies.ablation_methods()) == 11


def test_ablation_frame_and_gap(ctx):
    tidy, _ = studies.ablation(ctx, {"ft": 1e-3, "PPR(light)": 1e-3, "PPR(full)": 1e-4})
    assert set(tidy["mode"]) == {"ft", "PPR(light)", "PPR(full)"}
    assert tidy.groupby(["mode", "variant"]).seed.nunique().eq(2).all()
    gap = studies.ablation_gap(tidy, "PPR(light)", "w/o CL")
    sel = tidy[(tidy.metric == "NDCG@10") & (tidy["mode"] == "PPR(light)")]
    expected = sel[sel.variant == "full model"].value.mean() - sel[sel.variant == "w/o CL"].value.mean()
    assert gap == pytest.approx(expected)
    with pytest.raises(ValueError, match="no results"):
        studies.ablation_gap(tidy, "PPR(light)", "w/o everything")


def test_noise_at_zero_equals_the_clean_run(ctx):
    lrs = {"ft": 1e-3}
    tidy = studies.noise(ctx, [0.0, 0.5], ["ft"], lrs)
    clean = ex.compare(ctx.split, ctx.pre, ["ft"], [0, 1], ctx.backbone, ctx.settings(lr=lrs)).tidy()
    at_zero = tidy[tidy.noise == 0.0].drop(columns="noise").reset_index(drop=True)
    assert np.allclose(at_zero.value, clean.value)
    assert sorted(set(tidy.noise)) == [0.0, 0.5]


def test_sparsity_improvement_is_relative_to_ft_of_the_same_seed(ctx):
    tidy = studies.sparsity(ctx, [1, 2], {"ft": 1e-3, "PPR(light)": 1e-3, "PPR(full)": 1e-4})
    assert np.isfinite(tidy.improvement).all()
    assert (tidy[tidy.method == "ft"].improvement == 0).all()
    row = tidy[(tidy.method == "PPR(light)") & (tidy.metric == "NDCG@10") & (tidy.k == 1) & (tidy.seed == 0)].iloc[0]
    ft = tidy[(tidy.method == "ft") & (tidy.metric == "NDCG@10") & (tidy.k == 1) & (tidy.seed == 0)].iloc[0]
    assert row.improvement == pytest.approx(100 * (row.value / ft.value - 1))
    paper = studies.paper_sparsity_frame()
    assert set(paper.k) == {1, 5, 7} and (paper.improvement > 0).all()
