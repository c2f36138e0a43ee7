"""pprlib.variant: the table of limits (what each method captures of the value of the profile,
what removing a limit recovers over PPR(light)) and the sentences read from it (pprlib.prose)."""

from __future__ import annotations

import numpy as np
import pytest

from pprlib import prose, variant
from pprlib.comparison import Comparison

N = 400


def _ceilings(rng):
    none = rng.uniform(0.3, 0.6, N)
    profile = none + 0.1 + rng.normal(0, 0.05, N)  # the value of the profile: about +0.1
    return Comparison({("Bayes (none)", 0): {"NDCG@10": none}, ("Bayes (profile)", 0): {"NDCG@10": profile}},
                      {}, {}), none, profile


def _result(rng, none, shares: dict[str, float], seeds=(0, 1, 2)):
    """Each method scoring the profile-blind scorer plus ``share`` of the value (0.1), with noise."""
    per = {}
    for name, share in shares.items():
        for s in seeds:
            per[(name, s)] = {"NDCG@10": none + 0.1 * share + rng.normal(0, 0.02, N) + rng.normal(0, 0.002)}
    return Comparison(per, {}, {})


@pytest.fixture
def world():
    rng = np.random.default_rng(0)
    ceilings, none, profile = _ceilings(rng)
    shares = {"PPR(light)": 0.1, variant.OPTIMIZATION["rate grid"]: 0.12, variant.OPTIMIZATION["budget"]: 0.1,
              "PPR(light) + warm validation": 0.1, "PPR(light) + softmax": 0.4,
              "PPR(light) + warm users": 0.3, "PPR(light), 4x wider": 0.12, "PPR(full)": 0.1, "PPR(warm)": 0.7,
              "ft": -0.5,
              "profile model": 0.2,
              "profile model (warm)": 0.65}
    return ceilings, _result(rng, none, shares), none, profile, shares


def test_captured_is_the_method_above_the_profile_blind_scorer_per_seed_and_instance(world):
    ceilings, result, none, profile, _ = world
    e = variant.captured(result, ceilings, "PPR(warm)")
    ours = np.stack([result.per_instance[("PPR(warm)", s)]["NDCG@10"] for s in (0, 1, 2)])
    assert e.estimate == pytest.approx((ours - none).mean())
    assert e.n_seeds == 3 and e.n_instances == N and e.lo < e.estimate < e.hi
    assert e.reference_mean == pytest.approx(none.mean())
    assert variant.value_of_profile(ceilings) == pytest.approx((profile - none).mean())
    with pytest.raises(ValueError, match="did not run"):
        variant.captured(result, ceilings, "PPR(full) w/o CL")
    short = Comparison({k: {"NDCG@10": v["NDCG@10"][:10]} for k, v in result.per_instance.items()}, {}, {})
    with pytest.raises(ValueError, match="instances"):
        variant.captured(short, ceilings, "PPR(warm)")


def test_the_table_gives_each_limit_its_captured_and_recovered_share(world):
    ceilings, result, none, profile, shares = world
    value = (profile - none).mean()
    table = variant.limits_table(result, ceilings).set_index("method")
    assert list(table.index) == [*variant.INTERVENTIONS.values(), *variant.BASELINES]
    for name, share in shares.items():
        assert table.loc[name, "share"] == pytest.approx(share * 0.1 / value, abs=0.03), name
        assert table.loc[name, "share lo"] < table.loc[name, "share"] < table.loc[name, "share hi"]
    over = result.effect("PPR(warm)", "ft")
    assert table.loc["PPR(warm)", "over ft"] == pytest.approx(over.estimate / value)
    assert table.loc["PPR(warm)", "over ft lo"] == pytest.approx(over.lo / value)
    gain = result.effect("PPR(warm)", "PPR(light)")
    assert table.loc["PPR(warm)", "recovered"] == pytest.approx(gain.estimate / value)
    assert table.loc["PPR(warm)", "MDE share"] == pytest.approx(gain.mde / value)
    assert table.loc["PPR(light)", "recovered over PPR(light)"] == "—"
    shown = variant.view(variant.limits_table(result, ceilings))
    assert shown.loc["all three: PPR(warm)", "captured (share of the value)"].endswith("%]")
    assert {"recovered over PPR(light) (share of the value)", "MDE of the gain (NDCG@10, share)"} <= set(shown.columns)


def test_a_method_that_did_not_run_is_left_out_of_the_table(world):
    ceilings, result, *_ = world
    fewer = Comparison({k: v for k, v in result.per_instance.items() if k[0] != "PPR(light) + softmax"}, {}, {})
    assert "PPR(light) + softmax" not in set(variant.limits_table(fewer, ceilings).method)


def test_the_sentences_report_each_limit_and_the_goal(world):
    ceilings, result, *_ = world
    table = variant.limits_table(result, ceilings)
    text = prose.interventions_sentence(table, "zero-shot")
    assert "the loss" in text and "(detectable)" in text and "validation noise" in text
    assert "optimization: the rate grid " in text and "optimization: the budget " in text
    assert "not distinguishable from zero" in text  # the validation intervention changes nothing here
    assert "(PPR(warm)) captures" in text and "profile model given the same data" in text
    assert "meets" in prose.goal_text(table, "zero-shot")
    assert "misses" in prose.goal_text(table, "zero-shot", goal=(0.9, 0.4))
    assert "misses" in prose.goal_text(table, "zero-shot", goal=(0.6, 0.7))  # the lower end must clear the floor
    # few-shot: the gain over ft as a share of the value (ft at -0.5, PPR(warm) at 0.7 of it: +1.2)
    over = prose.goal_text(table, "few-shot", "over ft")
    assert "gains over ft +" in over and "meets the goal of at least 50 %" in over
    assert "meets" in prose.goal_text(table, "few-shot", "over ft", goal=(1.0, 0.8))  # not the captured 0.7
    # a gain over ft surely above the value (+1.2 of it here) cannot all be the profile's: said
    assert "not all of it comes from the profile" in over
    assert "not all of it" not in prose.goal_text(table.assign(**{"over ft lo": 0.9}), "few-shot", "over ft")
    assert "more than the profile is worth" in prose.finding(table, table)
    assert "misses" in prose.goal_text(table, "few-shot", "over ft", goal=(1.5, 0.0))


def test_share_text_reads_percent_of_the_value(world):
    ceilings, result, *_ = world
    e = variant.captured(result, ceilings, "PPR(warm)")
    value = variant.value_of_profile(ceilings)
    text = variant.share_text(e, value)
    assert text.startswith(f"+{100 * e.estimate / value:.0f} % [") and text.endswith(" %]")
    assert variant.share_text(e, 0.0) == "—"


def test_the_variant_is_judged_against_each_method_with_the_smallest_effect_of_interest(world):
    from pprlib import paper

    _, result, *_ = world
    table = variant.versus_table(result).set_index("against")
    assert list(table.index) == ["ft", "PPR(light)", "PPR(full)", "profile model", "profile model (warm)"]
    ft = result.effect("PPR(warm)", "ft")
    assert table.loc["ft", "estimate"] == pytest.approx(ft.estimate) and table.loc["ft", "verdict"] == "better"
    assert table.loc["ft", "smallest effect of interest"] == f"{paper.SMALLEST_EFFECT * ft.reference_mean:+.4f}"
    # the profile model given the same data sits 0.005 below: inside the interval or not, never "worse"
    assert table.loc["profile model (warm)", "verdict"] in ("better", "inconclusive",
                                                            "no gain of the smallest effect of interest")
    worse = variant.versus_table(result, variant="ft", against=("PPR(warm)",))
    assert worse.verdict.tolist() == ["worse"]
    text = prose.versus_sentence(variant.versus_table(result), "zero-shot")
    assert text.startswith("In zero-shot, PPR(warm) is better than ft (") and "PPR(light)" in text
    assert variant.versus_view(variant.versus_table(result)).loc["ft", "verdict"] == "better"
    assert "did not run" in prose.versus_sentence(variant.versus_table(result, variant="PPR(full) w/o CL"), "zero-shot")


def test_the_finding_reports_both_kinds_and_the_goal(world):
    ceilings, result, *_ = world
    table = variant.limits_table(result, ceilings)
    text = prose.finding(table, table)
    rows = table.set_index("method")
    assert f"PPR(light) captures {rows.loc['PPR(light)', 'captured (share of the value)']}" in text
    assert f"PPR(warm) gains {rows.loc['PPR(warm)', 'gain over ft (share)']} of the value over ft" in text
    assert "meets its zero-shot goal" in text and "meets its few-shot goal" in text
    poor = table.assign(share=0.3, **{"over ft": 0.3})
    assert "misses its zero-shot goal" in prose.finding(poor, poor) and "misses its few-shot" in prose.finding(poor, poor)


def test_the_optimization_interventions_run_ppr_light_under_a_wider_grid_and_a_longer_budget(small_ctx):
    from pprlib.comparisons import compare

    result = variant.optimization_runs(small_ctx, "zero", 1e-4, [0])
    assert set(result.methods) == set(variant.OPTIMIZATION.values()) and result.seeds == [0]
    plain = compare(small_ctx, ["PPR(light)"], small_ctx.settings(lr={"PPR(light)": 1e-4}), "zero", [0]).only("zero")
    longer = result.per_instance[(variant.OPTIMIZATION["budget"], 0)]["NDCG@10"]
    assert len(longer) == len(plain.per_instance[("PPR(light)", 0)]["NDCG@10"])
    assert not np.array_equal(longer, plain.per_instance[("PPR(light)", 0)]["NDCG@10"])  # another budget, another run
