"""The reproduction summary's verdict rules, on glued values made up for the purpose."""

from __future__ import annotations

import pytest

from pprlib import reproduction as rp


def _claim(name):
    return next(c for c in rp.CLAIMS if c.claim == name)


def test_a_significant_gain_in_the_papers_direction_is_reproduced():
    claim = _claim("Few-shot: PPR(light) beats ft")
    out = rp.evaluate_claims({"few_shot": {"few_diff_light": 0.01, "few_p_light": 0.001, "few_ndcg_ft": 0.5}},
                             [claim]).iloc[0]
    assert out.verdict == rp.REPRODUCED
    assert out.ours == "+0.0100 NDCG@10 (+2.00%)"
    assert "p = 0.001" in out.evidence
    assert "CIKM +0.19%" in out.paper and "better on 2 of 3" in out.paper


@pytest.mark.parametrize("diff, p", [(0.01, 0.2), (-0.01, 0.001), (0.0, 0.0)])
def test_no_significance_or_the_wrong_sign_is_not_reproduced(diff, p):
    claim = _claim("Contrastive learning helps PPR(light)")
    out = rp.evaluate_claims({"ablation": {"gain_cl_light": diff, "p_cl_light": p}}, [claim]).iloc[0]
    assert out.verdict == rp.NOT_REPRODUCED


def test_a_missing_chapter_or_value_is_not_comparable():
    claim = _claim("Few-shot: PPR(full) beats ft")
    missing_chapter = rp.evaluate_claims({}, [claim]).iloc[0]
    assert missing_chapter.verdict == rp.NOT_COMPARABLE and missing_chapter.ours == "—"
    assert missing_chapter.evidence == "chapter 'few_shot' not run"
    nan = rp.evaluate_claims({"few_shot": {"few_diff_full": 0.1, "few_p_full": "nan"}}, [claim]).iloc[0]
    assert nan.verdict == rp.NOT_COMPARABLE and "few_p_full" in nan.evidence


def test_parameter_share_claim_uses_the_papers_sizes():
    claim = _claim("PPR(light) tunes under 1% of ft's parameters")
    ok = rp.evaluate_claims({"prompts": {"light_share_cikm": 0.6, "light_share_aliec": 0.9}}, [claim]).iloc[0]
    assert ok.verdict == rp.REPRODUCED and "2.0x" in ok.evidence
    over = rp.evaluate_claims({"prompts": {"light_share_cikm": 0.6, "light_share_aliec": 1.2}}, [claim]).iloc[0]
    assert over.verdict == rp.NOT_REPRODUCED


def test_every_claim_names_a_chapter_and_the_paper_side():
    assert len({c.claim for c in rp.CLAIMS}) == len(rp.CLAIMS)
    for claim in rp.CLAIMS:
        assert claim.chapter and claim.paper


def test_read_executed_needs_an_executed_book(tmp_path):
    with pytest.raises(FileNotFoundError, match="execute the book first"):
        rp.read_executed(tmp_path / "nothing")


def test_across_data_puts_both_datasets_side_by_side():
    from pprlib import reproduction

    glued = {"few_shot": {"few_tuning_diff": 0.01, "few_tuning_p": 0.001, "few_diff_light": 0.005, "few_p_light": 0.2,
                          "few_diff_full": -0.01, "few_p_full": 0.01},
             "movielens": {"ml_tuning_diff": 0.02, "ml_tuning_p": 0.04}}
    table = reproduction.across_data(glued).set_index("claim")
    assert list(table.columns) == ["paper", "synthetic", "MovieLens-100K"]
    assert table.loc["ft beats the pre-trained model (few-shot)", "synthetic"].endswith(": reproduced")
    assert table.loc["ft beats the pre-trained model (few-shot)", "MovieLens-100K"].startswith("+0.0200 NDCG@10")
    assert table.loc["Few-shot: PPR(light) beats ft", "synthetic"].endswith(": not reproduced")
    assert table.loc["Few-shot: PPR(light) beats ft", "MovieLens-100K"] == reproduction.NOT_COMPARABLE
    assert table.loc["Zero-shot: PPR(full) beats ft", "synthetic"] == reproduction.NOT_COMPARABLE


# ------------------------------------------------------------------------------------------
# the verdict rule at its boundaries


def _verdict(diff, p):
    claim = _claim("Contrastive learning helps PPR(light)")  # a claim without a base value
    return rp.evaluate_claims({"ablation": {"gain_cl_light": diff, "p_cl_light": p}}, [claim]).iloc[0]


def _few_shot(diff, p, base):
    claim = _claim("Few-shot: PPR(light) beats ft")  # its difference is also shown relative to ft
    glued = {"few_diff_light": diff, "few_p_light": p, "few_ndcg_ft": base}
    return rp.evaluate_claims({"few_shot": glued}, [claim]).iloc[0]


@pytest.mark.parametrize("diff, p, expected", [
    (0.01, 0.0499, rp.REPRODUCED),
    (0.01, 0.05, rp.NOT_REPRODUCED),  # p must be below alpha, not equal to it
    (0.01, 0.0, rp.REPRODUCED),
    (1e-9, 0.01, rp.REPRODUCED),  # any positive effect with a significant test
    (0.0, 0.01, rp.NOT_REPRODUCED),  # no effect is not the paper's direction
    (-0.01, 0.01, rp.NOT_REPRODUCED),  # significant, but the other sign
    (-1e-9, 0.0, rp.NOT_REPRODUCED),
])
def test_better_boundaries_and_sign(diff, p, expected):
    assert _verdict(diff, p).verdict == expected


@pytest.mark.parametrize("diff, p", [(float("nan"), 0.01), (0.01, float("nan")), (float("inf"), 0.01),
                                     (True, 0.01), (0.01, None), ("0.01", 0.01)])
def test_values_that_are_not_finite_numbers_are_not_comparable(diff, p):
    out = _verdict(diff, p)
    assert out.verdict == rp.NOT_COMPARABLE and out.ours == "—"
    assert "gain_cl_light" in out.evidence or "p_cl_light" in out.evidence


def test_better_reports_the_relative_change_only_with_a_base():
    assert _verdict(0.01, 0.01).ours == "+0.0100 NDCG@10"
    assert _few_shot(-0.02, 0.01, 0.4).ours == "-0.0200 NDCG@10 (-5.00%)"
    assert _few_shot(0.01, 0.01, 0.0).ours == "+0.0100 NDCG@10"  # a zero base: no percentage
    assert _few_shot(0.01, 0.01, float("nan")).verdict == rp.NOT_COMPARABLE  # the base is a value it needs
    assert _verdict(0.01, 0.0123).evidence == "p = 0.0123 (paired t-test over test instances)"


def test_a_table_of_claims_keeps_the_order_and_one_row_each():
    claims = [_claim("Few-shot: PPR(light) beats ft"), _claim("Contrastive learning helps PPR(light)")]
    table = rp.evaluate_claims({"few_shot": {"few_diff_light": -0.1, "few_p_light": 0.001, "few_ndcg_ft": 0.5},
                                "ablation": {"gain_cl_light": 0.1, "p_cl_light": 0.001}}, claims)
    assert table.claim.tolist() == [c.claim for c in claims]
    assert table.verdict.tolist() == [rp.NOT_REPRODUCED, rp.REPRODUCED]
    assert list(table.columns) == ["chapter", "claim", "paper", "ours", "evidence", "verdict"]
    assert table.chapter.tolist() == ["few_shot", "ablation"]


def test_across_data_boundaries():
    glued = {"few_shot": {"few_tuning_diff": 0.01, "few_tuning_p": 0.05},
             "movielens": {"ml_tuning_diff": -0.01, "ml_tuning_p": 0.001}}
    row = rp.across_data(glued).set_index("claim").loc["ft beats the pre-trained model (few-shot)"]
    assert row["synthetic"] == "+0.0100 NDCG@10, p = 0.05: not reproduced"
    assert row["MovieLens-100K"] == "-0.0100 NDCG@10, p = 0.001: not reproduced"
    nan = rp.across_data({"few_shot": {"few_tuning_diff": float("nan"), "few_tuning_p": 0.01}})
    assert nan.set_index("claim").loc["ft beats the pre-trained model (few-shot)", "synthetic"] == rp.NOT_COMPARABLE


@pytest.mark.parametrize("diff, p, verdict", [(0.01, 0.0499, rp.REPRODUCED), (0.01, 0.05, rp.NOT_REPRODUCED),
                                              (0.0, 0.01, rp.NOT_REPRODUCED), (-0.01, 0.01, rp.NOT_REPRODUCED)])
def test_better_built_for_any_keys(diff, p, verdict):
    """better() itself (the claims above were built when the module was imported)."""
    check = rp.better("d", "p", unit="F1", base_key="b", test="paired t-test over seeds")
    out = check({"d": diff, "p": p, "b": 0.5})
    assert out.verdict == verdict
    assert out.ours == f"{diff:+.4f} F1 ({100 * diff / 0.5:+.2f}%)"
    assert out.evidence == f"p = {p:.3g} (paired t-test over seeds)"
    assert rp.better("d", "p")({"d": diff, "p": p}).evidence == f"p = {p:.3g} (paired t-test over test instances)"
    assert rp.better("d", "p")({"d": diff, "p": p}).ours == f"{diff:+.4f} NDCG@10"
    with pytest.raises(rp.Missing):
        check({"d": diff, "p": p})
