"""Beyond the paper: what holds PPR below the value of the profile, measured by removing one
limit at a time, and the variant that removes them together (``PPR(warm)``).

Every limit is a :class:`~pprlib.methods.Method` that differs from PPR(light) in one field
(:data:`INTERVENTIONS`), tuned with its own learning rate chosen on validation and evaluated on
the same instances as the generator's ceilings (:func:`pprlib.mechanism.ceiling_comparison`).
Two numbers per row, both as shares of the value of the profile (Bayes with the profile minus
the profile-blind Bayes scorer, on the same instances, held fixed): what the method captures
(its score above the profile-blind Bayes scorer) and what removing the limit recovers (its gain
over PPR(light)), each with its interval over seeds and instances.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd

from pprlib.comparison import Comparison
from pprlib.comparisons import choose_lr, compare
from pprlib.evidence import Effect, effect_of_differences, format_mde, interval_text

REFERENCE = "PPR(light)"

WIDER_GRID = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2)
"""The learning rates of the optimization intervention (finer and larger than the book's grid)."""

OPTIMIZATION = {"rate grid": "PPR(light), wider rate grid", "budget": "PPR(light), twice the budget"}
"""The optimization interventions: PPR(light) with its rate chosen from :data:`WIDER_GRID`, and
with twice the epochs and patience; their rows of a comparison carry these names
(:func:`optimization_runs`)."""

INTERVENTIONS: dict[str, str] = {
    "none (the paper's PPR(light))": "PPR(light)",
    "optimization: the rate grid (five rates, 1e-4 to 1e-2)": OPTIMIZATION["rate grid"],
    "optimization: the budget (twice the epochs and patience)": OPTIMIZATION["budget"],
    "validation noise: a tenth of the warm users added to validation": "PPR(light) + warm validation",
    "the loss: one sampled negative per target (softmax instead)": "PPR(light) + softmax",
    "capacity: generator and profile model of hidden width d (4d instead)": "PPR(light), 4x wider",
    "the input: a frozen backbone fed a prompt-only sequence it never saw (tuned too: PPR(full))": "PPR(full)",
    "the data: the cold users' profiles only (warm users' added)": "PPR(light) + warm users",
    "all three: PPR(warm)": "PPR(warm)",
}
"""Each candidate limit and what removes it: PPR(light) with one field of its method changed (or,
for the optimization rows, one tuning setting: :func:`optimization_runs`); the last row removes
validation noise, the loss and the data together (capacity is not among them: see the chapter)."""


def optimization_runs(ctx, targets: str, lr: float, seeds, base=None) -> Comparison:
    """PPR(light) with the optimization limits removed one at a time, as rows named by
    :data:`OPTIMIZATION`: its rate chosen on validation from :data:`WIDER_GRID` (the runs at the
    book's rates are shared), and at the rate ``lr`` chosen from the book's grid with twice the
    epochs and patience (``base``: the settings both start from, default the context's)."""
    base = base or ctx.settings()
    wide_ctx = dataclasses.replace(ctx, config=dataclasses.replace(ctx.config, lr_grid=WIDER_GRID))
    wide_lr = choose_lr(wide_ctx, [REFERENCE], targets, base=base)
    wide = compare(ctx, [REFERENCE], dataclasses.replace(base, lr=wide_lr), targets, list(seeds)).only(targets)
    train = dataclasses.replace(base.train, max_epochs=2 * base.train.max_epochs, patience=2 * base.train.patience)
    longer = compare(ctx, [REFERENCE], dataclasses.replace(base, lr={REFERENCE: lr}, train=train), targets,
                     list(seeds)).only(targets)
    per = {(OPTIMIZATION["rate grid"], s): v for (m, s), v in wide.per_instance.items()}
    per.update({(OPTIMIZATION["budget"], s): v for (m, s), v in longer.per_instance.items()})
    return Comparison(per, {}, {})

BASELINES = ("ft", "profile model", "profile model (warm)")
"""The simplest strong baselines shown beside the interventions: fine-tuning, the profile model
alone, and the profile model given what PPR(warm) is given (the same data, loss and validation)."""

VARIANT = "PPR(warm)"
GOALS = {"captured": (0.6, 0.4), "over ft": (0.5, 0.0)}
"""The variant's goals, as (target, floor) shares of the value of the profile: the share it
captures above the profile-blind Bayes scorer (zero-shot, where that scorer is what the clicks
allow: nothing), or its gain over ft (few-shot, where every tuned model sits below the
profile-blind scorer, limited by the sequence model): at least the target, with the interval's
lower end above the floor."""
MEASURES = {"captured": ("share", "captured (share of the value)"), "over ft": ("over ft", "gain over ft (share)")}


def value_of_profile(ceilings: Comparison, metric: str = "NDCG@10") -> float:
    """Bayes with the profile minus the profile-blind Bayes scorer, mean over ``ceilings``' instances."""
    return ceilings.effect("Bayes (profile)", "Bayes (none)", metric).estimate


def captured(result: Comparison, ceilings: Comparison, name: str, metric: str = "NDCG@10") -> Effect:
    """Method ``name``'s score above the profile-blind Bayes scorer, per seed and instance
    (``result`` and ``ceilings`` on the same instances in the same order), with its interval over
    seeds and instances (the Bayes scorer is exact given its draws: no seed of its own)."""
    seeds = [s for s in result.seeds if (name, s) in result.per_instance]
    if not seeds:
        raise ValueError(f"{name!r} did not run in this comparison")
    none = _ceiling(ceilings, "Bayes (none)", metric)
    ours = np.stack([result.per_instance[(name, s)][metric] for s in seeds])
    if ours.shape[1] != len(none):
        raise ValueError(f"{name!r} ran on {ours.shape[1]} instances, the ceilings on {len(none)}: "
                         "restrict both alike (e.g. .only('zero'))")
    return effect_of_differences(ours - none[None, :], float(none.mean()))


def _ceiling(ceilings: Comparison, scorer: str, metric: str) -> np.ndarray:
    key = next(k for k in ceilings.per_instance if k[0] == scorer)
    return np.asarray(ceilings.per_instance[key][metric], dtype=np.float64)


def share_text(effect: Effect, value: float) -> str:
    """``+64 % [+61 %, +67 %]``: an effect as a share of ``value`` (held fixed)."""
    if not value > 0 or not math.isfinite(effect.estimate):
        return "—"
    return interval_text(100 * effect.estimate / value, 100 * effect.lo / value, 100 * effect.hi / value, 0)\
        .replace("]", " %]").replace(" [", " % [")


def limits_table(result: Comparison, ceilings: Comparison, metric: str = "NDCG@10",
                 rows: dict[str, str] | None = None, baselines=BASELINES) -> pd.DataFrame:
    """One row per limit of ``rows`` (:data:`INTERVENTIONS`) and per baseline: the method, its
    mean ``metric``, the share of the value of the profile it captures and the share that
    removing the limit recovers over PPR(light) (each with its interval over seeds and
    instances), and that gain's MDE. ``result`` holds the methods, ``ceilings`` the scorers, both
    restricted to the same instances."""
    rows = INTERVENTIONS if rows is None else rows
    value = value_of_profile(ceilings, metric)
    out = []
    entries = [(limit, name) for limit, name in rows.items()]
    entries += [(f"baseline: {name}", name) for name in baselines]
    for limit, name in entries:
        if name not in result.methods:
            continue
        took = captured(result, ceilings, name, metric)
        gain = result.effect(name, REFERENCE, metric) if name != REFERENCE and REFERENCE in result.methods else None
        over = result.effect(name, "ft", metric) if name != "ft" and "ft" in result.methods else None
        out.append({"limit removed": limit, "method": name, metric: float(took.estimate + took.reference_mean),
                    "captured (share of the value)": share_text(took, value),
                    "recovered over PPR(light)": share_text(gain, value) if gain else "—",
                    "gain over PPR(light)": gain.text() if gain else "—",
                    "MDE": format_mde(gain.mde) if gain else "—",
                    "share": took.estimate / value if value > 0 else math.nan,
                    "share lo": took.lo / value if value > 0 else math.nan,
                    "share hi": took.hi / value if value > 0 else math.nan,
                    "recovered": gain.estimate / value if gain and value > 0 else 0.0,
                    "recovered lo": gain.lo / value if gain and value > 0 else 0.0,
                    "recovered hi": gain.hi / value if gain and value > 0 else 0.0,
                    "MDE share": gain.mde / value if gain and value > 0 else math.nan,
                    "gain over ft (share)": share_text(over, value) if over else "—",
                    "over ft": over.estimate / value if over and value > 0 else 0.0,
                    "over ft lo": over.lo / value if over and value > 0 else 0.0,
                    "over ft hi": over.hi / value if over and value > 0 else 0.0,
                    "seeds": took.n_seeds})
    return pd.DataFrame(out)


def view(table: pd.DataFrame) -> pd.DataFrame:
    """The columns of :func:`limits_table` a page shows (the numbers behind them stay in the table)."""
    metric = next(c for c in table.columns if "NDCG" in c)
    shown = table[["limit removed", "method", metric, "captured (share of the value)", "gain over ft (share)",
                   "recovered over PPR(light)", "MDE", "seeds"]].copy()
    shown[metric] = shown[metric].map(lambda v: f"{v:.4f}")
    shown["MDE"] = [m if m == "—" else f"{m} ({100 * s:.0f} %)" for m, s in zip(table["MDE"], table["MDE share"],
                                                                               strict=True)]
    return shown.rename(columns={"MDE": f"MDE of the gain ({metric}, share)",
                                 "recovered over PPR(light)": "recovered over PPR(light) (share of the value)"}
                        ).set_index("limit removed")


# ------------------------------------------------------------------------------------------
# the variant against the methods of the paper and the simplest strong baselines

AGAINST = ("ft", "PPR(light)", "PPR(full)", "profile model", "profile model (warm)")
"""What PPR(warm) is compared with: the paper's methods and the simplest strong baselines."""

WORDS = {"reproduced": "better", "stronger than claimed": "better", "weaker than claimed": "better",
         "opposite": "worse", "not found": "no gain of the smallest effect of interest",
         "inconclusive": "inconclusive"}
"""The five-way verdict (:func:`pprlib.evidence.verdict`) read for a claim the paper does not
make, against the book's smallest effect of interest: a gain above zero is "better", below
"worse"; a gain that rules out the smallest effect of interest says so."""


def versus_table(result: Comparison, metric: str = "NDCG@10", variant: str = VARIANT, against=AGAINST) -> pd.DataFrame:
    """PPR(warm) against each method of ``against`` that ``result`` holds (on the seeds both ran):
    the effect with its 95 % interval over seeds and instances, the MDE, the book's smallest
    effect of interest in the reference's units (:data:`pprlib.paper.SMALLEST_EFFECT` of its
    mean) and the verdict (:data:`WORDS`)."""
    from pprlib import paper
    from pprlib.evidence import verdict

    rows = []
    for other in against:
        if other not in result.methods or variant not in result.methods:
            continue
        e = result.effect(variant, other, metric)
        delta = paper.SMALLEST_EFFECT * e.reference_mean
        rows.append({"against": other, "reference mean": e.reference_mean, "effect": e.text(),
                     "MDE": format_mde(e.mde), "smallest effect of interest": f"{delta:+.4f}",
                     "verdict": WORDS[verdict(e.lo, e.hi, delta)], "seeds": e.n_seeds,
                     "estimate": e.estimate, "lo": e.lo, "hi": e.hi})
    return pd.DataFrame(rows)


def versus_view(table: pd.DataFrame) -> pd.DataFrame:
    """The columns of :func:`versus_table` a page shows."""
    shown = table[["against", "reference mean", "effect", "MDE", "smallest effect of interest", "verdict", "seeds"]]
    return shown.assign(**{"reference mean": shown["reference mean"].map(lambda v: f"{v:.4f}")}).set_index("against")


def meets_goal(row, measure: str = "captured", target: float | None = None, floor: float | None = None) -> bool:
    """Whether a row of :func:`limits_table` meets the goal on ``measure`` (:data:`GOALS`, unless
    ``target`` or ``floor`` is given): at least the target, with the interval's lower end above the floor."""
    column = MEASURES[measure][0]
    target = GOALS[measure][0] if target is None else target
    floor = GOALS[measure][1] if floor is None else floor
    return bool(row[column] >= target and row[f"{column} lo"] > floor)
