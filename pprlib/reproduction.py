"""The reproduction summary: every claim of the paper beside our effect and a verdict.

Each :class:`Claim` names the chapter whose executed notebook holds the evidence, the glued
effect (an :class:`pprlib.evidence.Effect` glued as a dict, key ``ev_<name>``) and the paper's
effect (:data:`pprlib.paper.EFFECTS`). The verdict is the five-way one of
:func:`pprlib.evidence.verdict`: our 95 % interval (over seeds and test instances) against the
paper's effect in our units (its relative gain times our reference's mean, or the book's
smallest effect of interest where the paper gives only a direction):

* **reproduced**, **stronger than claimed**, **weaker than claimed**, **not found**, **opposite**,
  **inconclusive**;
* **the paper is mixed**: the paper itself is better on at most half of its datasets: shown,
  not scored;
* **not comparable**: the chapter was not run, or the value does not exist on this data.

Holm's adjustment runs over the p-values of the scored claims (those with a verdict other than
not comparable and the paper is mixed). Nothing on our side is typed: it is read from the
notebooks. The summary page's tables as shown are :mod:`pprlib.summary`; the verdicts in words
(each chapter's conclusion, the book's findings) are :mod:`pprlib.prose`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pprlib import evidence, paper

REPRODUCED, STRONGER, WEAKER, NOT_FOUND = evidence.REPRODUCED, evidence.STRONGER, evidence.WEAKER, evidence.NOT_FOUND
OPPOSITE, INCONCLUSIVE, NOT_COMPARABLE = evidence.OPPOSITE, evidence.INCONCLUSIVE, evidence.NOT_COMPARABLE
MIXED = evidence.MIXED
SUMMARY_VERDICTS = (*evidence.VERDICTS[:-1], MIXED, NOT_COMPARABLE)
"""Every verdict a row can get, in the order the summary counts them."""


@dataclass(frozen=True)
class Outcome:
    ours: str
    evidence: str
    verdict: str
    effect: evidence.Effect | None = None
    delta: float = math.nan


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


def _effect(glued: dict, key: str) -> evidence.Effect:
    value = glued.get(key)
    if not isinstance(value, dict):
        raise Missing(key)
    effect = evidence.Effect.from_dict(value)
    if not math.isfinite(effect.estimate):
        raise Missing(key)
    return effect


def _fmt_delta(delta: float, pe: paper.PaperEffect) -> str:
    if pe.unit == "relative":
        where = f"{pe.dataset} " if pe.dataset else "smallest effect of interest, "
        return f"{delta:+.4f} ({where}{100 * pe.value:+.2f}%)"
    return f"{delta:+.2f} ({pe.dataset} {pe.value:+.2f} points)"


FIELDS = {
    "ev": "the effect (a dict of :class:`pprlib.evidence.Effect`), read by the summary",
    "effect": "the effect and its 95 % interval as text",
    "diff": "the estimate",
    "p": "the p-value",
    "ptext": "the p-value as text (p = 0.012, p < 0.001)",
    "mde": "the minimum detectable effect",
    "delta": "the paper's effect in our units (δ; NaN where not comparable); claims only",
    "verdict": "the verdict, as the summary gives it; claims only",
}
"""What a chapter glues for an effect (:func:`pprlib.claims.glue_effect`), by field."""

DATASET_PREFIXES = {"": "the generated data", "ml_": "MovieLens",
                    "aliec_": "the generated data with the AliEC profile schema (8 fields; the ablation's second)"}
"""The prefix a glue key takes on each dataset the book runs (:func:`glue_key`)."""


def glue_key(field: str, name: str, dataset: str = "") -> str:
    """The glue key of ``field`` (:data:`FIELDS`) of the effect ``name`` (a claim's key in
    :data:`pprlib.paper.EFFECTS`, or a comparison the paper makes no claim about) on ``dataset``
    (:data:`DATASET_PREFIXES`): ``glue_key("verdict", "few_light", "ml_") == "verdict_ml_few_light"``.
    Chapters glue under these keys and :class:`Judged` reads the ``ev`` one back."""
    if field not in FIELDS:
        raise KeyError(f"unknown field {field!r}; expected one of {tuple(FIELDS)}")
    if dataset not in DATASET_PREFIXES:
        raise KeyError(f"unknown dataset prefix {dataset!r}; expected one of {tuple(DATASET_PREFIXES)}")
    return f"{field}_{dataset}{name}"


@dataclass(frozen=True)
class Judged:
    """The check of a claim that A beats B: the effect a chapter glued for the claim
    (:func:`glue_key` ``("ev", paper_key, dataset)``) against the paper's effect
    :data:`pprlib.paper.EFFECTS` ``[paper_key]`` converted to our units."""

    paper_key: str
    unit: str = "NDCG@10"
    dataset: str = ""

    @property
    def effect_key(self) -> str:
        return glue_key("ev", self.paper_key, self.dataset)

    @property
    def paper_effect(self) -> paper.PaperEffect:
        return paper.EFFECTS[self.paper_key]

    def __call__(self, g: dict) -> Outcome:
        return self.judge(_effect(g, self.effect_key))

    def judge(self, e: evidence.Effect) -> Outcome:
        """The outcome of effect ``e`` against the paper's effect of this claim."""
        pe = self.paper_effect
        delta = pe.delta(e.reference_mean)
        relative = f" ({100 * e.relative:+.2f}%)" if pe.unit == "relative" and math.isfinite(e.relative) else ""
        ours = f"{e.text()} {self.unit}{relative}"
        parts = [f"p {evidence.format_p(e.p, equals=True)}", f"MDE {evidence.format_mde(e.mde)}",
                 f"{_count(e.n_seeds, 'seed')} x {_count(e.n_instances, 'instance')}"]
        if e.note:
            parts.append(e.note)
        if pe.mixed:
            return Outcome(ours, "; ".join(parts), MIXED, e, delta)
        v = evidence.verdict(e.lo, e.hi, delta) if math.isfinite(delta) and delta > 0 else NOT_COMPARABLE
        if v == INCONCLUSIVE:
            grow = evidence.growth_needed(e, delta)
            if math.isfinite(grow.scale) and grow.scale > 1.05:
                parts.append(f"needs a run about {grow.scale:.1f}x as large")
            elif math.isfinite(grow.scale):  # the MDE reaches δ: this draw's estimate fell between 0 and δ
                parts.append("the MDE already reaches the paper's effect; this estimate fell between 0 and it")
        return Outcome(ours, "; ".join(parts), v, e, delta)


def _count(n: int, noun: str) -> str:
    """``1 instance``, ``3 seeds``."""
    return f"{n} {noun}" + ("" if n == 1 else "s")


def effects_table(rows: dict, unit: str = "NDCG@10", names=None) -> pd.DataFrame:
    """A chapter's table of effects: ``rows`` maps a label (a tuple makes a multi-level index,
    named by ``names``) to ``(effect, paper_key)``, where ``paper_key`` is a key of
    :data:`pprlib.paper.EFFECTS`, or None where the paper makes no such claim. Each row shows
    our effect with its 95 % interval over seeds and instances, p, the MDE, the paper's effect
    in our units (δ) and the verdict of :class:`Judged` ("—" for both where the paper makes
    no claim)."""
    if not rows:
        raise ValueError("effects_table needs at least one comparison")
    table = {}
    for label, (e, key) in rows.items():
        row = {f"Δ{unit} [95% interval]": e.text(), "p": evidence.format_p(e.p), "MDE": evidence.format_mde(e.mde),
               "δ (paper, our units)": "—", "verdict": "—"}
        if key is not None:
            o = Judged(key, unit).judge(e)
            row |= {"δ (paper, our units)": f"{o.delta:+.4f}" if math.isfinite(o.delta) else "—", "verdict": o.verdict}
        table[label] = row
    frame = pd.DataFrame(table).T
    if names is not None:
        frame = frame.rename_axis(names)
    return frame


def _share_check(g: dict) -> Outcome:
    """A claim about a design quantity, judged at the paper's own settings (EVIDENCE §4): the
    catalogue sizes and profile fields of CIKM and AliEC are the paper's, but not the hidden
    width of the prompt generator and profile MLPs (the book uses d). Under the threshold at both
    sizes: reproduced; over it at a size: not comparable, since the count there rests on a
    setting the paper does not give."""
    cikm, aliec = _number(g, "light_share_cikm"), _number(g, "light_share_aliec")
    threshold = paper.SHARE_THRESHOLD
    ours = f"CIKM sizes {cikm:.2f}%, AliEC sizes {aliec:.2f}%"
    counted = f"counted on the model (exact); the paper's threshold: under {threshold:g}%"
    over = [name for name, share in (("CIKM", cikm), ("AliEC", aliec)) if share >= threshold]
    if not over:
        return Outcome(ours, counted, REPRODUCED)
    return Outcome(ours, f"{counted}; over it at {' and '.join(over)} sizes with the book's generator width (d), "
                   "a setting the paper does not give, so the paper's own count cannot be recomputed", NOT_COMPARABLE)


def _paper_relative(table: dict, method: str, reference: str) -> str:
    parts = [f"{d} {100 * (ms[method][0] / ms[reference][0] - 1):+.2f}%" for d, ms in table.items()]
    wins = sum(ms[method][0] > ms[reference][0] for ms in table.values())
    return f"NDCG@10 vs {reference}: " + ", ".join(parts) + f" (better on {wins} of {len(table)})"


def _sparsity_paper(mode: int) -> str:
    low, high = paper.SPARSITY_CIKM[min(paper.SPARSITY_CIKM)][mode], paper.SPARSITY_CIKM[max(paper.SPARSITY_CIKM)][mode]
    return f"CIKM: {low:+.2f}% at k = 1, {high:+.2f}% at k = 7 (gap {low - high:+.2f} points)"


DIRECTION = (f"the book's smallest effect, {100 * paper.SMALLEST_EFFECT:.1f}% (the paper's data and set-up differ from ours, "
             "so only the direction carries over)")
"""Why a claim whose size does not carry over to our data is scored on its direction only."""


def _cross_domain_paper() -> str:
    ft, full = paper.CROSS_DOMAIN_NDCG10["ft"], paper.CROSS_DOMAIN_NDCG10["PPR(full)"]
    return (f"AliEC → AliAD NDCG@10: ft {ft:.4f}, PPR(full) {full:.4f} ({100 * (full / ft - 1):+.1f}%); "
            f"scored on direction: {DIRECTION}")


def _cross_domain_ft_paper() -> str:
    base, ft = paper.CROSS_DOMAIN_NDCG10["SASRec (target)"], paper.CROSS_DOMAIN_NDCG10["ft"]
    return (f"AliEC → AliAD NDCG@10: SASRec (target) {base:.4f}, ft {ft:.4f} ({100 * (ft / base - 1):+.1f}%); "
            f"scored on direction: {DIRECTION}")


def _profile_paper() -> str:
    ft, light = paper.PROFILE_PREDICTION["ft"]["F1"], paper.PROFILE_PREDICTION["PPR(light)"]["F1"]
    return f"AliEC graduate state, F1: ft {ft:.2f}, PPR(light) {light:.2f}; scored on direction: {DIRECTION}"


FIGURE = f"better (figure; no numbers given): the book's smallest effect, {100 * paper.SMALLEST_EFFECT:.1f}%"

CLAIMS: list[Claim] = [
    Claim("few_shot", "Tuning on the cold users improves on the pre-trained model (ft > pre-train)",
          _paper_relative(paper.FEW_SHOT, "ft", "pre-train"), Judged("few_tuning")),
    Claim("few_shot", "Few-shot: PPR(light) beats ft", _paper_relative(paper.FEW_SHOT, "PPR(light)", "ft"),
          Judged("few_light")),
    Claim("few_shot", "Few-shot: PPR(full) beats ft", _paper_relative(paper.FEW_SHOT, "PPR(full)", "ft"),
          Judged("few_full")),
    Claim("zero_shot", "Zero-shot: PPR(light) beats ft (the profile model)",
          _paper_relative(paper.ZERO_SHOT, "PPR(light)", "ft"), Judged("zero_light")),
    Claim("zero_shot", "Zero-shot: PPR(full) beats ft (the profile model)",
          _paper_relative(paper.ZERO_SHOT, "PPR(full)", "ft"), Judged("zero_full")),
    Claim("prompts", "PPR(light) tunes under 1% of ft's parameters",
          f"CIKM {paper.TUNED_SHARE_LIGHT['CIKM']}%, AliEC {paper.TUNED_SHARE_LIGHT['AliEC']}%", _share_check),
    Claim("ablation", "Contrastive learning helps PPR(light)", FIGURE, Judged("cl_light")),
    Claim("ablation", "Contrastive learning helps PPR(full)", FIGURE, Judged("cl_full")),
    Claim("ablation", "The prompt-based (profile masking) view helps PPR(light)", FIGURE,
          Judged("promptaug_light")),
    Claim("ablation", "The behaviour-based (item masking) view helps PPR(light)", FIGURE,
          Judged("behaviouraug_light")),
    Claim("ablation", "A personalized prompt beats one shared prompt (PPR(light))", FIGURE,
          Judged("personal_light")),
    Claim("ablation", "A personalized prompt beats one shared prompt (PPR(full))", FIGURE,
          Judged("personal_full")),
    Claim("noise", "Contrastive learning makes PPR(light) more robust to profile noise",
          "smaller drop with CL (figure, AliEC)", Judged("noise_robust", unit="NDCG@10 less lost")),
    Claim("sparsity", "PPR(light)'s gain over ft grows as histories get shorter", _sparsity_paper(0),
          Judged("sparsity_light", unit="points (shortest minus longest k)")),
    Claim("sparsity", "PPR(full)'s gain over ft grows as histories get shorter", _sparsity_paper(1),
          Judged("sparsity_full", unit="points (shortest minus longest k)")),
    Claim("universality", "With CL4SRec pre-training, PPR(light) beats ft", "better (Table 6, CIKM)",
          Judged("univ_cl4srec_light")),
    Claim("universality", "With CL4SRec pre-training, PPR(full) beats ft", "better (Table 6, CIKM)",
          Judged("univ_cl4srec_full")),
    Claim("cross_domain", "Cross-domain: the source model tuned on the target (ft) beats a target-only SASRec",
          _cross_domain_ft_paper(), Judged("cross_ft")),
    Claim("cross_domain", "Cross-domain: the source-domain representation as prompt beats ft",
          _cross_domain_paper(), Judged("cross_full")),
    Claim("profile_prediction", "Profile prediction: PPR(light) beats ft (F1)", _profile_paper(),
          Judged("profile_f1", unit="F1")),
]


def outcome(claim: Claim, glued_by_chapter: dict[str, dict]) -> Outcome:
    """``claim`` checked on the glued values of its chapter (``glued_by_chapter``: by notebook
    stem): not comparable where the chapter did not run or lacks a value the check needs."""
    glued = glued_by_chapter.get(claim.chapter)
    if glued is None:
        return Outcome("—", f"chapter '{claim.chapter}' not run", NOT_COMPARABLE)
    try:
        return claim.check(glued)
    except Missing as exc:
        return Outcome("—", f"no value {exc.args[0]!r} on this data", NOT_COMPARABLE)


def scored(verdict: str) -> bool:
    """Whether a verdict belongs to the scored family (Holm's adjustment, the counts)."""
    return verdict not in (MIXED, NOT_COMPARABLE)


_FEW_BASELINES = (("the profile model alone", "few_base_profile"), ("the most popular items", "few_base_pop"))
_ZERO_BASELINES = (("the profile model alone", "zero_base_profile"),
                   ("the cold users' most popular first clicks", "zero_base_popcold"))
SIMPLE_BASELINES = {"few_light": _FEW_BASELINES, "few_full": _FEW_BASELINES,
                    "zero_light": _ZERO_BASELINES, "zero_full": _ZERO_BASELINES}
"""The simplest strong baselines beside a claim, by claim key: (label, name of the effect the
claim's chapter glues for the baseline against the claim's reference, ft)."""


def simpler_method(claim: Claim, glued_by_chapter: dict[str, dict]) -> str:
    """The simplest method that beats the claim's reference, with its effect: the baseline of
    :data:`SIMPLE_BASELINES` with the largest estimate among those whose 95 % interval lies above 0
    ("" when none does, or the chapter glued none)."""
    if not isinstance(claim.check, Judged):
        return ""
    glued = glued_by_chapter.get(claim.chapter, {})
    found = []
    for label, name in SIMPLE_BASELINES.get(claim.check.paper_key, ()):
        try:
            e = _effect(glued, glue_key("ev", name, claim.check.dataset))
        except Missing:
            continue
        if e.lo > 0:
            found.append((e.estimate, label, e))
    if not found:
        return ""
    _, label, e = max(found, key=lambda t: t[0])
    return f"{label} beats ft by {e.text()} {claim.check.unit}"


def evaluate_claims(glued_by_chapter: dict[str, dict], claims: list[Claim] | None = None) -> pd.DataFrame:
    """One row per claim: chapter, claim, the paper's number, ours (effect and 95 % interval),
    the paper's effect in our units (``δ``), the MDE, p, Holm-adjusted p over the scored
    claims, the evidence and the verdict, a simpler method that beats the claim's reference
    (:func:`simpler_method`), plus the numbers (``effect``, ``lo``, ``hi``, ``delta``) for
    figures. A chapter that is absent (not in this book or not executed) makes its claims *not
    comparable*."""
    rows = []
    for claim in claims or CLAIMS:
        o = outcome(claim, glued_by_chapter)
        e = o.effect
        pe = _paper_effect(claim)
        rows.append({"chapter": claim.chapter, "claim": claim.claim, "paper": claim.paper,
                     "δ (paper, our units)": _fmt_delta(o.delta, pe) if pe and math.isfinite(o.delta) else "—",
                     "ours": o.ours, "MDE": e.mde if e else math.nan, "p": e.p if e else math.nan,
                     "evidence": o.evidence, "verdict": o.verdict,
                     "simpler method": simpler_method(claim, glued_by_chapter) or "—",
                     "effect": e.estimate if e else math.nan, "lo": e.lo if e else math.nan,
                     "hi": e.hi if e else math.nan, "delta": o.delta})
    table = pd.DataFrame(rows)
    family = table.verdict.map(scored) & np.isfinite(table.p.astype(float))
    table.insert(table.columns.get_loc("p") + 1, "p (Holm)",
                 np.where(family, evidence.holm(table.p.where(family)), np.nan))
    return table


def _paper_effect(claim: Claim) -> paper.PaperEffect | None:
    return claim.check.paper_effect if isinstance(claim.check, Judged) else None


ACROSS_DATA = [  # (claim, paper's key, (chapter, dataset prefix) on the synthetic data, the same on MovieLens)
    ("ft beats the pre-trained model (few-shot)", "few_tuning", ("few_shot", ""), ("movielens", "ml_")),
    ("Few-shot: PPR(light) beats ft", "few_light", ("few_shot", ""), ("movielens", "ml_")),
    ("Few-shot: PPR(full) beats ft", "few_full", ("few_shot", ""), ("movielens", "ml_")),
    ("Zero-shot: PPR(light) beats ft", "zero_light", ("zero_shot", ""), ("movielens", "ml_")),
    ("Zero-shot: PPR(full) beats ft", "zero_full", ("zero_shot", ""), ("movielens", "ml_")),
]
"""The main claims on the two datasets of the book: the generator's and MovieLens-100K (the
paper's effect from its CIKM numbers on both)."""

def movielens_claims() -> list[Claim]:
    """The :data:`ACROSS_DATA` claims as judged on MovieLens (the MovieLens chapter's conclusion)."""
    return [Claim(ml[0], claim, claim_for(key).paper, Judged(key, dataset=ml[1])) for claim, key, _, ml in ACROSS_DATA]


ABLATION_DATASETS = {"default data (3 fields)": "", "AliEC-like data (8 fields)": "aliec_"}
"""The ablation chapter's two datasets (its labels, as the chapter names its contexts) and the
prefix of their glue keys (:func:`glue_key`): the book's default schema and the AliEC one."""


def ablation_claims(dataset: str = "aliec_") -> list[Claim]:
    """The ablation chapter's claims as judged on its dataset ``dataset`` (a prefix of
    :data:`ABLATION_DATASETS`)."""
    return [Claim(c.chapter, c.claim, c.paper, Judged(c.check.paper_key, c.check.unit, dataset))
            for c in CLAIMS if c.chapter == "ablation" and isinstance(c.check, Judged)]


def ablation_across(glued_by_chapter: dict[str, dict]) -> pd.DataFrame:
    """The ablation's claims on each of its datasets (:data:`ABLATION_DATASETS`), in the form of
    :func:`across_data`: the summary covers every dataset a chapter runs."""
    rows = [(c.claim, c.check.paper_key, *(("ablation", prefix) for prefix in ABLATION_DATASETS.values()))
            for c in ablation_claims("")]
    return across_data(glued_by_chapter, rows, tuple(ABLATION_DATASETS))


DATASETS = ("synthetic", "MovieLens-100K")
"""The datasets of :func:`across_data`, in its column order (the second is named by the
MovieLens chapter's glued ``ml_dataset`` where it ran: MovieLens-100K or MovieLens-1M)."""


def datasets(glued_by_chapter: dict[str, dict]) -> tuple[str, str]:
    """:data:`DATASETS` with the real data named as the MovieLens chapter read it."""
    return DATASETS[0], str(glued_by_chapter.get("movielens", {}).get("ml_dataset", DATASETS[1]))


def across_data(glued_by_chapter: dict[str, dict], claims=None, labels: tuple[str, ...] | None = None) -> pd.DataFrame:
    """Claims on each dataset: ``claims`` rows ``(claim, paper's key, (chapter, dataset prefix)
    per dataset)`` (default :data:`ACROSS_DATA`), the datasets named by ``labels`` (default
    :func:`datasets`): our effect with its 95 % interval, the paper's effect in our units (δ),
    the MDE and the verdict (columns ``(dataset, field)``)."""
    rows = []
    for claim, key, *sides in claims or ACROSS_DATA:
        row = {("", "claim"): claim, ("", "paper"): claim_for(key).paper}
        for label, (chapter, dataset) in zip(labels or datasets(glued_by_chapter), sides, strict=True):
            o = outcome(Claim(chapter, claim, "", Judged(key, dataset=dataset)), glued_by_chapter)
            e = o.effect
            row |= {(label, "ours"): o.ours if e else "—",
                    (label, "δ"): f"{o.delta:+.4f}" if e and math.isfinite(o.delta) else "—",
                    (label, "MDE"): f"{e.mde:.4f}" if e and math.isfinite(e.mde) else "—",
                    (label, "verdict"): o.verdict}
        rows.append(row)
    return pd.DataFrame(rows, columns=pd.MultiIndex.from_tuples(rows[0].keys()))


def read_executed(executed_dir: str | Path, chapters=None) -> dict[str, dict]:
    """Glued values of every executed notebook in ``executed_dir`` (by stem)."""
    from pprlib.book import glued

    executed_dir = Path(executed_dir)
    if not executed_dir.is_dir():
        raise FileNotFoundError(f"{executed_dir} does not exist: execute the book first (`python -m pprlib book`)")
    wanted = set(chapters) if chapters is not None else {c.chapter for c in CLAIMS} | {
        side[0] for row in ACROSS_DATA for side in row[2:]}
    return {p.stem: glued(p, rich=False) for p in sorted(executed_dir.glob("*.ipynb")) if p.stem in wanted}


def claim_for(paper_key: str, claims: list[Claim] | None = None) -> Claim:
    """The claim of the summary (:data:`CLAIMS`) judged against the paper's effect ``paper_key``."""
    for claim in claims or CLAIMS:
        if isinstance(claim.check, Judged) and claim.check.paper_key == paper_key:
            return claim
    raise KeyError(f"no claim of the summary is judged against {paper_key!r}")


