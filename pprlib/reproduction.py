"""The reproduction summary: every claim of the paper beside our number and a verdict.

Each :class:`Claim` names the chapter whose executed notebook holds the evidence and a check
that turns that chapter's glued values into our number, the evidence and a verdict:

* **reproduced**: our effect has the paper's sign and a paired test gives p < 0.05;
* **not reproduced**: our effect has the other sign, or the test does not reach p < 0.05;
* **not comparable**: the chapter was not run, or the value does not exist on this data (for
  example a check that needs the synthetic generator, run on MovieLens).

The paper's side comes from :mod:`pprlib.paper` (its tables, typed in) or, for its figures,
from the direction it reports. Nothing on our side is typed: it is read from the notebooks.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pprlib import paper

ALPHA = 0.05
REPRODUCED, NOT_REPRODUCED, NOT_COMPARABLE = "reproduced", "not reproduced", "not comparable"


@dataclass(frozen=True)
class Outcome:
    ours: str
    evidence: str
    verdict: str


class Missing(KeyError):
    """A glued value the check needs is absent or not a number."""


@dataclass(frozen=True)
class Claim:
    chapter: str  # notebook stem
    claim: str
    paper: str
    check: Callable[[dict], Outcome]  # glued values of the chapter -> outcome


def _number(glued: dict, key: str) -> float:
    value = glued.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise Missing(key)
    return float(value)


def _relative(diff: float, base: float | None) -> str:
    return f" ({100 * diff / base:+.2f}%)" if base else ""


def better(diff_key: str, p_key: str, unit: str = "NDCG@10", base_key: str | None = None,
           test: str = "paired t-test over test instances") -> Callable[[dict], Outcome]:
    """A claim that one method beats another: the glued difference and its p-value."""

    def check(g: dict) -> Outcome:
        diff, p = _number(g, diff_key), _number(g, p_key)
        base = _number(g, base_key) if base_key else None
        verdict = REPRODUCED if diff > 0 and p < ALPHA else NOT_REPRODUCED
        return Outcome(f"{diff:+.4f} {unit}{_relative(diff, base)}", f"p = {p:.3g} ({test})", verdict)

    return check


def _paper_relative(table: dict, method: str, reference: str) -> str:
    parts = [f"{d} {100 * (ms[method][0] / ms[reference][0] - 1):+.2f}%" for d, ms in table.items()]
    wins = sum(ms[method][0] > ms[reference][0] for ms in table.values())
    return f"NDCG@10 vs {reference}: " + ", ".join(parts) + f" (better on {wins} of {len(table)})"


def _share_check(g: dict) -> Outcome:
    cikm, aliec = _number(g, "light_share_cikm"), _number(g, "light_share_aliec")
    verdict = REPRODUCED if cikm < 1 and aliec < 1 else NOT_REPRODUCED
    ratio = f"{cikm / paper.TUNED_SHARE_LIGHT['CIKM']:.1f}x and {aliec / paper.TUNED_SHARE_LIGHT['AliEC']:.1f}x the paper's"
    return Outcome(f"CIKM sizes {cikm:.2f}%, AliEC sizes {aliec:.2f}%", f"counted on the model ({ratio})", verdict)


def _sparsity_paper(mode: int) -> str:
    low, high = paper.SPARSITY_CIKM[min(paper.SPARSITY_CIKM)][mode], paper.SPARSITY_CIKM[max(paper.SPARSITY_CIKM)][mode]
    return f"CIKM: {low:+.2f}% at k = 1, {high:+.2f}% at k = 7 (gap {low - high:+.2f} points)"


def _cross_domain_paper() -> str:
    ft, full = paper.CROSS_DOMAIN_NDCG10["ft"], paper.CROSS_DOMAIN_NDCG10["PPR(full)"]
    return f"AliEC → AliAD NDCG@10: ft {ft:.4f}, PPR(full) {full:.4f} ({100 * (full / ft - 1):+.1f}%)"


def _cross_domain_ft_paper() -> str:
    base, ft = paper.CROSS_DOMAIN_NDCG10["SASRec (target)"], paper.CROSS_DOMAIN_NDCG10["ft"]
    return f"AliEC → AliAD NDCG@10: SASRec (target) {base:.4f}, ft {ft:.4f} ({100 * (ft / base - 1):+.1f}%)"


def _profile_paper() -> str:
    ft, light = paper.PROFILE_PREDICTION["ft"]["F1"], paper.PROFILE_PREDICTION["PPR(light)"]["F1"]
    return f"AliEC graduate state, F1: ft {ft:.2f}, PPR(light) {light:.2f}"


FIGURE = "better (figure; no numbers given)"

CLAIMS: list[Claim] = [
    Claim("few_shot", "Tuning on the cold users improves on the pre-trained model (ft > pre-train)",
          _paper_relative(paper.FEW_SHOT, "ft", "pre-train"), better("few_tuning_diff", "few_tuning_p")),
    Claim("few_shot", "Few-shot: PPR(light) beats ft", _paper_relative(paper.FEW_SHOT, "PPR(light)", "ft"),
          better("few_diff_light", "few_p_light", base_key="few_ndcg_ft")),
    Claim("few_shot", "Few-shot: PPR(full) beats ft", _paper_relative(paper.FEW_SHOT, "PPR(full)", "ft"),
          better("few_diff_full", "few_p_full", base_key="few_ndcg_ft")),
    Claim("zero_shot", "Zero-shot: PPR(light) beats ft (the profile model)",
          _paper_relative(paper.ZERO_SHOT, "PPR(light)", "ft"), better("zero_diff_light", "zero_p_light", base_key="zero_ndcg_ft")),
    Claim("zero_shot", "Zero-shot: PPR(full) beats ft (the profile model)",
          _paper_relative(paper.ZERO_SHOT, "PPR(full)", "ft"), better("zero_diff_full", "zero_p_full", base_key="zero_ndcg_ft")),
    Claim("prompts", "PPR(light) tunes under 1% of ft's parameters",
          f"CIKM {paper.TUNED_SHARE_LIGHT['CIKM']}%, AliEC {paper.TUNED_SHARE_LIGHT['AliEC']}%", _share_check),
    Claim("ablation", "Contrastive learning helps PPR(light)", FIGURE, better("gain_cl_light", "p_cl_light")),
    Claim("ablation", "Contrastive learning helps PPR(full)", FIGURE, better("gain_cl_full", "p_cl_full")),
    Claim("ablation", "The prompt-based (profile masking) view helps PPR(light)", FIGURE,
          better("gain_promptaug_light", "p_promptaug_light")),
    Claim("ablation", "The behaviour-based (item masking) view helps PPR(light)", FIGURE,
          better("gain_behaviouraug_light", "p_behaviouraug_light")),
    Claim("ablation", "A personalized prompt beats one shared prompt (PPR(light))", FIGURE,
          better("gain_personal_light", "p_personal_light")),
    Claim("ablation", "A personalized prompt beats one shared prompt (PPR(full))", FIGURE,
          better("gain_personal_full", "p_personal_full")),
    Claim("noise", "Contrastive learning makes PPR(light) more robust to profile noise",
          "smaller drop with CL (figure, AliEC)",
          better("noise_robust_diff", "noise_robust_p", unit="NDCG@10 less lost")),
    Claim("sparsity", "PPR(light)'s gain over ft grows as histories get shorter", _sparsity_paper(0),
          better("sparsity_trend_light", "sparsity_trend_p_light", unit="points (shortest minus longest k)",
                 test="paired t-test over seeds")),
    Claim("sparsity", "PPR(full)'s gain over ft grows as histories get shorter", _sparsity_paper(1),
          better("sparsity_trend_full", "sparsity_trend_p_full", unit="points (shortest minus longest k)",
                 test="paired t-test over seeds")),
    Claim("universality", "With CL4SRec pre-training, PPR(light) beats ft", "better (Table 6, CIKM)",
          better("univ_diff_cl4srec_light", "univ_p_cl4srec_light")),
    Claim("universality", "With CL4SRec pre-training, PPR(full) beats ft", "better (Table 6, CIKM)",
          better("univ_diff_cl4srec_full", "univ_p_cl4srec_full")),
    Claim("cross_domain", "Cross-domain: the source model tuned on the target (ft) beats a target-only SASRec",
          _cross_domain_ft_paper(), better("cross_diff_ft", "cross_p_ft")),
    Claim("cross_domain", "Cross-domain: the source-domain representation as prompt beats ft",
          _cross_domain_paper(), better("cross_diff_full", "cross_p_full")),
    Claim("profile_prediction", "Profile prediction: PPR(light) beats ft (F1)", _profile_paper(),
          better("profile_f1_diff", "profile_f1_p", unit="F1")),
]


def evaluate_claims(glued_by_chapter: dict[str, dict], claims: list[Claim] | None = None) -> pd.DataFrame:
    """One row per claim: chapter, claim, the paper's number, ours, the evidence, the verdict.
    ``glued_by_chapter`` maps notebook stems to their glued values; a chapter that is absent
    (not in this book or not executed) makes its claims *not comparable*."""
    rows = []
    for claim in claims or CLAIMS:
        glued = glued_by_chapter.get(claim.chapter)
        if glued is None:
            outcome = Outcome("—", f"chapter '{claim.chapter}' not run", NOT_COMPARABLE)
        else:
            try:
                outcome = claim.check(glued)
            except Missing as exc:
                outcome = Outcome("—", f"no value {exc.args[0]!r} on this data", NOT_COMPARABLE)
        rows.append({"chapter": claim.chapter, "claim": claim.claim, "paper": claim.paper,
                     "ours": outcome.ours, "evidence": outcome.evidence, "verdict": outcome.verdict})
    return pd.DataFrame(rows)


ACROSS_DATA = [  # (claim, paper, (chapter, diff, p) on the synthetic data, (chapter, diff, p) on MovieLens)
    ("ft beats the pre-trained model (few-shot)", _paper_relative(paper.FEW_SHOT, "ft", "pre-train"),
     ("few_shot", "few_tuning_diff", "few_tuning_p"), ("movielens", "ml_tuning_diff", "ml_tuning_p")),
    ("Few-shot: PPR(light) beats ft", _paper_relative(paper.FEW_SHOT, "PPR(light)", "ft"),
     ("few_shot", "few_diff_light", "few_p_light"), ("movielens", "ml_few_diff_light", "ml_few_p_light")),
    ("Few-shot: PPR(full) beats ft", _paper_relative(paper.FEW_SHOT, "PPR(full)", "ft"),
     ("few_shot", "few_diff_full", "few_p_full"), ("movielens", "ml_few_diff_full", "ml_few_p_full")),
    ("Zero-shot: PPR(light) beats ft", _paper_relative(paper.ZERO_SHOT, "PPR(light)", "ft"),
     ("zero_shot", "zero_diff_light", "zero_p_light"), ("movielens", "ml_zero_diff_light", "ml_zero_p_light")),
    ("Zero-shot: PPR(full) beats ft", _paper_relative(paper.ZERO_SHOT, "PPR(full)", "ft"),
     ("zero_shot", "zero_diff_full", "zero_p_full"), ("movielens", "ml_zero_diff_full", "ml_zero_p_full")),
]
"""The main claims on the two datasets of the book: the generator's and MovieLens-100K."""


def across_data(glued_by_chapter: dict[str, dict]) -> pd.DataFrame:
    """The :data:`ACROSS_DATA` claims with our difference, p-value and verdict on each dataset."""
    rows = []
    for claim, paper_side, *sides in ACROSS_DATA:
        row = {"claim": claim, "paper": paper_side}
        for label, (chapter, diff_key, p_key) in zip(("synthetic", "MovieLens-100K"), sides):
            glued = glued_by_chapter.get(chapter)
            try:
                if glued is None:
                    raise Missing(chapter)
                outcome = better(diff_key, p_key)(glued)
                row[label] = f"{outcome.ours}, {outcome.evidence.split(' (')[0]}: {outcome.verdict}"
            except Missing:
                row[label] = NOT_COMPARABLE
        rows.append(row)
    return pd.DataFrame(rows)


def read_executed(executed_dir: str | Path, chapters=None) -> dict[str, dict]:
    """Glued values of every executed notebook in ``executed_dir`` (by stem)."""
    from pprlib.book import glued

    executed_dir = Path(executed_dir)
    if not executed_dir.is_dir():
        raise FileNotFoundError(f"{executed_dir} does not exist: execute the book first (`python -m pprlib book`)")
    wanted = set(chapters) if chapters is not None else {c.chapter for c in CLAIMS} | {
        side[0] for row in ACROSS_DATA for side in row[2:]}
    return {p.stem: glued(p, rich=False) for p in sorted(executed_dir.glob("*.ipynb")) if p.stem in wanted}
