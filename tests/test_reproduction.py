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
    assert missing_chapter.verdict == rp.NOT_COMPARABLE and "not run" in missing_chapter.evidence
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
