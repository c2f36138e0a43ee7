"""The comparison layer on hand-built numbers: per-instance results of known methods and seeds,
the paired tests against scipy.stats.ttest_rel, the verdict words and their boundaries, and the
choice of the learning rate on scripted validation histories."""

from __future__ import annotations

import types

import numpy as np
import pandas as pd
import pytest

from pprlib import comparisons, evidence
from pprlib import experiments as ex
from pprlib.experiments import Comparison


def hand_comparison() -> Comparison:
    """Two methods, two seeds, six test instances; b beats a by a small amount on every
    instance, while the instances themselves differ a lot (the case where pairing matters)."""
    base = np.array([0.1, 0.9, 0.3, 0.7, 0.2, 0.8])
    lift = np.array([0.02, 0.03, 0.01, 0.02, 0.04, 0.02])
    position = np.array([0, 1, 2, 0, 1, 3], dtype=np.float32)
    per = {}
    for seed, shift in ((0, 0.0), (1, 0.01)):
        per[("a", seed)] = {"NDCG@10": base + shift, "AUC": np.full(6, 0.5 + shift), "position": position}
        per[("b", seed)] = {"NDCG@10": base + shift + lift, "AUC": np.full(6, 0.6), "position": position}
    return Comparison(per, {k: pd.DataFrame() for k in per}, {k: 1.0 for k in per})


def test_summary_tidy_relative_and_subsets():
    result = hand_comparison()
    tidy = result.tidy()
    assert set(tidy.metric) == {"NDCG@10", "AUC"}  # the instance positions are not a metric
    assert len(tidy) == 2 * 2 * 2
    a0 = tidy[(tidy.method == "a") & (tidy.seed == 0) & (tidy.metric == "NDCG@10")].value.item()
    assert a0 == pytest.approx(0.5)
    table = result.summary(("NDCG@10", "AUC"), reference="a")
    a = tidy[(tidy.method == "a") & (tidy.metric == "NDCG@10")].value
    assert table.loc["a", "NDCG@10"] == f"{a.mean():.4f} ± {a.std(ddof=1):.4f}"
    effect = result.effect("b", "a")
    assert table.loc["b", "ΔNDCG@10 vs a [95% interval]"] == effect.text()
    assert table.loc["b", "p"] == evidence.format_p(effect.p) and table.loc["b", "MDE (NDCG@10)"] == f"{effect.mde:.4f}"
    # the effect is on the first metric asked for
    by_auc = result.summary(("AUC",), reference="a")
    assert by_auc.loc["b", "ΔAUC vs a [95% interval]"] == result.effect("b", "a", "AUC").text()
    assert table.loc["a", "ΔNDCG@10 vs a [95% interval]"] == "—" and table.loc["a", "p"] == "—"
    assert not table.isna().any().any()  # no NaN cell
    means = tidy[tidy.metric == "NDCG@10"].groupby("method").value.mean()
    assert result.relative(["b"], reference="a")["b"] == pytest.approx(100 * (means["b"] / means["a"] - 1))
    zero, few = result.only("zero"), result.only("few")
    assert len(zero.per_instance[("a", 0)]["NDCG@10"]) == 2 and len(few.per_instance[("a", 0)]["NDCG@10"]) == 4
    np.testing.assert_array_equal(zero.per_instance[("b", 1)]["NDCG@10"],
                                  result.per_instance[("b", 1)]["NDCG@10"][[0, 3]])
    with pytest.raises(ValueError, match="kind must be"):
        result.only("some")
    single = Comparison({("c", 0): {"NDCG@10": np.array([0.5, 0.7]), "position": np.array([1.0, 2.0])}}, {}, {})
    assert single.summary(("NDCG@10",), reference=None).loc["c", "NDCG@10"] == "0.6000 (1 run)"
    assert single.only("zero").per_instance == {}  # no zero-shot instance: the method is left out
    merged = result.merge(single)
    assert merged.methods == ["a", "b", "c"] and merged.seeds == [0, 1]
    assert merged.histories.keys() == result.histories.keys() and merged.seconds == result.seconds
    assert zero.histories is result.histories and zero.seconds is result.seconds


# ------------------------------------------------------------------------------------------
# choosing the learning rate


def fake_context(monkeypatch, curves: dict[float, list[float]], grid=(1e-4, 1e-3)):
    """A context whose runs return the scripted validation curve of their learning rate."""
    calls = []

    def run_method(ctx, name, settings, targets, seed, **kwargs):
        assert ctx.split == "the split"
        lr = settings.lr_for(name)
        calls.append((name, lr, targets, seed))
        curve = curves[lr]
        return {"history": pd.DataFrame({"epoch": range(len(curve)), "val/NDCG@10": curve})}

    monkeypatch.setattr(comparisons, "run_method", run_method)
    config = ex.BookConfig(lr_grid=grid, seeds=(3, 4))
    ctx = types.SimpleNamespace(config=config, split="the split", pre="the pre-trained model", backbone="the backbone",
                                settings=lambda **kw: ex.TuneSettings(**kw))
    return ctx, calls


def test_choose_lr_prefers_the_rate_that_tunes_best(monkeypatch):
    # both rates lose against the untuned epoch 0; the second loses less and must win
    ctx, calls = fake_context(monkeypatch, {1e-4: [0.5, 0.30, 0.20], 1e-3: [0.5, 0.45, 0.40]})
    assert ex.choose_lr(ctx, ["most popular", "ft", "pre-train"], "zero") == {"ft": 1e-3}
    # one run per rate, on the first seed and the given targets; untuned methods run nothing
    assert calls == [("ft", 1e-4, "zero", 3), ("ft", 1e-3, "zero", 3)]


def test_choose_lr_second_rate_wins_when_it_is_better(monkeypatch):
    ctx, _ = fake_context(monkeypatch, {1e-4: [0.1, 0.20, 0.30], 1e-3: [0.1, 0.35, 0.25]})
    assert ex.choose_lr(ctx, ["PPR(light)"], "few") == {"PPR(light)": 1e-3}
    ctx, calls = fake_context(monkeypatch, {1e-4: [0.1, 0.40, 0.30], 1e-3: [0.1, 0.35, 0.25]})
    assert ex.choose_lr(ctx, ["PPR(light)"], seed=7) == {"PPR(light)": 1e-4}
    assert {(targets, seed) for _, _, targets, seed in calls} == {("few", 7)}  # the seed given; few-shot by default


def test_choose_lr_tie_goes_to_the_first_rate_of_the_grid(monkeypatch):
    ctx, _ = fake_context(monkeypatch, {1e-4: [0.1, 0.3], 1e-3: [0.1, 0.3]})
    assert ex.choose_lr(ctx, ["ft"], "few") == {"ft": 1e-4}
    ctx, _ = fake_context(monkeypatch, {1e-4: [0.1, 0.3], 1e-3: [0.1, 0.3]}, grid=(1e-3, 1e-4))
    assert ex.choose_lr(ctx, ["ft"], "few") == {"ft": 1e-3}


def test_defaults_read_ndcg_against_ft_and_the_effects_table_names_its_columns():
    hand = hand_comparison().per_instance
    per = {("ft" if m == "a" else "PPR(light)", s): v for (m, s), v in hand.items()}
    result = Comparison(per, {}, {})
    xa, xb = result.paired_arrays("PPR(light)", "ft")  # NDCG@10 by default
    assert np.array_equal(xb, np.stack([hand[("a", s)]["NDCG@10"] for s in (0, 1)]))
    assert result.relative(["PPR(light)"])["PPR(light)"] == pytest.approx(100 * (xa.mean() / xb.mean() - 1))
    assert "ΔNDCG@10 vs ft [95% interval]" in result.summary().columns
    e, auc = result.effect("PPR(light)", "ft"), result.effect("PPR(light)", "ft", "AUC")
    assert auc.estimate == pytest.approx(0.6 - 0.505) and e.estimate != pytest.approx(auc.estimate)
    table = result.effects()
    assert list(table.columns) == ["ΔNDCG@10", "lo", "hi", "relative", "SE", "MDE", "p", "seeds", "instances"]
    assert table.loc["PPR(light)"].tolist() == pytest.approx([e.estimate, e.lo, e.hi, e.relative, e.se, e.mde, e.p,
                                                              2, 6])
    assert result.effects(metric="AUC").loc["PPR(light)", "ΔAUC"] == pytest.approx(auc.estimate)


@pytest.mark.parametrize("n_instances, n_seeds", [(1, 2), (2, 2), (2, 1)])
def test_an_effect_counts_the_seeds_and_instances_both_methods_have(n_instances, n_seeds):
    hand = hand_comparison().per_instance
    per = {k: {m: v[:n_instances] for m, v in d.items()} for k, d in hand.items() if k[1] < n_seeds}
    e = Comparison(per, {}, {}).effect("b", "a")
    assert (e.n_instances, e.n_seeds) == (n_instances, n_seeds)
    assert np.isfinite(e.estimate)


def test_settings_table_shows_each_setting_its_own_means_effects_and_kept_epochs():
    rng = np.random.default_rng(0)

    def result(gain, best):
        per, hist = {}, {}
        for seed in range(3):
            base = rng.random(200)
            for name, shift in (("ft", 0.0), ("PPR(light)", gain)):
                per[name, seed] = {"NDCG@10": base + shift, "position": np.zeros(200)}
                vals = [0.1] * 10
                vals[best[name]] = 0.9
                hist[name, seed] = pd.DataFrame({"epoch": range(10), "val/NDCG@10": vals})
        return Comparison(per, hist, {})

    from pprlib.comparison import settings_sentence, settings_table

    results = {"long": result(0.05, {"ft": 8, "PPR(light)": 6}), "short": result(-0.02, {"ft": 2, "PPR(light)": 3})}
    table = settings_table(results, ["ft", "PPR(light)"])
    assert table.loc[("long", "PPR(light)"), "ΔNDCG@10 vs ft [95% interval]"].startswith("+0.0500")
    assert table.loc[("short", "PPR(light)"), "ΔNDCG@10 vs ft [95% interval]"].startswith("-0.0200")
    assert table.loc[("long", "ft"), "MDE (NDCG@10)"] == "—"
    assert table.loc[("long", "ft"), "median epoch kept"] == "8" and table.loc[("short", "PPR(light)"), "median epoch kept"] == "3"
    ft, light = (float(table.loc[("short", m), "NDCG@10"]) for m in ("ft", "PPR(light)"))
    assert light == pytest.approx(ft - 0.02, abs=2e-4)
    text = settings_sentence(results, ["ft", "PPR(light)"])
    assert text.startswith("With long, ft reaches NDCG@10") and "; with short" in text
    assert "PPR(light) +0.0500" in text and "PPR(light) -0.0200" in text and "median epoch kept 2" in text
