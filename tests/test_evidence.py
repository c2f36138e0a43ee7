"""The evidence module: interval coverage by simulation, verdicts, MDE, edge cases, Holm.

Every simulation draws from a fixed numpy seed, so each test is deterministic. The coverage
bands are wide against the simulation's own error: with 4000 replicates the standard error of
a coverage near 0.95 is 0.0034, so [0.92, 0.98] sits about 9 standard errors from 0.95 on
either side (a seed for which a correct interval fell outside would occur with probability far
below 1e-4).
"""

from __future__ import annotations

import ast
import math

import numpy as np
import pytest

from pprlib import evidence as ev

TRUE_EFFECT = 0.01
REPLICATES = 4000


def simulate(n_seeds, n_instances, seed_sd, instance_sd, residual_sd, *, skewed=False, replicates=REPLICATES,
             seed=12):
    """Differences d[r, s, i] = effect + seed effect + instance effect + residual, per replicate."""
    rng = np.random.default_rng(seed)
    seeds = rng.normal(0, seed_sd, (replicates, n_seeds, 1))
    if skewed:  # NDCG-like: most instances near zero, a few large (centred exponentials)
        inst = rng.exponential(instance_sd, (replicates, 1, n_instances)) - instance_sd
        resid = rng.exponential(residual_sd, (replicates, n_seeds, n_instances)) - residual_sd
    else:
        inst = rng.normal(0, instance_sd, (replicates, 1, n_instances))
        resid = rng.normal(0, residual_sd, (replicates, n_seeds, n_instances))
    return TRUE_EFFECT + seeds + inst + resid


def coverage(lo, hi):
    return float(((lo <= TRUE_EFFECT) & (TRUE_EFFECT <= hi)).mean())


# (seeds, instances, seed sd, instance sd, residual sd, skewed): seed spread small, comparable
# and dominant against the instances' share of the variance (300 instances of sd 0.2: 0.0115)
SCENARIOS = [
    (3, 300, 0.01, 0.2, 0.1, False),
    (3, 300, 0.02, 0.2, 0.1, False),
    (3, 300, 0.05, 0.2, 0.1, False),
    (3, 300, 0.02, 0.2, 0.1, True),
    (5, 300, 0.05, 0.2, 0.1, False),
    (5, 100, 0.03, 0.1, 0.3, False),
    (2, 300, 0.02, 0.2, 0.1, False),
    (10, 100, 0.01, 0.2, 0.1, False),
]


@pytest.mark.parametrize("n_seeds, n_instances, seed_sd, instance_sd, residual_sd, skewed", SCENARIOS)
def test_interval_covers_about_95_percent(n_seeds, n_instances, seed_sd, instance_sd, residual_sd, skewed):
    d = simulate(n_seeds, n_instances, seed_sd, instance_sd, residual_sd, skewed=skewed)
    _, lo, hi = ev.interval(d)
    assert 0.92 <= coverage(lo, hi) <= 0.98


@pytest.mark.parametrize("n_seeds", [3, 5])
def test_instance_only_t_interval_undercovers_when_seeds_disagree(n_seeds):
    d = simulate(n_seeds, 300, 0.05, 0.2, 0.1)
    ours = coverage(*ev.interval(d)[1:])
    naive = coverage(*ev.instance_only(d)[1:])
    assert naive < 0.75 < 0.92 <= ours


def test_without_seed_spread_the_interval_is_not_wasteful():
    d = simulate(3, 300, 0.0, 0.2, 0.1)
    _, lo, hi = ev.interval(d)
    assert 0.93 <= coverage(lo, hi) <= 0.98
    naive = ev.instance_only(d)
    # the width is close to the instance-only interval's when seeds do not disagree
    assert np.median((hi - lo) / (naive[2] - naive[1])) < 1.2


def test_vectorised_interval_matches_the_effect_of_one_array():
    d = simulate(3, 50, 0.02, 0.2, 0.1, replicates=5)
    mean, lo, hi = ev.interval(d)
    for r in range(5):
        e = ev.effect_of_differences(d[r])
        assert (e.estimate, e.lo, e.hi) == pytest.approx((mean[r], lo[r], hi[r]))
        assert 0 < e.p < 1 and e.df >= 1


def test_variance_components_are_recovered():
    d = simulate(50, 400, 0.03, 0.2, 0.1, replicates=1)[0]
    comps = ev.variance_components(d)
    assert comps["seed_var"] == pytest.approx(0.03 ** 2, rel=0.3)
    assert comps["instance_var"] == pytest.approx(0.2 ** 2, rel=0.2)
    assert comps["residual_var"] == pytest.approx(0.1 ** 2, rel=0.05)


# verdicts ------------------------------------------------------------------------------------

DELTA = 0.004


@pytest.mark.parametrize("lo, hi, expected", [
    (0.001, 0.009, ev.REPRODUCED),
    (0.001, DELTA, ev.REPRODUCED),  # hi = delta: compatible with the paper's size
    (0.001, 0.003, ev.WEAKER),
    (1e-9, DELTA - 1e-9, ev.WEAKER),
    (-0.002, 0.003, ev.NOT_FOUND),
    (0.0, 0.003, ev.NOT_FOUND),  # lo = 0 is not evidence of a positive effect
    (-0.003, 0.0, ev.NOT_FOUND),  # hi = 0 is not significantly the other way
    (-0.003, -1e-9, ev.OPPOSITE),
    (-0.009, -0.001, ev.OPPOSITE),
    (-0.002, 0.009, ev.INCONCLUSIVE),
    (0.0, DELTA, ev.INCONCLUSIVE),
    (math.nan, 0.01, ev.NOT_COMPARABLE),
])
def test_each_verdict_and_its_boundaries(lo, hi, expected):
    assert ev.verdict(lo, hi, DELTA) == expected


def test_verdict_needs_a_positive_delta_and_an_ordered_interval():
    assert ev.verdict(0.0, 1.0, math.nan) == ev.NOT_COMPARABLE
    with pytest.raises(ValueError, match="delta"):
        ev.verdict(0.0, 1.0, -0.1)
    with pytest.raises(ValueError, match="lo <= hi"):
        ev.verdict(0.2, 0.1, 0.1)


def test_verdicts_from_data():
    rng = np.random.default_rng(3)
    b = rng.uniform(0.2, 0.8, (5, 2000))
    noise = lambda sd: rng.normal(0, sd, b.shape)  # noqa: E731
    cases = {ev.REPRODUCED: 0.02, ev.WEAKER: 0.005, ev.OPPOSITE: -0.01}
    for expected, shift in cases.items():
        e = ev.paired_effect(b + shift + noise(0.01), b)
        assert ev.verdict(e.lo, e.hi, 0.02) == expected
    exact = ev.paired_effect(b + noise(0.01) - 0.0, b)
    assert ev.verdict(exact.lo, exact.hi, 0.02) == ev.NOT_FOUND
    small = ev.paired_effect(b[:2, :20] + noise(0.3)[:2, :20], b[:2, :20])
    assert ev.verdict(small.lo, small.hi, 0.02) == ev.INCONCLUSIVE


# power ---------------------------------------------------------------------------------------


def test_mde_is_about_2_8_standard_errors_with_many_degrees_of_freedom():
    assert ev.mde(1.0) == pytest.approx(2.8016, abs=1e-3)
    assert ev.mde(1.0, df=2) > ev.mde(1.0, df=10) > ev.mde(1.0)


def test_mde_shrinks_as_instances_and_seeds_grow():
    def mde(n_seeds, n_instances):
        return ev.effect_of_differences(simulate(n_seeds, n_instances, 0.02, 0.2, 0.1, replicates=1)[0]).mde

    base = mde(3, 300)
    assert mde(3, 3000) < base
    assert mde(10, 300) < base
    assert mde(10, 3000) < min(mde(3, 3000), mde(10, 300))


def test_growth_needed_reaches_the_papers_effect():
    e = ev.effect_of_differences(simulate(3, 300, 0.02, 0.2, 0.1, replicates=1)[0])
    delta = ev.mde(e.se) / 2  # half the (large-sample) MDE: a run four times as large
    growth = ev.growth_needed(e, delta)
    assert growth.scale == pytest.approx(4)
    z = ev.mde(1.0)
    for seeds, instances in ((growth.seeds, e.n_instances), (e.n_seeds, growth.instances)):
        if math.isfinite(seeds) and math.isfinite(instances):
            var = e.seed_var / seeds + e.instance_var / instances + e.residual_var / (seeds * instances)
            assert z * math.sqrt(var) <= delta * 1.0001
    assert growth.seeds > e.n_seeds
    big = ev.growth_needed(e, e.mde * 2)
    assert (big.scale, big.seeds, big.instances) == (1.0, 3, 300)
    # with almost no seed spread, more instances at three seeds are enough
    flat = ev.effect_of_differences(simulate(3, 300, 0.0, 0.2, 0.1, replicates=1)[0])
    assert math.isfinite(ev.growth_needed(flat, flat.mde / 2).instances)


# effects, relative effects and edge cases ----------------------------------------------------


def test_relative_effect_is_against_the_references_mean():
    rng = np.random.default_rng(4)
    b = rng.uniform(0.1, 0.5, (3, 400))
    e = ev.paired_effect(b * 1.02, b)
    assert e.reference_mean == pytest.approx(b.mean())
    assert e.relative == pytest.approx(0.02)
    lo, hi = e.relative_interval
    assert lo <= 0.02 <= hi


def test_one_seed_covers_instances_only_and_says_so():
    rng = np.random.default_rng(5)
    b = rng.uniform(0, 1, 200)
    e = ev.paired_effect(b + 0.01 + rng.normal(0, 0.1, 200), b)
    assert e.n_seeds == 1 and "instances only" in e.note
    assert e.df == 199 and e.lo < e.estimate < e.hi
    assert math.isnan(e.seed_var)


def test_zero_variance_gives_a_point_interval():
    b = np.full((3, 10), 0.5)
    same = ev.paired_effect(b, b)
    assert (same.estimate, same.lo, same.hi, same.p, same.mde) == (0.0, 0.0, 0.0, 1.0, 0.0)
    shifted = ev.paired_effect(b + 0.1, b)
    assert shifted.lo == shifted.hi == pytest.approx(0.1) and shifted.p == 0.0
    assert "point" in shifted.note


def test_non_finite_instances_are_dropped_and_counted():
    rng = np.random.default_rng(6)
    a, b = rng.uniform(0, 1, (3, 50)), rng.uniform(0, 1, (3, 50))
    a[1, 7] = np.nan
    b[0, 9] = np.inf
    e = ev.paired_effect(a, b)
    keep = np.ones(50, bool)
    keep[[7, 9]] = False
    assert e.dropped == 2 and e.n_instances == 48
    assert e.estimate == pytest.approx((a[:, keep] - b[:, keep]).mean())
    nothing = ev.paired_effect(np.full((3, 4), np.nan), np.zeros((3, 4)))
    assert math.isnan(nothing.estimate) and ev.verdict(nothing.lo, nothing.hi, 0.01) == ev.NOT_COMPARABLE
    single = ev.paired_effect([[0.3]], [[0.1]])
    assert single.estimate == pytest.approx(0.2) and math.isnan(single.se)


def test_shapes_must_match():
    with pytest.raises(ValueError, match="same shape"):
        ev.paired_effect(np.zeros((3, 4)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="non-finite"):
        ev.effect_of_differences([[0.0, np.nan]])


def test_an_effect_glues_as_plain_values_and_comes_back():
    e = ev.paired_effect(np.full((1, 1), 0.3), np.full((1, 1), 0.1))  # NaN SE, interval, MDE
    text = repr(e.as_dict())
    back = ev.Effect.from_dict(ast.literal_eval(text))
    assert back.estimate == e.estimate and math.isnan(back.se) and back.note == e.note


def test_holm_adjusts_a_family_and_leaves_nan_out():
    adjusted = ev.holm([0.01, 0.04, 0.03, np.nan])
    assert adjusted[:3] == pytest.approx([0.03, 0.06, 0.06])
    assert math.isnan(adjusted[3])
    assert ev.holm([0.5, 0.9]).tolist() == [1.0, 1.0]
    assert ev.holm([]).size == 0


# wiring: the comparison code produces effects ---------------------------------------------


def _comparison(shifts: dict, n_seeds=3, n_instances=400, seed=7):
    from pprlib.experiments import Comparison

    rng = np.random.default_rng(seed)
    base = rng.uniform(0, 1, n_instances)
    per = {}
    for method, shift in shifts.items():
        for s in range(n_seeds):
            noise = rng.normal(0, 0.05, n_instances) + rng.normal(0, 0.01)
            per[(method, s)] = {"NDCG@10": (base + shift + noise).astype(np.float32),
                                "position": np.ones(n_instances, np.float32)}
    return Comparison(per, {}, {})


def test_comparison_effect_pairs_seeds_and_instances():
    result = _comparison({"ft": 0.0, "PPR(light)": 0.02})
    e = result.effect("PPR(light)", "ft")
    assert (e.n_seeds, e.n_instances) == (3, 400)
    assert e.lo < 0.02 < e.hi and e.estimate == pytest.approx(0.02, abs=0.02)
    table = result.effects()
    assert list(table.index) == ["PPR(light)"] and table.loc["PPR(light)", "MDE"] == pytest.approx(e.mde)
    with pytest.raises(ValueError, match="no seed"):
        result.effect("PPR(light)", "nothing")


def test_studies_key_their_effects_as_the_chapters_glue_them():
    from pprlib import studies

    ablation = _comparison({"ft": 0.0, "PPR(light)": 0.02, "PPR(light) w/o CL": 0.0, "shared prompt (light)": 0.01})
    effects = studies.ablation_effects(ablation)
    assert set(effects) == {"cl_light", "personal_light"}
    assert effects["cl_light"].estimate == pytest.approx(ablation.effect("PPR(light)", "PPR(light) w/o CL").estimate)
    univ = studies.universality_effects({"CL4SRec": _comparison({"ft": 0.0, "PPR(light)": 0.0, "PPR(full)": 0.01})})
    assert set(univ) == {"univ_cl4srec_light", "univ_cl4srec_full"}


def test_sparsity_trend_carries_a_seed_level_effect():
    import pandas as pd

    from pprlib import studies

    rows = [{"method": "PPR(light)", "metric": "NDCG@10", "seed": s, "k": k, "improvement": v}
            for s, (low, high) in enumerate([(1.0, 0.2), (0.8, 0.1), (1.2, 0.5)]) for k, v in ((1, low), (7, high))]
    trend = studies.sparsity_trend(pd.DataFrame(rows), "PPR(light)", 1, 7)
    e = ev.Effect.from_dict(trend["effect"])
    assert e.estimate == pytest.approx(trend["diff"]) and e.n_seeds == 3 and e.n_instances == 1
    assert "training randomness only" in e.note and e.p == pytest.approx(trend["p_seeds"])


def test_profile_f1_effect_pairs_seeds():
    from types import SimpleNamespace

    from pprlib.tasks import profile_prediction as pp

    y = np.array([1, 1, 0, 0, 1, 0])
    probs = {("ft", s): np.array([0.9, 0.2, 0.1, 0.6, 0.3, 0.2]) for s in (0, 1)}
    probs.update({("PPR(light)", 0): np.array([0.9, 0.8, 0.1, 0.2, 0.3, 0.2]),
                  ("PPR(light)", 1): np.array([0.9, 0.8, 0.1, 0.2, 0.7, 0.2])})
    e = pp.f1_effect({"labels": SimpleNamespace(y={"test": y}), "probs": probs}, "PPR(light)", "ft")
    assert e.n_seeds == 2 and e.reference_mean == pytest.approx(0.4)  # ft: TP 1, FP 1, FN 2
    assert e.estimate == pytest.approx(((0.8 - 0.4) + (1.0 - 0.4)) / 2)
    assert "test users not resampled" in e.note
