"""One claim, one number, one verdict: what chapters glue for a claim (pprlib.claims) and the
check that reads the whole book for a claim said two ways."""

from __future__ import annotations

import math

import pytest

from pprlib import claims, evidence, reproduction


def _effect(estimate, lo, hi, reference=0.5):
    half = (hi - lo) / 2
    return evidence.Effect.from_dict({
        "estimate": estimate, "reference_mean": reference, "se": half / 1.96, "df": 50.0, "lo": lo, "hi": hi,
        "p": 0.01, "mde": 0.004, "n_seeds": 3, "n_instances": 1000, "seed_var": 1e-5, "instance_var": 1e-2,
        "residual_var": 1e-3})


def test_a_claim_is_glued_under_keys_derived_from_it_with_the_summarys_verdict():
    e = _effect(0.02, 0.01, 0.03)
    values = claims.effect_values("few_light", e)
    assert set(values) == {f"{field}_few_light" for field in reproduction.FIELDS}
    summary = reproduction.evaluate_claims({"few_shot": values}, [reproduction.claim_for("few_light")]).iloc[0]
    assert values["verdict_few_light"] == summary.verdict  # the chapter and the summary: one verdict
    assert values["effect_few_light"] == e.text() and values["diff_few_light"] == e.estimate
    on_movielens = claims.effect_values("few_light", e, "ml_")
    assert set(on_movielens) == {f"{field}_ml_few_light" for field in reproduction.FIELDS}
    assert reproduction.Judged("few_light", dataset="ml_").effect_key in on_movielens


def test_the_paper_is_mixed_is_the_chapters_verdict_too():
    """The zero-shot chapter once showed a raw verdict ("reproduced") where the summary said the
    paper is mixed: the chapter now glues the summary's."""
    values = claims.effect_values("zero_light", _effect(0.05, 0.04, 0.06))
    assert values["verdict_zero_light"] == reproduction.MIXED


def test_a_comparison_the_paper_makes_no_claim_about_gets_no_verdict():
    values = claims.effect_values("promptaug_full", _effect(0.01, -0.01, 0.03))
    assert "verdict_promptaug_full" not in values and "delta_promptaug_full" not in values
    assert values["effect_promptaug_full"].startswith("+0.0100")
    with pytest.raises(KeyError, match="unknown dataset prefix"):
        claims.effect_values("few_light", _effect(0.01, 0.0, 0.02), "amazon_")


def _book(cl_ablation, cl_noise, noise_verdict=None):
    ablation = claims.effect_values("cl_light", cl_ablation)
    noise = claims.effect_values("cl_light", cl_noise)
    if noise_verdict is not None:
        noise["verdict_cl_light"] = noise_verdict
    return {"ablation": ablation, "noise": noise, "few_shot": claims.effect_values("few_light", _effect(0.0, -0.01, 0.01))}


def test_a_consistent_book_has_no_inconsistency():
    e = _effect(-0.0035, -0.013, 0.006)
    book = _book(e, e)
    assert claims.inconsistencies(book) == []
    table = reproduction.evaluate_claims(book)
    book["summary"] = {"summary_verdicts": list(table.verdict)}
    assert claims.inconsistencies(book) == []


def test_two_effects_or_two_verdicts_for_one_claim_are_found():
    e = _effect(-0.0035, -0.013, 0.006)
    other = _effect(0.0069, 0.0019, 0.0119)
    problems = claims.inconsistencies(_book(e, other))
    assert any("'cl_light', ev" in p and "ablation" in p and "noise" in p for p in problems), problems
    assert any("'cl_light', verdict" in p for p in problems), problems
    # a verdict typed by hand instead of the claim's own
    problems = claims.inconsistencies(_book(e, e, noise_verdict=reproduction.REPRODUCED))
    assert any("noise: claim 'cl_light' glued as 'reproduced'" in p for p in problems), problems


def test_a_summary_row_that_differs_from_the_chapters_is_found():
    e = _effect(-0.0035, -0.013, 0.006)
    book = _book(e, e)
    verdicts = list(reproduction.evaluate_claims(book).verdict)
    row = [c.check.paper_key if isinstance(c.check, reproduction.Judged) else None for c in reproduction.CLAIMS].index("cl_light")
    verdicts[row] = reproduction.REPRODUCED
    book["summary"] = {"summary_verdicts": verdicts}
    problems = claims.inconsistencies(book)
    assert any(p.startswith("summary: 'Contrastive learning helps PPR(light)'") for p in problems), problems


def test_nan_values_of_one_claim_agree():
    assert claims._same(math.nan, math.nan) and not claims._same(0.1, 0.2)
