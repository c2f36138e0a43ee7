"""The studies behind the ablation, noise and sparsity figures."""

from __future__ import annotations

import dataclasses
import zlib

import numpy as np
import pytest

from pprlib import comparisons, evidence, prose, runs, studies
from pprlib import experiments as ex
from pprlib.comparison import Comparison
from pprlib.data.synthetic import SyntheticConfig


@pytest.fixture
def ctx(small_ctx):
    return small_ctx


def test_ablation_variants_differ_only_in_the_removed_part():
    light = ex.method("PPR(light)")
    assert ex.method("PPR(light) w/o prompt aug").views == ("behaviour",)
    assert ex.method("PPR(light) w/o behaviour aug").views == ("prompt",)
    assert not ex.method("PPR(light) w/o CL").contrastive and light.contrastive
    assert ex.method("shared prompt (light)").ppr.prompt == "shared"
    assert len(studies.ablation_methods()) == 11


def test_ablation_frame_and_effects_table(ctx):
    tidy, result = studies.ablation(ctx)
    assert set(tidy["mode"]) == {"ft", "PPR(light)", "PPR(full)"}
    assert tidy.groupby(["mode", "variant"]).seed.nunique().eq(2).all()
    table = studies.ablation_table({"default": result})
    assert len(table) == 8 and set(table.index.get_level_values("removed")) == set(studies.ABLATION_KEYS)
    assert table.index.names == ["data", "mode", "removed"]
    # the row of PPR(light) without CL is the full model over the variant, with the effect's interval
    e = result.effect("PPR(light)", "PPR(light) w/o CL")
    row = table.loc[("default", "PPR(light)", "w/o CL")]
    assert row["ΔNDCG@10 [95% interval]"] == e.text()
    sel = tidy[(tidy.metric == "NDCG@10") & (tidy["mode"] == "PPR(light)")]
    expected = sel[sel.variant == "full model"].value.mean() - sel[sel.variant == "w/o CL"].value.mean()
    assert e.estimate == pytest.approx(expected, abs=1e-6)
    # judged against the paper where the summary scores the part, not judged elsewhere
    assert row.verdict in evidence.VERDICTS and row["δ (paper, our units)"] != "—"
    unjudged = table.loc[("default", "PPR(full)", "w/o prompt aug")]
    assert unjudged.verdict == "—" and unjudged["δ (paper, our units)"] == "—"
    assert set(studies.ablation_effects(result)) == {studies.ablation_key(m, r) for _, m, r in table.index}


def test_noise_at_zero_equals_a_fresh_clean_run_and_noise_changes_results(ctx):
    lrs = ex.choose_lr(ctx, ["ft"], "few")  # at rate 0 the study's rate is the clean one
    tidy = studies.noise(ctx, [0.0, 0.5], ["ft"])
    # recomputed (use_cache=False), not read back from the cache entry the noise study just filled
    clean = ex.compare(ctx, ["ft"], ctx.settings(lr=lrs), seeds=[0, 1], use_cache=False).tidy()
    at_zero = tidy[tidy.noise == 0.0].drop(columns="noise").reset_index(drop=True)
    at_half = tidy[tidy.noise == 0.5].drop(columns="noise").reset_index(drop=True)
    assert np.allclose(at_zero.value, clean.value)
    assert not np.allclose(at_half.value, at_zero.value)  # ft has a profile model: noise reaches it
    assert sorted(set(tidy.noise)) == [0.0, 0.5]


def test_noise_reaches_tuning_validation_and_test(ctx, monkeypatch):
    """With noise r, the profiles that training, validation and test see are the noisy ones
    of ``experiments.cold_profiles`` (cold users changed, the same for a seed)."""
    seen = {}
    real_fit, real_evaluate = runs.fit, runs.evaluate

    def fit(model, params, train, split, val, cfg, cl=None, val_profiles=None, **kwargs):
        seen["train"], seen["val"] = train.profiles.clone(), val_profiles
        return real_fit(model, params, train, split, val, cfg, cl=cl, val_profiles=val_profiles, **kwargs)

    def evaluate(scorer, split, inst, **kwargs):
        seen["test"] = kwargs.get("profiles")
        return real_evaluate(scorer, split, inst, **kwargs)

    monkeypatch.setattr(runs, "fit", fit)
    monkeypatch.setattr(runs, "evaluate", evaluate)
    settings = ctx.settings(lr={"ft": 1e-3}, profile_noise=0.5)
    ex.run_method(ctx, "ft", settings, "few", 1, use_cache=False)
    noisy = ex.cold_profiles(ctx.split, 0.5, 1)
    test_users = ctx.split.test_users
    assert not np.array_equal(noisy[test_users], ctx.split.data.profiles[test_users])
    np.testing.assert_array_equal(seen["test"], noisy)
    np.testing.assert_array_equal(seen["val"], noisy)
    tuned = ctx.split.tune_users
    assert {tuple(row) for row in seen["train"].numpy()} == {tuple(row) for row in noisy[tuned]}


def test_sparsity_improvement_is_relative_to_ft_of_the_same_seed(ctx):
    tidy = studies.sparsity(ctx, [1, 2])
    assert np.isfinite(tidy.improvement).all()
    assert (tidy[tidy.method == "ft"].improvement == 0).all()
    row = tidy[(tidy.method == "PPR(light)") & (tidy.metric == "NDCG@10") & (tidy.k == 1) & (tidy.seed == 0)].iloc[0]
    ft = tidy[(tidy.method == "ft") & (tidy.metric == "NDCG@10") & (tidy.k == 1) & (tidy.seed == 0)].iloc[0]
    assert row.improvement == pytest.approx(100 * (row.value / ft.value - 1))
    paper = studies.paper_sparsity_frame()
    assert set(paper.k) == {1, 5, 7} and (paper.improvement > 0).all()


def test_noise_drop_test_pairs_instances_across_rates(ctx):
    tidy = studies.noise(ctx, [0.0, 0.5], ["ft", "PPR(light)"])
    out = studies.noise_drop_test(ctx, "PPR(light)", "ft", 0.0, 0.5)
    means = tidy[tidy.metric == "NDCG@10"].groupby(["method", "noise"]).value.mean()
    assert out["drop_a"] == pytest.approx(means["PPR(light)", 0.5] - means["PPR(light)", 0.0], abs=1e-6)
    assert out["drop_b"] == pytest.approx(means["ft", 0.5] - means["ft", 0.0], abs=1e-6)
    # the effect, recomputed per seed and instance from the runs: each seed's drop of a minus
    # the same seed's drop of b, with the interval over seeds and instances
    per = {}
    for name in ("PPR(light)", "ft"):
        for r in (0.0, 0.5):
            settings = ctx.settings(profile_noise=r)
            settings = ctx.settings(lr=ex.choose_lr(ctx, [name], "few", base=settings), profile_noise=r)
            runs = ex.compare(ctx, [name], settings, seeds=[0, 1]).per_instance
            per[name, r] = np.stack([runs[(name, s)]["NDCG@10"] for s in (0, 1)])
    gap = (per["PPR(light)", 0.5] - per["PPR(light)", 0.0]) - (per["ft", 0.5] - per["ft", 0.0])
    expected = evidence.effect_of_differences(gap, float(per["ft", 0.0].mean()))
    assert out["diff"] == pytest.approx(gap.mean(), abs=1e-7)
    assert out["p"] == pytest.approx(expected.p, rel=1e-9)
    assert evidence.Effect.from_dict(out["effect"]) == evidence.Effect.from_dict(expected.as_dict())
    assert out["effect"]["n_seeds"] == 2  # the seeds are kept apart, not averaged


def test_sparsity_trend_is_a_difference_of_improvements_with_an_interval_over_seeds_and_instances(ctx):
    tidy = studies.sparsity(ctx, [1, 3], methods=("ft", "PPR(light)"))
    e = studies.sparsity_trend(ctx, "PPR(light)", 1, 3)
    per_seed = tidy[(tidy.method == "PPR(light)") & (tidy.metric == "NDCG@10")].pivot_table(
        index="seed", columns="k", values="improvement")
    assert e.estimate == pytest.approx(float((per_seed[1] - per_seed[3]).mean()))  # the seeds' mean trend, exactly
    high = runs.instances(ctx.split, "test", "few", 3)
    assert e.n_seeds == per_seed.shape[0] == 2 and e.n_instances == len(high)  # instances count, not only seeds
    assert e.lo < e.estimate < e.hi


def test_universality_runs_every_backbone(ctx):
    other = ex.prepare(ctx.config, backbone=ex.BACKBONES["GRU4Rec"][0],
                       synthetic=SyntheticConfig(n_users=500, n_items=200, max_length=60))
    tidy, results = studies.universality({"SASRec": ctx, "GRU4Rec": other}, methods=("pre-train", "ft"))
    assert set(tidy.backbone) == {"SASRec", "GRU4Rec"}
    assert tidy.groupby(["backbone", "method"]).seed.nunique().eq(2).all()
    assert ctx.pre.key != other.pre.key
    with pytest.raises(ValueError, match="unknown backbone"):
        ex.prepare_backbone(ctx.config, "BERT4Rec")


def test_sensitivity_changes_one_parameter_at_a_time(ctx):
    base = ctx.settings(lr={"PPR(light)": 1e-3})
    assert studies.sensitivity_settings(base, "n_prompt", 4).n_prompt == 4
    changed = studies.sensitivity_settings(base, "mask_ratio", 0.5).contrastive
    assert changed.profile_ratio == changed.item_ratio == 0.5
    assert studies.sensitivity_settings(base, "weight", 0.0).contrastive.weight == 0.0
    with pytest.raises(ValueError, match="prompt length"):
        studies.sensitivity_settings(base, "n_prompt", 0)
    with pytest.raises(ValueError, match="unknown sensitivity parameter 'lr'"):
        studies.sensitivity(ctx, {"lr": [1e-3]})
    tidy = studies.sensitivity(ctx, {"n_prompt": [1, 2], "temperature": [1.0]})
    pairs = set(zip(tidy.parameter, tidy.setting, strict=True))
    assert pairs == {("n_prompt", 1), ("n_prompt", 2), ("temperature", 1.0)}
    # the default setting of two parameters is the same run (shared through the cache)
    at_default = tidy[((tidy.parameter == "n_prompt") & (tidy.setting == 1)) | (tidy.parameter == "temperature")]
    values = at_default.pivot_table(index=["seed", "metric"], columns="parameter", values="value")
    assert np.allclose(values["n_prompt"], values["temperature"])


def test_sensitivity_summary_numbers():
    import pandas as pd

    rows = [{"parameter": "n_prompt", "setting": n, "seed": s, "metric": "NDCG@10", "value": v}
            for (n, s), v in {(1, 0): 0.50, (1, 1): 0.52, (2, 0): 0.55, (2, 1): 0.57}.items()]
    rows += [{"parameter": "weight", "setting": 0.1, "seed": s, "metric": "NDCG@10", "value": 0.5} for s in (0, 1)]
    out = studies.sensitivity_summary(pd.DataFrame(rows))
    assert out["spread"]["n_prompt"] == pytest.approx(0.05)
    assert out["best"]["n_prompt"] == 2.0
    assert out["seed_sd"] == pytest.approx(np.mean([np.std([0.50, 0.52], ddof=1), np.std([0.55, 0.57], ddof=1), 0.0]))
    assert out["table"].loc[("n_prompt", "1"), "mean"] == pytest.approx(0.51)
    # a prompt length is shown as the count it is, beside the fractional settings of λ
    assert list(out["table"].index.get_level_values("setting")) == ["1", "2", "0.1"]


def test_noise_drops_and_sparsity_effects_pair_the_same_runs(ctx):
    drops = studies.noise_drops(ctx, ["ft"], 0.0, 0.5)
    per_rate = []
    for rate in (0.0, 0.5):
        r = comparisons.compare(ctx, ["ft"], studies.validated(ctx, ["ft"], ctx.settings(profile_noise=rate)), "few")
        per_rate.append(np.stack([r.per_instance[("ft", s)]["NDCG@10"] for s in r.seeds]))
    assert drops["ft"].estimate == pytest.approx(float((per_rate[1] - per_rate[0]).mean()))
    assert drops["ft"].reference_mean == pytest.approx(float(per_rate[0].mean()))
    effects = studies.sparsity_effects(ctx, [1, 3], methods=("PPR(light)",))
    assert set(effects) == {("PPR(light)", 1), ("PPR(light)", 3)}
    at3 = comparisons.compare(ctx, ["ft", "PPR(light)"], studies.validated(ctx, ["ft", "PPR(light)"], ctx.settings(k_shot=3)))
    assert effects[("PPR(light)", 3)].estimate == pytest.approx(at3.effect("PPR(light)", "ft").estimate)


def test_sensitivity_conclusion_compares_the_widest_spread_with_the_seed_noise():
    quiet = {"spread": {"n_prompt": 0.002, "weight": 0.005}, "seed_sd": 0.003, "best": {"n_prompt": 2.0, "weight": 0.1}}
    text = studies.sensitivity_conclusion(quiet)
    assert "weight (the means across its values span 0.0050 NDCG@10)" in text and "as good as any" in text
    loud = {**quiet, "seed_sd": 0.002}
    text = studies.sensitivity_conclusion(loud)
    assert "sensitive to it" in text and "best value here is 0.1" in text


# --------------------------------------------------------------------------------------------
# fair controls: every method of every study at its own learning rate, chosen on validation


def _fake_rate(name: str, targets: str, settings) -> float:
    """A learning rate that depends on the method, the targets and every setting but the rates:
    a method tuned at another method's rate, or at the rate of another setting, shows."""
    from pprlib.cache import config_key

    key = config_key("fake-lr", name, targets, dataclasses.replace(settings, lr={}))
    return 1e-4 * (1 + int(key[:8], 16) % 9973)


def _fake_result(names, seeds) -> Comparison:
    per = {}
    for name in names:
        for seed in seeds:
            rng = np.random.default_rng(zlib.crc32(f"{name}/{seed}".encode()))
            per[(name, seed)] = {m: rng.random(40) for m in ("NDCG@10", "HIT@10", "AUC")} | {"position": np.ones(40)}
    return Comparison(per, {}, {})


def _every_study(ctx):
    """Every study of :mod:`pprlib.studies` on ``ctx``, as the chapters call them."""
    studies.ablation(ctx)
    studies.noise(ctx, [0.0, 0.5], ["ft", "PPR(light)", "PPR(full)", "PPR(light) w/o CL"])
    studies.noise_drops(ctx, ["ft", "PPR(light) w/o CL"], 0.0, 0.5)
    studies.noise_drop_test(ctx, "PPR(light)", "PPR(light) w/o CL", 0.0, 0.5)
    studies.noise_effects(ctx, [0.0, 0.5], "PPR(light)", "PPR(light) w/o CL")
    studies.sparsity(ctx, [1, 3])
    studies.sparsity_effects(ctx, [1, 3])
    studies.universality({"SASRec": ctx})
    studies.sensitivity(ctx, {"n_prompt": [1, 2], "weight": [0.0, 0.1], "temperature": [0.5], "mask_ratio": [0.5]})
    studies.contrastive_effects(ctx)


STUDY_CALLS = 1 + 2 + 2 * 2 + 2 * 2 + 2 + 2 + 2 + 1 + 6 + 3
"""How many comparisons :func:`_every_study` makes."""


def test_every_study_tunes_every_method_at_its_own_validated_rate(ctx, monkeypatch):
    """Every comparison a study makes tunes each method at the rate choose_lr picks for that very
    method under that comparison's settings (noise rate, k, hyper-parameter): never at the rate of
    its full model (the ablation's variants), of another setting, or of another method."""
    calls, chosen = [], []

    def choose_lr(ctx, names, targets="few", base=None, seed=None):
        base = base or ctx.settings()
        chosen.append(names)
        return {n: _fake_rate(n, targets, base) for n in names if ex.method(n).tuned}

    def compare(ctx, names, settings=None, targets="few", seeds=None, **kwargs):
        calls.append((list(names), settings, targets))
        return _fake_result(names, ctx.config.seeds)

    monkeypatch.setattr(comparisons, "choose_lr", choose_lr)
    monkeypatch.setattr(studies, "choose_lr", choose_lr)
    monkeypatch.setattr(comparisons, "compare", compare)
    monkeypatch.setattr(studies, "compare", compare)
    _every_study(ctx)
    assert len(calls) == STUDY_CALLS
    tuned = 0
    for names, settings, targets in calls:
        assert settings is not None
        for name in names:
            if ex.method(name).tuned:
                tuned += 1
                assert settings.lr_for(name) == _fake_rate(name, targets, settings), (name, settings)
    assert tuned >= 11 + 2 * 4 + 2 * 3  # every variant of the ablation, of the noise study, of sparsity
    # the ablation's variants each had their own choice, not their full model's
    assert "PPR(light) w/o CL" in next(names for names in chosen if len(names) == 11)


def test_a_rate_chosen_in_one_study_is_free_in_another(ctx):
    """The ablation, the noise study at rate 0 and the sensitivity study at its default setting
    tune PPR(light) at one rate, the one the few-shot chapter chooses: the same cached runs."""
    few = ex.choose_lr(ctx, ["PPR(light)", "PPR(light) w/o CL"], "few")
    assert studies.rates(ctx, ["ft", "PPR(light)", "PPR(light) w/o CL"]) == {"ft": ex.choose_lr(ctx, ["ft"])["ft"], **few}
    assert studies.rates(ctx, ["PPR(light)"], ctx.settings(profile_noise=0.0)) == {"PPR(light)": few["PPR(light)"]}
    at_default = studies.sensitivity_settings(ctx.settings(), "weight", ctx.settings().contrastive.weight)
    assert studies.rates(ctx, ["PPR(light)"], at_default) == {"PPR(light)": few["PPR(light)"]}


def test_the_contrastive_designs_agree(ctx):
    """λ = 0 trains PPR(light) as its variant without contrastive learning does: at their own
    validated rates the two designs give one effect, and one verdict."""
    effects = studies.contrastive_effects(ctx)
    variant, weight = effects.values()
    assert variant.estimate == pytest.approx(weight.estimate, abs=1e-12)
    assert (variant.lo, variant.hi) == pytest.approx((weight.lo, weight.hi), abs=1e-12)
    text = prose.agreement("cl_light", effects)
    assert "gets one verdict" in text and "sensitivity study (PPR(light) at λ = 0.1 over λ = 0)" in text
    at_zero = studies.noise_effects(ctx, [0.0], "PPR(light)", "PPR(light) w/o CL")[0.0]
    assert at_zero == variant  # the noise study's rate 0 is the ablation's comparison
