"""Sentences the book generates from its numbers (pprlib.prose): each says what its table says."""

from __future__ import annotations

import math

import pandas as pd

from pprlib import paper, prose, reproduction


def _table(rows):
    return pd.DataFrame([{"claim": c, "verdict": v, "p": p, "p (Holm)": h} for c, v, p, h in rows])


def test_holm_sentence_names_the_claims_that_survive_the_adjustment_and_only_those():
    table = _table([("A beats B", reproduction.REPRODUCED, 0.001, 0.004),
                    ("C beats D", reproduction.WEAKER, 0.02, 0.06),  # significant alone, not together
                    ("E beats F", reproduction.NOT_FOUND, 0.7, 1.0),
                    ("G beats H", reproduction.MIXED, 0.01, math.nan)])  # not scored: not in the family
    text = prose.holm_sentence(table)
    assert "over the 3 scored claims" in text and "1 keep an effect different from zero" in text
    assert "“A beats B” (reproduced, p (Holm) = 0.004)" in text
    assert "C beats D" not in text and "G beats H" not in text
    assert "The other 2 scored verdicts" in text
    none = prose.holm_sentence(_table([("C beats D", reproduction.WEAKER, 0.02, 0.06)]))
    assert "no claim keeps an effect different from zero" in none
    assert "nothing to adjust" in prose.holm_sentence(_table([("G", reproduction.MIXED, 0.01, math.nan)]))


def test_claims_whose_size_does_not_carry_over_are_scored_on_direction():
    """Cross-domain and profile prediction run on other data with another set-up: the chapters
    say only the direction can be compared, so δ is the book's smallest effect of interest."""
    for key in ("cross_ft", "cross_full", "profile_f1"):
        effect = paper.EFFECTS[key]
        assert effect.source == "direction only" and effect.value == paper.SMALLEST_EFFECT, key
        claim = reproduction.claim_for(key)
        assert "scored on direction" in claim.paper, key
    assert paper.EFFECTS["profile_f1"].metric == "F1"
