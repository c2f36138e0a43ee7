"""The mechanism chapter's computations (pprlib.mechanism) on tiny generated worlds: ceilings
as a comparison on the methods' instances, the candidates' successors, shares of the value of
the profile, the dose worlds and the computed conclusion (its sentences: pprlib.prose)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from pprlib import mechanism, prose
from pprlib.comparison import Comparison
from pprlib.data.ceilings import world_of
from pprlib.data.protocol import ProtocolConfig, split
from pprlib.data.synthetic import SyntheticConfig, generate
from pprlib.runs import instances


@pytest.fixture(scope="module")
def tiny_split():
    cfg = SyntheticConfig(n_users=300, n_items=200, max_length=40, heldout_users=60, seed=3)
    return split(generate(cfg), ProtocolConfig(seed=3))


@pytest.fixture(scope="module")
def ceilings(tiny_split):
    return mechanism.ceiling_comparison(tiny_split, "test+heldout", n_samples=64)


def test_ceilings_are_on_the_methods_instances_in_their_order(tiny_split, ceilings):
    for kind in ("few", "zero"):
        inst = instances(tiny_split, "test+heldout", kind)
        per = ceilings.only(kind).per_instance[("oracle", 0)]
        assert len(per["NDCG@10"]) == len(inst)
        np.testing.assert_array_equal(per["position"], inst.positions)
        np.testing.assert_array_equal(per["heldout"] > 0, np.isin(inst.users, tiny_split.heldout_users))


def test_value_of_the_profile_is_with_minus_without(ceilings):
    few = ceilings.only("few")
    values = mechanism.profile_values(few)
    per = few.per_instance
    expected = (per[("Bayes (profile)", 0)]["NDCG@10"] - per[("Bayes (none)", 0)]["NDCG@10"]).mean()
    assert values["value of the profile"].estimate == pytest.approx(expected)
    assert values["value of the profile"].n_seeds == 1  # the interval covers instances only
    table = mechanism.ceilings_table(ceilings)
    assert float(table.loc["oracle", ("few-shot", "sampled")]) == pytest.approx(per[("oracle", 0)]["NDCG@10"].mean(),
                                                                                abs=5e-5)
    # the table's value and the comparison's effect are one computation
    assert table.loc["value of the profile", ("few-shot", "sampled")].startswith(
        f"{values['value of the profile'].estimate:+.4f} [{values['value of the profile'].lo:+.4f}")


def test_zero_shot_style_part_is_exactly_zero(ceilings):
    # a first click has no previous item: knowing the style cannot change its law
    values = mechanism.profile_values(ceilings.only("zero"))
    assert values["through the style"].estimate == 0.0


def test_successor_counts_by_hand(tiny_split):
    inst = instances(tiny_split, "test", "few")
    counts = mechanism.successor_counts(tiny_split, inst)
    world = world_of(tiny_split.data)
    r = 0
    user, pos = inst.users[r], inst.positions[r]
    prev = tiny_split.data.sequence(user)[pos - 1] - 1
    own = set(world.successors[world.style[user], prev].tolist())
    other = set(world.successors[:, prev].ravel().tolist()) - own
    negatives = set((inst.candidates[r, 1:] - 1).tolist())
    assert counts.loc[r, "sampled: other styles"] == len(other & negatives)
    assert counts.loc[r, "sampled: own style"] == len(own & negatives)
    seen = set((tiny_split.data.sequence(user)[:pos] - 1).tolist()) | {inst.targets[r] - 1}
    assert counts.loc[r, "full: other styles"] == len(other - seen)
    summary = mechanism.successor_summary(counts)
    # full ranking ranks every other-style successor the sampled negatives may hold, and more
    assert (summary.loc["other-style successors per instance", "full"]
            >= summary.loc["other-style successors per instance", "sampled"])


def _comparison(values: dict[str, np.ndarray], seeds=(0,)) -> Comparison:
    per = {(m, s): {"NDCG@10": v + 0.0, "position": np.ones_like(v)} for m, v in values.items() for s in seeds}
    return Comparison(per, {k: pd.DataFrame() for k in per}, {k: 0.0 for k in per})


def test_ceiling_shares_by_hand():
    n = 50
    rng = np.random.default_rng(0)
    base = rng.random(n) * 0.1
    ceil = _comparison({"Bayes (profile)": base + 0.5, "Bayes (none)": base + 0.4})
    res = _comparison({"ft": base + 0.30, "PPR(light)": base + 0.35}, seeds=(0, 1))
    table = mechanism.ceiling_shares(res, ceil, ["ft", "PPR(light)"])
    assert table.loc["PPR(light)", "gain over ft / value"] == pytest.approx(0.5)
    assert table.loc["ft", "(method − Bayes none) / value"] == pytest.approx(-1.0)
    assert table.loc["ft", "mean"] == pytest.approx(base.mean() + 0.30)
    assert math.isnan(mechanism.share(1.0, 0.0))


def test_dose_world_sets_one_signal_and_zeroes_the_other():
    base = SyntheticConfig()
    w = mechanism.dose_world(base, "profile_style_signal", 0.5)
    assert (w.profile_style_signal, w.profile_signal) == (0.5, 0.0)
    w = mechanism.dose_world(base, "profile_signal", 1.0)
    assert (w.profile_style_signal, w.profile_signal) == (0.0, 1.0)
    assert mechanism.dose_world(base, "profile_signal", 0.0) == mechanism.dose_world(base, "profile_style_signal", 0.0)
    with pytest.raises(ValueError, match="signal must be one of"):
        mechanism.dose_world(base, "sequential_strength", 0.5)
    with pytest.raises(ValueError, match=r"levels must lie in \[0, 1\]"):
        mechanism.dose_world(base, "profile_signal", 1.5)


def test_dose_levels_share_the_physics_and_differ_in_latent_states():
    base = SyntheticConfig(n_users=300, n_items=200, max_length=30, seed=2, heldout_users=50)
    zero = generate(mechanism.dose_world(base, "profile_signal", 0.0))
    for signal in mechanism.SIGNALS:
        other = generate(mechanism.dose_world(base, signal, 1.0))
        assert mechanism.same_physics(zero, other)  # one backbone knows every level's items
        latent = "style" if signal == "profile_style_signal" else "theta"
        assert not np.array_equal(zero.meta["latent"][latent], other.meta["latent"][latent])
    assert not mechanism.same_physics(zero, generate(SyntheticConfig(n_users=300, n_items=200, max_length=30, seed=5)))


def test_dose_contexts_pretrain_each_level_on_its_own_warm_users(tmp_path, monkeypatch):
    from pprlib.config import BookConfig

    monkeypatch.setenv("PPR_CACHE_DIR", str(tmp_path))
    config = mechanism.dose_config(BookConfig(n_users=300, n_items=250, pretrain_epochs=1, tune_epochs=1,
                                              progress=False), users=300, pretrain_epochs=1)
    contexts = mechanism.dose_contexts(config, [0.0, 1.0])
    assert set(contexts) == {(s, lv) for s in mechanism.SIGNALS for lv in (0.0, 1.0)}
    # the level-0 world (and its pre-training) is shared by both sweeps; every other level has its own
    assert len({c.split_key for c in contexts.values()}) == 3
    assert len({c.pre.key for c in contexts.values()}) == 3
    from pprlib.runs import pretraining_key

    for (signal, level), c in contexts.items():  # each backbone read this level's own warm users
        assert c.spec.synthetic == mechanism.dose_world(c.spec.synthetic, signal, level)
        assert c.pre.key == pretraining_key(c.split, c.backbone, c.pretrain_cfg)
    assert all(c.test_population == "test+heldout" for c in contexts.values())


def test_without_profile_signals_the_value_of_the_profile_is_zero():
    # both signals 0: the profile tells nothing, so the Bayes scorers with and without it agree
    cfg = mechanism.dose_world(SyntheticConfig(n_users=200, n_items=200, max_length=30, seed=1), "profile_signal", 0.0)
    sp = split(generate(cfg), ProtocolConfig(seed=1))
    ceil = mechanism.ceiling_comparison(sp, "test", n_samples=64)
    for kind in ("few", "zero"):
        value = mechanism.profile_values(ceil.only(kind))["value of the profile"].estimate
        assert value == pytest.approx(0.0, abs=1e-9)


def test_vanishes_reads_the_level_zero_rows():
    frame = pd.DataFrame([
        {"level": 0.0, "what": "PPR(light)", "metric": "NDCG@10", "lo": -0.01, "hi": 0.02},
        {"level": 0.0, "what": "PPR(light)", "metric": "NDCG@10", "lo": -0.01, "hi": 0.01},
        {"level": 1.0, "what": "PPR(light)", "metric": "NDCG@10", "lo": 0.01, "hi": 0.02}])
    assert mechanism.vanishes(frame, "PPR(light)")
    frame.loc[1, "lo"] = 0.001
    assert not mechanism.vanishes(frame, "PPR(light)")
    assert not mechanism.vanishes(frame, "PPR(full)")  # no rows: nothing shown to vanish


def test_conclusion_quotes_its_numbers():
    values = {"value_few": 0.02, "value_zero": 0.09, "value_full_few": 0.019, "value_full_zero": 0.073,
              "style_few": 0.006, "style_full_few": 0.014, "share_light_few": 0.27, "share_light_zero": -0.1,
              "share_full_few": 0.04, "share_full_zero": math.nan,
              "dose_best": {"signal": "profile_signal", "level": 1.0, "estimate": 0.01, "lo": 0.002, "hi": 0.018,
                            "value": 0.2}}
    text = prose.conclusion(values)
    assert "+0.0200" in text and "+0.0900" in text and "27 %" in text and "undefined" in text
    assert "shows 43 % of it" in text and "above zero" in text and "at most 27 %" in text
    values["dose_best"]["lo"] = -0.001
    assert "not distinguishable from zero" in prose.conclusion(values)


def test_stopping_reads_the_best_and_last_epochs():
    def history(vals):
        return pd.DataFrame({"epoch": range(len(vals)), "val/NDCG@10": vals})

    few = Comparison({}, {("ft", 0): history([0.1, 0.2, 0.3, 0.25]), ("ft", 1): history([0.1, 0.2, 0.1, 0.1]),
                          ("PPR(light)", 0): history([0.1, 0.1, 0.2, 0.3])}, {})
    table = mechanism.stopping({"few": few}, max_epochs=3).set_index("method")
    assert table.loc["ft", "median best epoch"] == 1.5 and table.loc["ft", "median last epoch"] == 3
    assert table.loc["ft", "best at the budget"] == 0.0
    assert table.loc["PPR(light)", "best at the budget"] == 1.0  # still improving when the budget ran out
    # a budget per kind (zero-shot tuning has more epochs): the same runs under a larger cap
    both = mechanism.stopping({"few": few, "zero": few}, max_epochs={"few": 3, "zero": 12})
    assert both.set_index(["shots", "method"]).loc[("zero", "PPR(light)"), "best at the budget"] == 0.0
    assert both.set_index(["shots", "method"]).loc[("few", "PPR(light)"), "best at the budget"] == 1.0
    assert set(both["epochs allowed"]) == {3, 12}
    # epoch 0 is the untuned model: never the "best epoch" of a tuning run
    flat = Comparison({}, {("ft", 0): history([0.5, 0.2, 0.1])}, {})
    assert mechanism.stopping({"zero": flat}, 2).loc[0, "median best epoch"] == 1


def test_the_tuning_user_curve_tunes_on_nested_shares(small_ctx):
    ceil = mechanism.ceiling_comparison(small_ctx.split, "test", n_samples=32, scorers=("Bayes (profile)", "Bayes (none)"))
    curve = mechanism.tuning_user_curve(small_ctx, {"ft": 1e-3, "PPR(light)": 1e-3}, ["ft", "PPR(light)"],
                                        [0.5, 1.0], [0], ceil)
    users = curve.groupby("tune share")["tuning users"].first()
    assert users[1.0] == len(small_ctx.split.tune_users) and users[0.5] < users[1.0]
    ft = curve[curve.method == "ft"]
    assert (ft.gain == 0).all()  # the reference
    light = curve[curve.method == "PPR(light)"].set_index("tune share")
    assert (light.lo <= light.gain).all() and (light.gain <= light.hi).all()
    assert not np.isclose(light.loc[0.5, "NDCG@10"], light.loc[1.0, "NDCG@10"])  # other users, other model


def test_limits_sentence_reads_growth_budget_and_learning_rate():
    curve = pd.DataFrame([
        {"method": "PPR(light)", "tuning users": 100, "gain": 0.001, "lo": -0.004, "hi": 0.006, "gain / value": 0.01},
        {"method": "PPR(light)", "tuning users": 400, "gain": 0.020, "lo": 0.010, "hi": 0.030, "gain / value": 0.2}])
    stop = pd.DataFrame([{"median best epoch": 4.0, "best at the budget": 0.0},
                         {"median best epoch": 9.0, "best at the budget": 0.1}])
    lrs = pd.DataFrame([{"method": "ft", "regret": 0.0}, {"method": "ft", "regret": 0.0},
                        {"method": "PPR(light)", "regret": 0.003}, {"method": "PPR(light)", "regret": 0.003}])
    text = prose.limits_sentence(curve, stop, lrs, budget=30)
    assert "its gain grows detectably" in text and "+0.0200 [+0.0100, +0.0300]" in text and "20 %" in text
    assert "does not bind" in text and "between 4 and 9 of at most 30" in text and "at most 10 %" in text
    assert "0.0030" in text and "(PPR(light))" in text
    assert "more cold tuning users raise" in prose.limits_summary(curve, stop, lrs)
    still = stop.assign(**{"best at the budget": 0.0})
    assert "no run was still improving" in prose.limits_sentence(curve, still, lrs)
    curve.loc[1, "lo"] = 0.005  # overlapping intervals: no detectable growth
    stop.loc[0, "best at the budget"] = 0.5
    text = prose.limits_sentence(curve, stop, lrs)
    assert "rises with the number of tuning users, but the two intervals overlap" in text
    assert "may bind" in text and "50 %" in text
    summary = prose.limits_summary(curve, stop, lrs)
    assert "raise its gain (1 % to 20 % of the value of the profile from 100 to 400" in summary
    assert "but not detectably" in summary and "budget binds" in summary and "0.0030" in summary
    flat = curve.assign(gain=[0.02, 0.001])  # the larger set gains less: no rise at all
    assert "does not rise" in prose.limits_sentence(flat, stop, lrs)
    assert "did not raise its gain" in prose.limits_summary(flat, stop, lrs)
    lrs["regret"] = 0.0
    assert "also best on the test instances" in prose.limits_sentence(curve, stop, lrs)
    assert "validation chose the best" in prose.limits_summary(curve, stop, lrs)


def test_lr_table_marks_the_chosen_rate_and_its_regret(small_ctx):
    table = mechanism.lr_table(small_ctx, {"ft": 1e-2}, ["ft"], [0], targets="zero")
    assert list(table.lr) == list(small_ctx.config.lr_grid)
    assert table.chosen.sum() == 1 and table.loc[table.chosen, "lr"].item() == 1e-2
    best, chosen = table["NDCG@10"].max(), table.loc[table.chosen, "NDCG@10"].item()
    assert table.regret.iloc[0] == pytest.approx(best - chosen) and (table.regret >= 0).all()


def test_dose_levels_must_include_zero_and_lie_in_the_unit_interval():
    from pprlib.config import BookConfig
    from pprlib.params import SettingError

    assert BookConfig(dose_levels=[0.0, 0.5]).dose_levels == (0.0, 0.5)
    for bad in ((0.5, 1.0), (0.0, 1.5)):
        with pytest.raises(SettingError, match="dose_levels"):
            BookConfig(dose_levels=bad)


def test_dose_sentence_reads_the_zero_level_and_where_gains_rise():
    def row(what, level, lo, hi, est, shots="few-shot", signal="profile_signal"):
        return {"what": what, "level": level, "lo": lo, "hi": hi, "estimate": est, "shots": shots, "signal": signal,
                "metric": "NDCG@10"}

    frame = pd.DataFrame([row("PPR(light)", 0.0, -0.01, 0.01, 0.0), row("PPR(full)", 0.0, -0.01, 0.01, 0.0),
                          row("value of the profile", 0.0, 0.0, 0.0, 0.0),
                          row("PPR(light)", 1.0, 0.002, 0.02, 0.011), row("PPR(full)", 1.0, -0.01, 0.02, 0.005),
                          row("value of the profile", 1.0, 0.03, 0.05, 0.04)])
    text = prose.dose_sentence(frame)
    assert "intervals of PPR(light), PPR(full) and the value of the profile cover 0" in text
    assert "PPR(light)'s gain over ft is above zero at profile_signal = 1 (few-shot)" in text
    assert "PPR(full)'s gain over ft is above zero at no level" in text
    assert "reaches +0.0400 (few-shot, profile_signal)" in text
    best = mechanism.dose_best(frame)
    assert (best["level"], best["estimate"], best["lo"], best["value"]) == (1.0, 0.011, 0.002, 0.04)
    frame.loc[0, "lo"] = 0.001  # PPR(light) above 0 where the profile says nothing
    assert "those of PPR(light) do not" in prose.dose_sentence(frame)
