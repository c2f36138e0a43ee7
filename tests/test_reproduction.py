"""The reproduction summary's verdict rules, on glued values made up for the purpose."""

from __future__ import annotations

import math

import pytest

from pprlib import paper, prose, summary
from pprlib import reproduction as rp


def _claim(name):
    return next(c for c in rp.CLAIMS if c.claim == name)


def _effect(estimate, lo, hi, reference=0.5, p=0.01, mde=0.004, seeds=3, instances=1000):
    half = (hi - lo) / 2
    return {"estimate": estimate, "reference_mean": reference, "se": half / 1.96, "df": 50.0, "lo": lo, "hi": hi,
            "p": p, "mde": mde, "n_seeds": seeds, "n_instances": instances, "seed_var": 1e-5,
            "instance_var": 1e-2, "residual_var": 1e-3}


def test_our_interval_is_judged_against_the_papers_effect_in_our_units():
    claim = _claim("Few-shot: PPR(full) beats ft")
    delta = paper.EFFECTS["few_full"].value * 0.5  # CIKM's +0.67 % of our ft's 0.5
    assert delta == pytest.approx(0.5 * (.5290 / .5255 - 1))
    out = rp.evaluate_claims({"few_shot": {"ev_few_full": _effect(0.01, 0.002, 0.018, p=0.001)}}, [claim]).iloc[0]
    assert out.verdict == rp.REPRODUCED  # δ inside the interval
    assert out.delta == pytest.approx(delta)
    above = rp.evaluate_claims({"few_shot": {"ev_few_full": _effect(0.01, 0.004, 0.016, p=0.001)}}, [claim]).iloc[0]
    assert above.verdict == rp.STRONGER  # the whole interval above δ
    assert out.ours == "+0.0100 [+0.0020, +0.0180] NDCG@10 (+2.00%)"
    assert "p = 0.001" in out.evidence and "MDE 0.0040" in out.evidence
    assert "CIKM +0.67%" in out.paper and "better on 3 of 3" in out.paper
    assert out["δ (paper, our units)"].startswith(f"{delta:+.4f} (CIKM +0.67%")


def test_effects_table_judges_each_row_against_the_papers_effect_or_not_at_all():
    from pprlib import evidence

    strong = evidence.Effect.from_dict(_effect(0.01, 0.004, 0.016, p=0.0001))
    weak = evidence.Effect.from_dict(_effect(0.0004, -0.0005, 0.0013, p=0.4))
    table = rp.effects_table({("a", "PPR(light)"): (strong, "cl_light"), ("a", "PPR(full)"): (weak, "cl_full"),
                              ("b", "PPR(full)"): (strong, None)}, names=["data", "method"])
    assert table.index.names == ["data", "method"]
    row = table.loc[("a", "PPR(light)")]
    assert row["ΔNDCG@10 [95% interval]"] == "+0.0100 [+0.0040, +0.0160]"
    assert row.p == "< 0.001" and row.MDE == "0.0040" and row["δ (paper, our units)"] == "+0.0025"
    assert row.verdict == rp.STRONGER and table.loc[("a", "PPR(full)"), "verdict"] == rp.NOT_FOUND
    assert table.loc[("a", "PPR(full)"), "p"] == "0.400"
    assert (table.loc[("b", "PPR(full)"), ["δ (paper, our units)", "verdict"]] == "—").all()
    # the row of a claim the paper is mixed on says so
    mixed = rp.effects_table({"zero": (strong, "zero_light")})
    assert mixed.loc["zero", "verdict"] == rp.MIXED
    with pytest.raises(ValueError, match="at least one"):
        rp.effects_table({})


@pytest.mark.parametrize("lo, hi, verdict", [
    (0.0005, 0.0015, rp.WEAKER), (-0.0005, 0.0015, rp.NOT_FOUND), (-0.003, -0.001, rp.OPPOSITE),
    (-0.002, 0.02, rp.INCONCLUSIVE), (0.001, 0.02, rp.REPRODUCED)])
def test_direction_only_claims_use_the_books_smallest_effect(lo, hi, verdict):
    claim = _claim("Contrastive learning helps PPR(light)")
    assert paper.EFFECTS["cl_light"].value == paper.SMALLEST_EFFECT
    out = rp.evaluate_claims({"ablation": {"ev_cl_light": _effect((lo + hi) / 2, lo, hi)}}, [claim]).iloc[0]
    assert out.delta == pytest.approx(paper.SMALLEST_EFFECT * 0.5)  # 0.0025
    assert out.verdict == verdict
    assert ("needs a run" in out.evidence) == (verdict == rp.INCONCLUSIVE)


def test_a_claim_the_paper_is_mixed_on_is_shown_not_scored():
    claim = _claim("Zero-shot: PPR(light) beats ft (the profile model)")
    assert paper.EFFECTS["zero_light"].mixed and paper.EFFECTS["zero_light"].wins == "better on 1 of 3"
    out = rp.evaluate_claims({"zero_shot": {"ev_zero_light": _effect(0.01, 0.004, 0.016)}}, [claim]).iloc[0]
    assert out.verdict == rp.MIXED and math.isnan(out["p (Holm)"])


def test_holm_runs_over_the_scored_claims_only():
    claims = [_claim("Few-shot: PPR(light) beats ft"), _claim("Few-shot: PPR(full) beats ft"),
              _claim("Zero-shot: PPR(light) beats ft (the profile model)"), _claim("Zero-shot: PPR(full) beats ft (the profile model)")]
    glued = {"few_shot": {"ev_few_light": _effect(0.01, 0.004, 0.016, p=0.01),
                          "ev_few_full": _effect(0.01, 0.004, 0.016, p=0.04)},
             "zero_shot": {"ev_zero_light": _effect(0.01, 0.004, 0.016, p=0.001)}}
    table = rp.evaluate_claims(glued, claims)
    assert table["p (Holm)"].iloc[:2].tolist() == pytest.approx([0.02, 0.04])
    assert table.verdict.iloc[2] == rp.MIXED and table.verdict.iloc[3] == rp.NOT_COMPARABLE
    assert table["p (Holm)"].iloc[2:].isna().all()


def test_summary_view_splits_the_table_into_short_columns_without_nan():
    claims = [_claim("Few-shot: PPR(light) beats ft"), _claim("Few-shot: PPR(full) beats ft"),
              _claim("Contrastive learning helps PPR(light)")]
    glued = {"few_shot": {"ev_few_light": _effect(0.01, 0.004, 0.016, p=0.01),
                          "ev_few_full": _effect(0.01, 0.004, 0.016, p=1.92e-05)}}
    table = rp.evaluate_claims(glued, claims)
    main, details = summary.summary_view(table)
    assert list(main.columns) == list(summary.SUMMARY_COLUMNS.values())
    assert list(details.columns) == list(summary.DETAIL_COLUMNS.values()) and details.chapter.tolist()[0] == "few_shot"
    # the main table's effect is the interval alone; the unit and the relative change are in the details
    assert main["our effect [95% interval]"].tolist() == ["+0.0100 [+0.0040, +0.0160]"] * 2 + ["—"]
    assert details["ours (unit, relative)"].iloc[0] == "+0.0100 [+0.0040, +0.0160] NDCG@10 (+2.00%)"
    assert main["unit of effect, δ and MDE"].tolist() == ["NDCG@10", "NDCG@10", "—"]  # the unit, not the relative change
    # Holm over the two scored claims: 2 x 1.92e-05 for the smaller, max(1 x 0.01, that) for the larger
    assert main["p (Holm)"].tolist() == ["0.010", "< 0.001", "—"]
    assert main["paper's δ"].iloc[0] == f"{table.delta.iloc[0]:+.4f}" and main["paper's δ"].iloc[2] == "—"
    assert main.MDE.tolist() == ["0.0040", "0.0040", "—"] and details.p.tolist() == ["0.010", "< 0.001", "—"]
    for frame in (main, details):  # every cell is text, none of them NaN
        assert not frame.isna().any().any() and "nan" not in frame.to_string().lower()
    across = rp.across_data({"few_shot": glued["few_shot"]})
    per_dataset = summary.across_view(across)
    assert list(per_dataset) == list(rp.DATASETS)
    synthetic = per_dataset["synthetic"]
    assert synthetic.loc["Few-shot: PPR(full) beats ft", "verdict"] == across.loc[2, ("synthetic", "verdict")]
    assert list(synthetic.columns) == ["our effect [95% interval]", "paper's δ (our effect's unit)",
                                       "MDE (our effect's unit)", "verdict"]


def test_a_missing_chapter_or_value_is_not_comparable():
    claim = _claim("Few-shot: PPR(full) beats ft")
    missing_chapter = rp.evaluate_claims({}, [claim]).iloc[0]
    assert missing_chapter.verdict == rp.NOT_COMPARABLE and "not run" in missing_chapter.evidence
    old = rp.evaluate_claims({"few_shot": {"few_diff_full": 0.1, "few_p_full": 0.01}}, [claim]).iloc[0]
    assert old.verdict == rp.NOT_COMPARABLE and "ev_few_full" in old.evidence
    nan = rp.evaluate_claims({"few_shot": {"ev_few_full": {**_effect(0.1, 0, 0.2), "estimate": None}}}, [claim])
    assert nan.iloc[0].verdict == rp.NOT_COMPARABLE


def test_parameter_share_claim_uses_the_papers_threshold():
    claim = _claim("PPR(light) tunes under 1% of ft's parameters")
    ok = rp.evaluate_claims({"prompts": {"light_share_cikm": 0.6, "light_share_aliec": 0.9}}, [claim]).iloc[0]
    assert ok.verdict == rp.REPRODUCED and "under 1%" in ok.evidence
    # over the threshold only with a width the paper does not give: not comparable, and why
    over = rp.evaluate_claims({"prompts": {"light_share_cikm": 0.6, "light_share_aliec": 1.2}}, [claim]).iloc[0]
    assert over.verdict == rp.NOT_COMPARABLE and "over it at AliEC sizes" in over.evidence
    assert "does not give" in over.evidence


def test_every_scored_claim_has_the_papers_effect():
    for claim in rp.CLAIMS:
        if isinstance(claim.check, rp.Judged):
            pe = claim.check.paper_effect
            assert pe.value > 0 and pe.source in ("table", "direction only")


def test_every_claim_names_a_chapter_and_the_paper_side():
    assert len({c.claim for c in rp.CLAIMS}) == len(rp.CLAIMS)
    for claim in rp.CLAIMS:
        assert claim.chapter and claim.paper


def test_read_executed_needs_an_executed_book(tmp_path):
    with pytest.raises(FileNotFoundError, match="execute the book first"):
        rp.read_executed(tmp_path / "nothing")


def test_across_data_puts_both_datasets_side_by_side():
    glued = {"few_shot": {"ev_few_tuning": _effect(0.02, 0.01, 0.03, p=0.001),
                          "ev_few_light": _effect(0.0, -0.0005, 0.0005, p=0.9)},
             "movielens": {"ev_ml_few_tuning": _effect(0.02, 0.01, 0.03, p=0.04, mde=0.012)}}
    table = rp.across_data(glued).set_index(("", "claim"))
    assert list(table.columns.get_level_values(0).unique()) == ["", "synthetic", "MovieLens-100K"]
    tuning = table.loc["ft beats the pre-trained model (few-shot)"]
    assert tuning[("synthetic", "verdict")] == rp.STRONGER  # +0.01 at least, against the paper's +0.0050
    assert tuning[("MovieLens-100K", "ours")].startswith("+0.0200 [+0.0100")
    assert tuning[("MovieLens-100K", "MDE")] == "0.0120"
    assert tuning[("MovieLens-100K", "δ")] == f"{paper.EFFECTS['few_tuning'].delta(0.5):+.4f}"
    assert table.loc["Few-shot: PPR(light) beats ft", ("synthetic", "verdict")] == rp.NOT_FOUND
    assert table.loc["Few-shot: PPR(light) beats ft", ("MovieLens-100K", "verdict")] == rp.NOT_COMPARABLE
    assert table.loc["Zero-shot: PPR(full) beats ft", ("synthetic", "verdict")] == rp.NOT_COMPARABLE
    assert not table.isna().any().any()


def test_the_table_columns_carry_the_effects_numbers():
    claims = [_claim("Few-shot: PPR(full) beats ft"), _claim("PPR(light) tunes under 1% of ft's parameters")]
    glued = {"few_shot": {"ev_few_full": _effect(0.01, 0.004, 0.016, p=0.001, mde=0.005)},
             "prompts": {"light_share_cikm": 0.6, "light_share_aliec": 0.9}}
    table = rp.evaluate_claims(glued, claims)
    assert list(table.columns) == ["chapter", "claim", "paper", "δ (paper, our units)", "ours", "MDE", "p", "p (Holm)",
                                   "evidence", "verdict", "simpler method", "effect", "lo", "hi", "delta"]
    judged, share = table.iloc[0], table.iloc[1]
    assert (judged.chapter, judged.claim) == ("few_shot", "Few-shot: PPR(full) beats ft")
    assert (judged.effect, judged.lo, judged.hi, judged.MDE, judged.p) == (0.01, 0.004, 0.016, 0.005, 0.001)
    assert share["δ (paper, our units)"] == "—"  # no effect of the paper to state in our units
    missing = rp.evaluate_claims({}, claims[:1]).iloc[0]
    assert missing["δ (paper, our units)"] == "—"  # no reference mean of ours to express it in
    assert all(math.isnan(share[k]) for k in ("effect", "lo", "hi", "MDE", "p"))


@pytest.mark.parametrize("value", [True, "0.6", float("nan")])
def test_a_glued_value_that_is_not_a_number_is_not_comparable(value):
    claim = _claim("PPR(light) tunes under 1% of ft's parameters")
    out = rp.evaluate_claims({"prompts": {"light_share_cikm": 0.6, "light_share_aliec": value}}, [claim]).iloc[0]
    assert out.verdict == rp.NOT_COMPARABLE


def test_across_data_shows_the_summary_rows_numbers():
    glued = {"few_shot": {"ev_few_light": _effect(0.02, 0.01, 0.03, p=0.001, mde=0.007)}}
    row = rp.evaluate_claims(glued, [_claim("Few-shot: PPR(light) beats ft")]).iloc[0]
    cell = rp.across_data(glued).set_index(("", "claim")).loc["Few-shot: PPR(light) beats ft"]
    assert cell[("synthetic", "ours")] == row.ours and cell[("synthetic", "verdict")] == row.verdict
    assert cell[("synthetic", "MDE")] == f"{row.MDE:.4f}"


def test_verdict_counts_and_findings_are_computed_from_the_tables():
    glued = {"few_shot": {"ev_few_light": _effect(0.002, 0.0005, 0.0035)},
             "ablation": {"ev_cl_light": _effect(-0.003, -0.005, -0.001)},
             "movielens": {"ev_ml_few_tuning": _effect(0.02, 0.004, 0.036)}}
    table, across = rp.evaluate_claims(glued), rp.across_data(glued)
    counts = summary.verdict_counts(table, across)
    assert counts.loc[rp.REPRODUCED, "all claims (generated data)"] == 1
    assert counts.loc[rp.OPPOSITE, "all claims (generated data)"] == 1
    assert counts["all claims (generated data)"].sum() == len(rp.CLAIMS)
    assert counts.loc[rp.REPRODUCED, "main claims (MovieLens-100K)"] == 1
    five = prose.findings(table, across)
    assert len(five) == 5
    assert "1 reproduced" in five[0] and "1 opposite" in five[0]
    assert "PPR(light) beats ft: reproduced (+0.0020 [+0.0005, +0.0035]" in five[1]
    assert "opposite: Contrastive learning helps PPR(light)" in five[3]
    assert five[4] == "On real data (MovieLens-100K), the 5 main claims are 1 reproduced, 4 not comparable."


def test_a_chapters_conclusion_counts_its_verdicts_and_states_each():
    values = {"ev_cl_light": _effect(0.003, 0.001, 0.005), "ev_cl_full": _effect(-0.003, -0.005, -0.001),
              "ev_promptaug_light": _effect(0.0, -0.001, 0.001), "ev_behaviouraug_light": _effect(0.0, -0.01, 0.02),
              "ev_personal_light": _effect(0.001, 0.0005, 0.0015)}  # ev_personal_full missing
    text = prose.conclude("ablation", values)
    assert text.startswith("On this data, of the 6 claims this chapter tests: 1 reproduced, 1 weaker than claimed, "
                           "1 not found, 1 opposite, 1 inconclusive, 1 not comparable.")
    assert "“Contrastive learning helps PPR(full)” goes the other way: ours -0.0030 [-0.0050, -0.0010]" in text
    assert f"against the paper's {paper.SMALLEST_EFFECT * 0.5:+.4f}" in text
    assert "“A personalized prompt beats one shared prompt (PPR(full))” could not be compared" in text


def test_a_conclusion_follows_the_verdict_not_the_sign():
    # the same estimate, two intervals: the verdict (hence the words) changes with the interval only
    narrow = prose.conclude("few_shot", {"ev_few_full": _effect(0.01, 0.004, 0.016)}, [_claim("Few-shot: PPR(full) beats ft")])
    wide = prose.conclude("few_shot", {"ev_few_full": _effect(0.01, -0.01, 0.03)}, [_claim("Few-shot: PPR(full) beats ft")])
    assert "1 stronger than claimed" in narrow and prose.MEANING[rp.STRONGER] in narrow
    assert "1 inconclusive" in wide and prose.MEANING[rp.INCONCLUSIVE] in wide and "as large" in wide
    with pytest.raises(ValueError, match="no claim"):
        prose.conclude("explorer", {})


def test_movielens_claims_read_the_movielens_chapter():
    claims = rp.movielens_claims()
    assert {c.chapter for c in claims} == {"movielens"} and len(claims) == len(rp.ACROSS_DATA)
    text = prose.conclude("movielens", {"ev_ml_few_light": _effect(-0.01, -0.02, -0.001)}, claims)
    assert "1 opposite" in text and "4 not comparable" in text


def test_agreement_states_one_verdict_or_says_why_the_designs_differ():
    from pprlib.evidence import Effect

    same = {"design A": Effect.from_dict(_effect(0.003, 0.001, 0.005)),
            "design B": Effect.from_dict(_effect(0.003, 0.001, 0.005))}
    text = prose.agreement("cl_light", same)
    assert text.startswith("“Contrastive learning helps PPR(light)” gets one verdict, reproduced, in every design")
    assert "design A, +0.0030 [+0.0010, +0.0050] NDCG@10" in text and "design B" in text
    # close estimates on either side of a boundary: the verdicts differ within the uncertainty
    near = {"design A": Effect.from_dict(_effect(0.003, 0.001, 0.005)),
            "design B": Effect.from_dict(_effect(0.0025, -0.0005, 0.0055))}
    text = prose.agreement("cl_light", near)
    assert "gets different verdicts" in text and "design A, reproduced" in text and "design B, inconclusive" in text
    assert "differ by 0.0005 NDCG@10, no more than twice" in text and "boundary" in text
    # far apart: the designs measure different things
    far = {"design A": Effect.from_dict(_effect(0.003, 0.001, 0.005)),
           "design B": Effect.from_dict(_effect(-0.01, -0.012, -0.008))}
    text = prose.agreement("cl_light", far)
    assert "design B, opposite" in text and "more than twice the larger standard error" in text
    with pytest.raises(KeyError, match="no claim"):
        prose.agreement("no such claim", same)


def test_an_inconclusive_run_whose_mde_reaches_the_effect_is_not_told_to_grow_by_1x():
    from pprlib import evidence

    delta = paper.EFFECTS["few_full"].delta(0.5)
    se = delta / 3.0  # MDE about 2.8 SE < delta, yet an estimate at delta / 2 leaves 0 and delta inside
    e = evidence.Effect(delta / 2, 0.5, se, 100.0, delta / 2 - 1.98 * se, delta / 2 + 1.98 * se, 0.3,
                        evidence.mde(se, 100.0), 3, 1, 1e-6, 1e-6, 1e-6)
    out = rp.Judged("few_full").judge(e)
    assert out.verdict == rp.INCONCLUSIVE
    assert "x as large" not in out.evidence and "MDE already reaches" in out.evidence
    assert "3 seeds x 1 instance;" in out.evidence + ";"  # one instance, not "1 instances"


def test_the_ablations_second_dataset_is_judged_read_and_counted():
    """The summary covers every dataset a chapter runs: the ablation's claims on its second
    (AliEC-like) dataset, read from the prefixed keys, judged as on the first, counted apart."""
    glued = {"ablation": {"ev_cl_light": _effect(-0.003, -0.005, -0.001),
                          "ev_aliec_cl_light": _effect(0.009, 0.004, 0.013),
                          "ev_aliec_personal_light": _effect(0.0, -0.01, 0.01)}}
    table = rp.ablation_across(glued).set_index(("", "claim"))
    first, second = rp.ABLATION_DATASETS
    row = table.loc["Contrastive learning helps PPR(light)"]
    assert row[(first, "verdict")] == rp.OPPOSITE and row[(second, "verdict")] == rp.STRONGER
    assert table.loc["A personalized prompt beats one shared prompt (PPR(light))", (second, "verdict")] == rp.INCONCLUSIVE
    assert table.loc["Contrastive learning helps PPR(full)", (second, "verdict")] == rp.NOT_COMPARABLE
    assert len(table) == sum(c.chapter == "ablation" for c in rp.CLAIMS)
    counts = summary.verdict_counts(rp.evaluate_claims(glued), rp.across_data(glued), rp.ablation_across(glued))
    assert counts.loc[rp.STRONGER, f"ablation claims ({second})"] == 1
    sentences = prose.findings(rp.evaluate_claims(glued), rp.across_data(glued), rp.ablation_across(glued))
    assert len(sentences) == 6 and second in sentences[-1]
    assert "Contrastive learning helps PPR(light): stronger than claimed" in sentences[-1]
    second_words = prose.conclude("ablation", glued["ablation"], rp.ablation_claims("aliec_"))
    assert "1 stronger than claimed" in second_words and "+0.0090 [+0.0040, +0.0130]" in second_words
    none = prose.findings(rp.evaluate_claims({}), rp.across_data({}), rp.ablation_across({}))
    assert "was not run in this build" in none[-1]


def test_a_simpler_method_that_beats_the_reference_is_named_beside_the_claim():
    """Where the profile model alone (or popularity) beats ft, the summary and the chapter's
    conclusion say so beside the claim; a baseline whose interval reaches 0 is not named."""
    glued = {"zero_shot": {"ev_zero_full": _effect(0.015, 0.01, 0.02),
                           "ev_zero_base_profile": _effect(0.023, 0.012, 0.034),
                           "ev_zero_base_popcold": _effect(0.03, -0.01, 0.07)}}  # larger, but not above 0
    row = rp.evaluate_claims(glued).set_index("claim").loc["Zero-shot: PPR(full) beats ft (the profile model)"]
    assert row["simpler method"] == "the profile model alone beats ft by +0.0230 [+0.0120, +0.0340] NDCG@10"
    words = prose.conclude("zero_shot", glued["zero_shot"])
    assert "a simpler method does better than the reference: the profile model alone beats ft" in words
    quiet = {"zero_shot": {"ev_zero_full": _effect(0.015, 0.01, 0.02), "ev_zero_base_profile": _effect(0.0, -0.01, 0.01)}}
    assert rp.evaluate_claims(quiet).set_index("claim").loc["Zero-shot: PPR(full) beats ft (the profile model)",
                                                            "simpler method"] == "—"
    assert "simpler method" not in prose.conclude("zero_shot", quiet["zero_shot"])
