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
from dataclasses import astuple

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
    (DELTA, 0.009, ev.REPRODUCED),  # lo = delta: still compatible
    (DELTA + 1e-9, 0.009, ev.STRONGER),  # the whole interval above the paper's effect
    (0.02, 0.03, ev.STRONGER),
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


def test_studies_tables_show_each_effect_judged_where_the_paper_claims_it():
    from pprlib import studies

    ablation = _comparison({"ft": 0.0, "PPR(light)": 0.02, "PPR(light) w/o CL": 0.0, "PPR(light) w/o behaviour aug": 0.0,
                            "PPR(full)": 0.01, "PPR(full) w/o prompt aug": 0.01})
    table = studies.ablation_table({"d": ablation})
    assert list(table.index) == [("d", "PPR(light)", "w/o CL"), ("d", "PPR(light)", "w/o behaviour aug"),
                                 ("d", "PPR(full)", "w/o prompt aug")]
    e = ablation.effect("PPR(light)", "PPR(light) w/o CL")
    assert table.loc[("d", "PPR(light)", "w/o CL"), "ΔNDCG@10 [95% interval]"] == e.text()
    assert table.loc[("d", "PPR(light)", "w/o CL"), "verdict"] == ev.verdict(e.lo, e.hi, 0.005 * e.reference_mean)
    assert table.loc[("d", "PPR(full)", "w/o prompt aug"), "verdict"] == "—"  # not a claim the summary scores
    univ = studies.universality_table({"CL4SRec": _comparison({"ft": 0.0, "PPR(light)": 0.2, "PPR(full)": -0.2}),
                                       "GRU4Rec": _comparison({"ft": 0.0, "PPR(light)": 0.03, "PPR(full)": 0.0})})
    assert univ.index.names == ["backbone", "method"] and len(univ) == 4
    assert univ.loc[("CL4SRec", "PPR(light)"), "verdict"] == ev.STRONGER  # +0.2, far above the smallest effect
    assert univ.loc[("CL4SRec", "PPR(full)"), "verdict"] == ev.OPPOSITE
    assert set(univ.loc["GRU4Rec"].verdict) == {"—"}  # the paper reports no GRU4Rec backbone


@pytest.mark.parametrize("p, shown, prose", [(0.28, "0.280", "= 0.280"), (0.0494, "0.049", "= 0.049"),
                                             (1.92e-05, "< 0.001", "< 0.001"), (0.001, "0.001", "= 0.001"),
                                             (1.0, "1.000", "= 1.000"), (math.nan, "—", "—"), (None, "—", "—")])
def test_p_values_have_one_format(p, shown, prose):
    assert ev.format_p(p) == shown and ev.format_p(p, equals=True) == prose


def test_format_p_rejects_what_is_not_a_p_value():
    with pytest.raises(ValueError, match="1.5"):
        ev.format_p(1.5)


@pytest.mark.parametrize("value, shown", [(62.0, "62"), (162285.0, "162,285"), (np.int64(6000), "6,000"),
                                          (71920.4, "71,920"), (3.952, "3.952"), (41063.14, "41,063"),
                                          (0.0046, "0.0046"), (1.9201880154982173e-05, "1.9 × 10⁻⁵"),
                                          (-2.98e-08, "-3.0 × 10⁻⁸"), (0.0, "0"), (math.nan, "—"), (None, "—"),
                                          (True, "yes"), (np.bool_(False), "no"), ("cpu", "cpu")])
def test_numbers_are_shown_without_raw_floats(value, shown):
    assert ev.format_number(value) == shown


def test_mde_and_effect_text_never_print_nan():
    assert ev.format_mde(0.00123) == "0.0012" and ev.format_mde(math.nan) == "—" and ev.format_mde(None) == "—"
    assert ev.missing("not run").text() == "—"
    one = ev.effect_of_differences(np.array([[0.5]]))  # a single value: no interval
    assert one.text() == "+0.5000 [no interval]"


def test_the_sparsity_trend_linearized_per_instance_keeps_its_value():
    """Each instance's share of an improvement (a ratio of means) and of a trend (improvement at
    a small k minus at a large k, the small k's instances among the large k's) average to the
    quantity itself, so the trend's interval can cover instances as a mean's does."""
    from pprlib import studies

    rng = np.random.default_rng(4)
    a, f = rng.random(50), rng.random(50)
    assert studies.improvement_contributions(a, f).mean() == pytest.approx(100 * (a.mean() / f.mean() - 1))
    in_low = rng.random(80) < 0.4
    a_low, f_low, a_high, f_high = rng.random(in_low.sum()), rng.random(in_low.sum()), rng.random(80), rng.random(80)
    d = studies.trend_contributions(a_low, f_low, a_high, f_high, in_low)
    want = 100 * (a_low.mean() / f_low.mean() - 1) - 100 * (a_high.mean() / f_high.mean() - 1)
    assert len(d) == 80 and d.mean() == pytest.approx(want)


def test_profile_f1_effect_pairs_seeds():
    from types import SimpleNamespace

    from pprlib.tasks import profile_prediction as pp

    y = np.array([1, 1, 0, 0, 1, 0])
    probs = {("ft", s): np.array([0.9, 0.2, 0.1, 0.6, 0.3, 0.2]) for s in (0, 1)}
    probs.update({("PPR(light)", 0): np.array([0.9, 0.8, 0.1, 0.2, 0.3, 0.2]),
                  ("PPR(light)", 1): np.array([0.9, 0.8, 0.1, 0.2, 0.7, 0.2])})
    e = pp.f1_effect({"labels": SimpleNamespace(y={"test": y}), "probs": probs}, "PPR(light)", "ft")
    assert e.n_seeds == 2 and e.n_instances == 6  # the interval covers seeds and test users
    assert e.reference_mean == pytest.approx(0.4)  # ft: TP 1, FP 1, FN 2
    assert e.estimate == pytest.approx(((0.8 - 0.4) + (1.0 - 0.4)) / 2)


# reference computations on small hand-built arrays ----------------------------------------


def anova_reference(d):
    """The two-way analysis of variance of a seeds x instances array with plain loops."""
    S, I = len(d), len(d[0])
    grand = sum(map(sum, d)) / (S * I)
    seed_means = [sum(row) / I for row in d]
    inst_means = [sum(d[s][i] for s in range(S)) / S for i in range(I)]
    ms_seed = I * sum((m - grand) ** 2 for m in seed_means) / (S - 1)
    ms_inst = S * sum((m - grand) ** 2 for m in inst_means) / (I - 1)
    ms_res = sum((d[s][i] - seed_means[s] - inst_means[i] + grand) ** 2
                 for s in range(S) for i in range(I)) / ((S - 1) * (I - 1))
    return grand, ms_seed, ms_inst, ms_res


def effect_reference(d):
    """(estimate, se, df, lo, hi, p, mde) of the module's method, from the formulas of its docstring."""
    from scipy import stats

    S, I = len(d), len(d[0])
    grand, a, b, c = anova_reference(d)
    if a + b - c >= max(a, b):
        var = (a + b - c) / (S * I)
        a_df = a * (S - 1) / stats.chi2.ppf(0.25, S - 1)  # the seed mean square at its upper 75 % bound
        df = (a_df + b - c) ** 2 / (a_df ** 2 / (S - 1) + b ** 2 / (I - 1) + c ** 2 / ((S - 1) * (I - 1)))
    else:  # truncated: the larger of the two lower bounds, with its own degrees of freedom
        var, df = max(a, b) / (S * I), (S - 1 if a >= b else I - 1)
    se = math.sqrt(var)
    t = stats.t.ppf(0.975, df)
    p = 2 * stats.t.sf(abs(grand) / se, df)
    return grand, se, df, grand - t * se, grand + t * se, p, (t + stats.t.ppf(0.8, df)) * se


HAND = {
    # seed spread comparable to the instances': the combined estimate, Satterthwaite's df
    "combined": [[0.10, 0.32, -0.05, 0.21, 0.02], [0.18, 0.35, 0.03, 0.30, 0.12], [0.02, 0.20, -0.12, 0.15, -0.04]],
    # no seed spread to speak of, residual larger: truncated to the instances' mean square
    "instances": [[0.1, -0.2, 0.3, 0.0], [-0.1, 0.25, 0.05, 0.1], [0.2, -0.05, 0.1, -0.1]],
    # large seed spread, instances alike: truncated to the seeds' mean square
    "seeds": [[0.5, 0.52, 0.48, 0.5], [0.1, 0.08, 0.13, 0.11], [-0.2, -0.23, -0.18, -0.22]],
}


@pytest.mark.parametrize("name", HAND)
def test_effect_of_differences_follows_the_formulas(name):
    d = HAND[name]
    grand, a, b, c = anova_reference(d)
    kind = "combined" if a + b - c >= max(a, b) else ("seeds" if a >= b else "instances")
    assert kind == name  # each array exercises its branch
    e = ev.effect_of_differences(np.array(d), reference_mean=0.4)
    want = effect_reference(d)
    got = (e.estimate, e.se, e.df, e.lo, e.hi, e.p, e.mde)
    assert got == pytest.approx(want, rel=1e-9)
    assert (e.n_seeds, e.n_instances, e.reference_mean, e.level, e.power, e.note) == (3, len(d[0]), 0.4, 0.95, 0.8, "")
    S, I = 3, len(d[0])
    assert (e.seed_var, e.instance_var, e.residual_var) == pytest.approx(
        (max(0.0, (a - c) / I), max(0.0, (b - c) / S), c), rel=1e-9, abs=1e-15)
    comps = ev.variance_components(np.array(d))
    assert (comps["ms_seed"], comps["ms_instance"], comps["ms_residual"]) == pytest.approx((a, b, c), rel=1e-12)
    mean, lo, hi = ev.interval(np.array(d))
    assert (mean, lo, hi) == pytest.approx((want[0], want[3], want[4]), rel=1e-9)


def test_a_level_and_power_change_the_interval_and_mde():
    from scipy import stats

    d = np.array(HAND["combined"])
    e95, e80 = ev.effect_of_differences(d), ev.effect_of_differences(d, level=0.8, power=0.9)
    t80 = stats.t.ppf(0.9, e80.df)
    assert (e80.lo, e80.hi) == pytest.approx((e80.estimate - t80 * e80.se, e80.estimate + t80 * e80.se), rel=1e-12)
    assert e80.mde == pytest.approx((t80 + stats.t.ppf(0.9, e80.df)) * e80.se, rel=1e-12)
    assert e80.hi - e80.lo < e95.hi - e95.lo and (e80.level, e80.power) == (0.8, 0.9)
    _, lo, hi = ev.interval(d, level=0.8)
    assert (lo, hi) == pytest.approx((e80.lo, e80.hi), rel=1e-12)
    assert ev.critical_values(math.inf, 0.8, 0.9) == pytest.approx((stats.norm.ppf(0.9), stats.norm.ppf(0.9)))


def test_paired_effect_a_over_b_and_the_t_tests_of_one_seed_or_one_instance():
    from scipy import stats

    a = np.array([[0.5, 0.2, 0.9, 0.4, 0.7, 0.1]])
    b = np.array([[0.3, 0.25, 0.6, 0.45, 0.5, 0.05]])
    e = ev.paired_effect(a, b)  # one seed: the paired t-test over instances
    ref = stats.ttest_rel(a[0], b[0])
    ci = ref.confidence_interval()
    assert (e.estimate, e.p, e.lo, e.hi, e.df) == pytest.approx(((a - b).mean(), ref.pvalue, ci.low, ci.high, 5))
    assert e.se == pytest.approx((a - b).std(ddof=1) / math.sqrt(6))
    assert e.instance_var == pytest.approx((a - b).var(ddof=1)) and math.isnan(e.residual_var)
    assert e.reference_mean == pytest.approx(b.mean()) and e.mde == pytest.approx(ev.mde(e.se, 5))
    assert ev.paired_effect(b, a).estimate == pytest.approx(-e.estimate)  # A over B, not B over A
    seeds = ev.effect_of_differences((a - b).T)  # one value per seed: a t-test over seeds
    assert (seeds.p, seeds.df, seeds.n_seeds, seeds.n_instances) == pytest.approx((ref.pvalue, 5, 6, 1))
    assert seeds.seed_var == pytest.approx((a - b).var(ddof=1)) and math.isnan(seeds.instance_var)
    assert "training randomness only" in seeds.note and "instances only" in e.note


def test_instance_only_is_the_paired_t_interval_of_seed_means():
    from scipy import stats

    d = np.array(HAND["combined"])
    mean, lo, hi = ev.instance_only(d)
    ci = stats.ttest_1samp(d.mean(0), 0.0).confidence_interval()
    assert (mean, lo, hi) == pytest.approx((d.mean(), ci.low, ci.high), rel=1e-12)
    _, lo80, hi80 = ev.instance_only(d, level=0.8)
    ci80 = stats.ttest_1samp(d.mean(0), 0.0).confidence_interval(0.8)
    assert (lo80, hi80) == pytest.approx((ci80.low, ci80.high), rel=1e-12)


def test_growth_needed_by_hand():
    """var(S, I) = 0.002/S + 0.05/I + 0.3/(S I); MDE (normal) = 2.8016 SE; delta = 0.05 needs
    var <= (0.05 / 2.8016)^2 = 3.185e-4."""
    z = sum(ev.critical_values(math.inf))
    target = (0.05 / z) ** 2
    base = dict(estimate=0.01, reference_mean=0.3, df=10.0, lo=0.0, hi=0.02, p=0.1, mde=0.1, n_seeds=3,
                n_instances=400, seed_var=0.002, instance_var=0.05, residual_var=0.3)
    se2 = 0.002 / 3 + 0.05 / 400 + 0.3 / 1200
    e = ev.Effect(se=math.sqrt(se2), **base)
    g = ev.growth_needed(e, 0.05)
    assert g.scale == pytest.approx(se2 / target, rel=1e-12)
    assert g.seeds == math.ceil((0.002 + 0.3 / 400) / (target - 0.05 / 400)) == 15
    assert g.instances == math.inf  # 0.002 / 3 > target: more instances alone cannot get there
    easy_se = math.sqrt(1e-5 / 5 + 0.1 / 400 + 0.3 / 2000)
    easy = ev.Effect(**{**base, "seed_var": 1e-5, "instance_var": 0.1, "n_seeds": 5}, se=easy_se)
    g = ev.growth_needed(easy, 0.05)
    assert g.instances == math.ceil((0.1 + 0.3 / 5) / (target - 1e-5 / 5)) == 506
    assert g.seeds == math.ceil((1e-5 + 0.3 / 400) / (target - 0.1 / 400)) == 12
    assert g.scale == pytest.approx(easy_se ** 2 / target, rel=1e-12)
    assert ev.growth_needed(e, 10.0) == ev.Growth(1.0, 3.0, 400.0)  # already large enough
    for bad in (math.nan, 0.0, -0.1):
        assert all(math.isnan(v) for v in astuple(ev.growth_needed(e, bad)))
    one_seed = ev.Effect(**{**base, "n_seeds": 1, "seed_var": math.nan, "residual_var": math.nan}, se=0.03)
    g = ev.growth_needed(one_seed, 0.05)
    assert g.scale == pytest.approx(0.03 ** 2 / target) and math.isnan(g.seeds)
    assert g.instances == math.ceil(0.05 / target) == 157
    one_inst = ev.Effect(**{**base, "n_instances": 1, "instance_var": math.nan, "residual_var": math.nan}, se=0.03)
    g = ev.growth_needed(one_inst, 0.05)
    assert g.scale == pytest.approx(0.03 ** 2 / target) and math.isnan(g.instances)
    assert g.seeds == math.ceil(0.002 / target) == 7
    # no variance components known (all zero): the scale comes from the SE
    flat = ev.Effect(**{**base, "seed_var": 0.0, "instance_var": 0.0, "residual_var": 0.0}, se=0.03)
    assert ev.growth_needed(flat, 0.05).scale == pytest.approx(0.03 ** 2 / target)


def test_effect_text_relative_values_and_plain_dict():
    e = ev.Effect(0.0012, 0.0, 0.001, 5.0, -0.0003, 0.0027, 0.2, 0.004, np.int64(3), 10, 0.1, 0.2, 0.3,
                  dropped=np.int32(2), note="x")
    assert e.text() == "+0.0012 [-0.0003, +0.0027]" and e.text(2) == "+0.00 [-0.00, +0.00]"
    assert math.isnan(e.relative) and all(math.isnan(v) for v in e.relative_interval)
    f = ev.Effect(**{**e.as_dict(), "reference_mean": 0.5})
    assert f.relative == pytest.approx(0.0024) and f.relative_interval == pytest.approx((-0.0006, 0.0054))
    plain = e.as_dict()
    assert plain["n_seeds"] == 3 and type(plain["n_seeds"]) is int and type(plain["dropped"]) is int
    assert type(plain["estimate"]) is float and plain["note"] == "x"
    assert ev.Effect.from_dict({**plain, "unknown": 1}) == e
    nan = ev.Effect.from_dict({**plain, "se": None})
    assert math.isnan(nan.se) and nan.as_dict()["se"] is None


def test_verdict_refuses_what_is_not_a_number():
    assert ev.verdict(None, 0.1, 0.1) == ev.NOT_COMPARABLE
    assert ev.verdict(0.0, math.inf, 0.1) == ev.NOT_COMPARABLE
    assert ev.verdict(0.01, 0.02, math.inf) == ev.NOT_COMPARABLE
    assert ev.verdict(np.float64(0.01), np.float64(0.2), 0.1) == ev.REPRODUCED


def test_what_cannot_be_estimated_is_nan_with_every_count_kept():
    empty = ev.effect_of_differences(np.zeros((3, 0)), reference_mean=0.4, level=0.9, power=0.7, dropped=2)
    single = ev.effect_of_differences([[0.2]], reference_mean=0.4, level=0.9, power=0.7, dropped=1)
    for e, estimate, shape, dropped, note in ((empty, math.nan, (3, 0), 2, "no instances to compare"),
                                              (single, 0.2, (1, 1), 1, "a single value: no uncertainty can be estimated")):
        values = e.as_dict()
        assert values["estimate"] == (None if math.isnan(estimate) else estimate)
        assert all(math.isnan(getattr(e, k)) for k in ("se", "df", "lo", "hi", "p", "mde", "seed_var", "instance_var",
                                                       "residual_var"))
        assert (e.reference_mean, e.n_seeds, e.n_instances, e.level, e.power, e.dropped, e.note) == (
            0.4, *shape, 0.9, 0.7, dropped, note)
    assert ev.effect_of_differences([[0.1, 0.3]]).dropped == 0


def test_two_seeds_or_two_instances_are_enough_for_an_interval():
    from scipy import stats

    for d in ([[0.1], [0.3]], [[0.1, 0.3]], [0.1, 0.3]):  # two seeds of one instance, one seed of two, 1-d
        e = ev.effect_of_differences(d)
        ref = stats.ttest_1samp([0.1, 0.3], 0.0)
        assert (e.estimate, e.p, e.df, e.lo, e.hi) == pytest.approx(
            (0.2, ref.pvalue, 1, *ref.confidence_interval()), rel=1e-12)
    assert ev.effect_of_differences([[0.1], [0.3]]).note == "one value per seed: the interval covers training randomness only"
    assert ev.effect_of_differences([0.1, 0.3]).note == ("one seed: the interval covers the test instances only, "
                                                         "not training randomness")


def test_no_variation_gives_a_point_with_infinite_degrees_of_freedom_and_no_warning():
    import warnings

    b = np.full((3, 10), 0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no division warnings for 0 / 0 (notebooks stay clean)
        shifted = ev.paired_effect(b + 0.125, b)
        nothing = ev.paired_effect(np.full((3, 4), np.nan), np.zeros((3, 4)))
    assert shifted.df == math.inf and shifted.note == "no variation: the interval is a point"
    assert math.isnan(nothing.reference_mean) and nothing.dropped == 4
    one_seed = ev.paired_effect(np.full(5, 0.6), np.full(5, 0.5))
    assert one_seed.note == ("one seed: the interval covers the test instances only, not training randomness; "
                             "no variation: the interval is a point")


def test_degrees_of_freedom_of_the_truncated_estimates():
    # pure interaction: every seed mean and instance mean is the same, so both mean squares
    # are 0 (a tie): the seeds' df, S - 1
    tie = ev.effect_of_differences([[0.1, -0.1, 0.0], [-0.1, 0.1, 0.0]])
    assert (tie.se, tie.df) == (0.0, 1.0)
    # two seeds far apart: the seeds' spread dominates, about one degree of freedom (no floor of 2)
    two = ev.effect_of_differences([[0.5, 0.52, 0.48], [0.1, 0.11, 0.09]])
    assert two.df == pytest.approx(1.0, abs=0.01)


def test_float32_metrics_are_computed_in_float64():
    """evaluate returns float32 metrics; every result equals that of the same values in float64."""
    rng = np.random.default_rng(8)
    a32 = rng.uniform(0, 1, (3, 50)).astype(np.float32)
    b32 = (a32 * 0.97 + rng.uniform(0, 0.05, a32.shape)).astype(np.float32)
    a64, b64 = a32.astype(np.float64), b32.astype(np.float64)
    assert ev.paired_effect(a32, b32) == ev.paired_effect(a64, b64)
    assert ev.paired_effect(a64, b32) == ev.paired_effect(a64, b64)
    assert ev.paired_effect(a32, b64) == ev.paired_effect(a64, b64)
    d32 = a32 - b32
    assert ev.effect_of_differences(d32) == ev.effect_of_differences(d32.astype(np.float64))
    for fn in (ev.interval, ev.instance_only, ev.standard_error):
        for got, want in zip(fn(d32), fn(d32.astype(np.float64)), strict=True):
            assert np.array_equal(got, want), fn.__name__
    got, want = ev.variance_components(d32), ev.variance_components(d32.astype(np.float64))
    assert all(np.array_equal(got[k], want[k]) for k in want)
    p32 = np.array([0.0131, 0.0407, 0.0333], dtype=np.float32)
    assert np.array_equal(ev.holm(p32), ev.holm(p32.astype(np.float64)))
    assert not np.array_equal(ev.holm(p32), (np.array([3, 2, 2], np.float32) * p32)[[0, 1, 1]])


def test_instance_only_is_vectorised_over_leading_axes():
    d = np.stack([np.array(HAND["combined"]), np.array(HAND["combined"]) * 2 - 0.1])
    mean, lo, hi = ev.instance_only(d)
    for k in range(2):
        assert (mean[k], lo[k], hi[k]) == pytest.approx(ev.instance_only(d[k]), rel=1e-12)


def test_paired_effect_passes_its_level_and_power_on():
    a, b = np.array(HAND["combined"]) + 0.3, np.full((3, 5), 0.3)
    got, want = ev.paired_effect(a, b, level=0.8, power=0.9), ev.effect_of_differences(a - b, 0.3, level=0.8, power=0.9)
    assert (got.level, got.power) == (0.8, 0.9)
    assert (got.lo, got.hi, got.mde) == pytest.approx((want.lo, want.hi, want.mde), rel=1e-9)


def test_critical_values_without_degrees_of_freedom_are_the_normal_ones():
    from scipy import stats

    assert ev.critical_values(math.inf) == (stats.norm.ppf(0.975), stats.norm.ppf(0.8))


def test_growth_at_the_boundaries():
    z = sum(ev.critical_values(math.inf))
    base = dict(estimate=0.01, reference_mean=0.3, df=10.0, lo=0.0, hi=0.02, p=0.1, mde=0.1, n_seeds=3,
                n_instances=10, seed_var=0.1875, instance_var=0.0, residual_var=0.0)
    # se^2 exactly the target (0.25 * z / z is exact): large enough as it is
    exact = ev.Effect(se=0.25, **base)
    assert ev.growth_needed(exact, 0.25 * z) == ev.Growth(1.0, 3.0, 10.0)
    # the seeds' share alone is exactly the target: more instances never get there (no division by 0)
    g = ev.growth_needed(ev.Effect(se=0.3, **base), 0.25 * z)
    assert g.instances == math.inf and g.seeds == 3 and g.scale == pytest.approx(1.0)
    inst = ev.Effect(se=0.3, **{**base, "seed_var": 0.0, "instance_var": 0.625})
    assert ev.growth_needed(inst, 0.25 * z).seeds == math.inf
    # the SE from a truncated estimate differs from the components' variance: the scale uses the components
    e = ev.Effect(se=0.5, **{**base, "seed_var": 0.3})
    assert ev.growth_needed(e, 0.25 * z).scale == pytest.approx(0.1 / 0.0625)
    # the power of the effect sets the target; unknown components count as 0
    weak = ev.Effect(se=0.5, **{**base, "power": 0.5})
    assert ev.growth_needed(weak, 0.25 * z).scale == pytest.approx(0.0625 / (0.25 * z / ev.mde(1.0, power=0.5)) ** 2)
    unknown = ev.Effect(se=0.5, **{**base, "instance_var": math.nan, "residual_var": math.nan})
    assert ev.growth_needed(unknown, 0.25 * z) == ev.growth_needed(ev.Effect(se=0.5, **base), 0.25 * z)


def test_holm_caps_at_one_and_verdict_edges():
    assert ev.holm([0.6, 0.9]).tolist() == [1.0, 1.0]
    with pytest.raises(ValueError, match="delta"):
        ev.verdict(0.0, 1.0, 0.0)
    assert ev.verdict(0.0625, 0.0625, 0.0625) == ev.REPRODUCED  # a point interval is an interval
    assert ev.verdict(0.125, 0.125, 0.0625) == ev.STRONGER


def test_seed_share_and_growth_text_by_hand():
    base = dict(estimate=0.01, reference_mean=0.3, df=10.0, lo=0.0, hi=0.02, p=0.1, mde=0.1, n_seeds=3,
                n_instances=400, seed_var=0.002, instance_var=0.05, residual_var=0.3)
    se2 = 0.002 / 3 + 0.05 / 400 + 0.3 / 1200
    e = ev.Effect(se=math.sqrt(se2), **base)
    assert ev.seed_share(e) == pytest.approx((0.002 / 3) / se2)
    assert math.isnan(ev.seed_share(ev.Effect(**{**base, "n_seeds": 1, "seed_var": math.nan}, se=0.03)))
    assert ev.growth_text(e, 0.05) == "about 15 seeds on these instances"  # test_growth_needed_by_hand's case
    easy_se = math.sqrt(1e-5 / 5 + 0.1 / 400 + 0.3 / 2000)
    easy = ev.Effect(**{**base, "seed_var": 1e-5, "instance_var": 0.1, "n_seeds": 5}, se=easy_se)
    assert ev.growth_text(easy, 0.05) == "about 12 seeds on these instances"  # seeds first where both work
    hard = ev.Effect(**{**base, "seed_var": 0.02, "instance_var": 0.5}, se=0.2)  # each part alone above the target
    g = ev.growth_needed(hard, 0.05)
    assert math.isinf(g.seeds) and math.isinf(g.instances)
    assert ev.growth_text(hard, 0.05).startswith(f"about {g.scale:.1f} times as many seeds and test instances")
    assert ev.growth_text(e, 10.0) == "nothing more: the MDE is there already"


def test_the_sparsity_trend_interval_covers_test_instances_at_its_level():
    """The trend's interval (seeds x instances, linearized shares) covers the population's trend
    about 95 % of the time on fresh test instances; with seeds that barely differ, an interval
    over seeds alone would not."""
    from pprlib import studies

    rng = np.random.default_rng(2)
    n, trials, covered = 600, 300, 0
    gain = {"low": 0.10, "high": 0.04}  # the method's relative gain over ft at each k
    truth = 100 * (gain["low"] - gain["high"])
    for _ in range(trials):
        positions = rng.integers(1, 8, n)  # the larger set; the smaller is positions <= 2
        in_low = positions <= 2
        f, noise_high, noise_low = rng.random(n), 0.2 * rng.standard_normal(n), 0.2 * rng.standard_normal(n)
        rows = []
        for _seed in range(3):  # the instances are the noise; the seeds barely change anything
            jitter = 1 + 1e-4 * rng.standard_normal()
            a_high, a_low = f * jitter * (1 + gain["high"]) + noise_high, f * jitter * (1 + gain["low"]) + noise_low
            rows.append(studies.trend_contributions(a_low[in_low], f[in_low], a_high, f, in_low))
        e = ev.effect_of_differences(np.stack(rows))
        covered += e.lo <= truth <= e.hi
    assert 0.90 <= covered / trials <= 0.99, covered / trials
