"""The paper's studies, each one function returning a tidy DataFrame for one figure.

* :func:`ablation`: PPR(light) and PPR(full) with parts removed (paper Fig. 3);
* :func:`noise`: profiles of cold users perturbed at rate r (paper Fig. 4);
* :func:`sparsity`: cold sequences cropped to k clicks (paper Fig. 5);
* :func:`universality`: the few-shot comparison on other pre-trained backbones (paper Table 6);
* :func:`sensitivity`: one hyper-parameter of PPR changed at a time (no counterpart in the paper).

They run every comparison through :func:`fair_compare`: each tuned method at its own learning
rate, chosen on validation under the study's own settings (:func:`validated`), never at the rate
chosen for another method or another setting. Runs and rate choices are cached by their
configuration (:func:`pprlib.comparisons.compare`, :func:`pprlib.comparisons.choose_lr`), so a rate chosen in
one chapter is free in another; what a method is (its mode, the part of PPR it removes, its glue
key) is read from its :class:`~pprlib.methods.Method` fields, never from its name.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from pprlib import evidence, paper, reproduction
from pprlib.comparison import Comparison
from pprlib.comparisons import choose_lr, compare
from pprlib.context import Context
from pprlib.methods import METHODS, VARIANTS, find, method
from pprlib.runs import TuneSettings, instances

ABLATION_MODES = ("light", "full")


def validated(ctx: Context, methods, settings: TuneSettings | None = None, targets: str = "few") -> TuneSettings:
    """``settings`` (default: the context's) with every tuned method of ``methods`` at its own
    learning rate, chosen on validation under these very settings (noise rate, history length,
    hyper-parameters: :func:`pprlib.comparisons.choose_lr` with ``base=settings``); the rates
    ``settings`` held are dropped, so no method is tuned at a rate chosen for another method or
    for another setting. The one place where the studies set learning rates."""
    settings = settings or ctx.settings()
    return dataclasses.replace(settings, lr=choose_lr(ctx, list(methods), targets, base=settings))


def fair_compare(ctx: Context, methods, settings: TuneSettings | None = None, targets: str = "few") -> Comparison:
    """:func:`pprlib.comparisons.compare` of ``methods`` under ``settings``, each tuned method at its own
    validated learning rate (:func:`validated`): how every study compares methods."""
    return compare(ctx, list(methods), validated(ctx, methods, settings, targets), targets)


def rates(ctx: Context, methods, settings: TuneSettings | None = None, targets: str = "few") -> dict[str, float]:
    """The learning rate :func:`fair_compare` tunes each method of ``methods`` at under
    ``settings`` (tuned methods only; cached, as the chapters show them)."""
    return dict(validated(ctx, methods, settings, targets).lr)


def ablation_methods() -> list[str]:
    """ft and, for light and full, the full model, each removed part and the shared prompt."""
    return ["ft", *(find(mode, variant) for mode in ABLATION_MODES for variant in VARIANTS)]


def ablation(ctx: Context, targets: str = "few") -> tuple[pd.DataFrame, Comparison]:
    """Tidy frame (mode, variant, seed, metric, value) of the ablation; every variant is tuned at
    its own learning rate chosen on validation (:func:`fair_compare`), like its full model."""
    names = ablation_methods()
    full = {n: n if METHODS[n].variant is None else find(METHODS[n].mode) for n in names}  # the model it ablates
    result = fair_compare(ctx, names, ctx.settings(), targets)
    tidy = result.tidy()
    tidy["mode"] = tidy.method.map(full)
    tidy["variant"] = tidy.method.map(lambda n: METHODS[n].variant or n)
    return tidy, result


ABLATION_KEYS = {variant: METHODS[find("light", variant)].key.removesuffix("_light") for variant in VARIANTS[1:]}
"""Short names of the removed parts (glue keys of the ablation chapter: ``cl``, ``personal``, ...)."""


def ablation_key(full: str, removed: str) -> str:
    """The glue key of PPR method ``full`` without part ``removed``: ``ablation_key("PPR(light)",
    "w/o CL") == "cl_light"`` (the variant's :attr:`~pprlib.methods.Method.key`)."""
    return method(find(method(full).mode, removed)).key


def _ablation_pairs(result: Comparison):
    """(full model, removed part, variant) for every variant ``result`` ran with its full model."""
    for mode in ABLATION_MODES:
        full = find(mode)
        for variant in ABLATION_KEYS:
            other = find(mode, variant)
            if full in result.methods and other in result.methods:
                yield full, variant, other


def ablation_effects(result: Comparison, metric: str = "NDCG@10") -> dict:
    """The full model's effect over each variant (positive: the removed part helps), with its
    interval over seeds and instances, keyed as the chapter glues them: ``"cl_light"``,
    ``"personal_full"``, ..."""
    return {ablation_key(full, variant): result.effect(full, other, metric)
            for full, variant, other in _ablation_pairs(result)}


def ablation_table(results: dict[str, Comparison], metric: str = "NDCG@10") -> pd.DataFrame:
    """The ablation on each dataset (``results`` by dataset name), one row per (data, mode,
    removed part): the full model over the variant as :func:`pprlib.reproduction.effects_table`
    shows it, judged against the paper's effect where the paper claims the part helps."""
    rows = {}
    for name, result in results.items():
        for full, variant, other in _ablation_pairs(result):
            key = ablation_key(full, variant)
            rows[(name, full, variant)] = (result.effect(full, other, metric), key if key in paper.EFFECTS else None)
    return reproduction.effects_table(rows, metric, names=["data", "mode", "removed"])


def noise(ctx: Context, rates: list[float], methods: list[str], targets: str = "few") -> pd.DataFrame:
    """Tidy frame (noise, method, seed, metric, value): every cold user's profile fields are
    replaced by a random valid value with probability r, in tuning, validation and test; each
    method is tuned at its own learning rate chosen on validation at that rate (:func:`fair_compare`)."""
    frames = []
    for r in rates:
        tidy = fair_compare(ctx, methods, ctx.settings(profile_noise=float(r)), targets).tidy()
        tidy.insert(0, "noise", float(r))
        frames.append(tidy)
    return pd.concat(frames, ignore_index=True)


def noise_effects(ctx: Context, rates: list[float], a: str, b: str, metric: str = "NDCG@10",
                  targets: str = "few") -> dict[float, evidence.Effect]:
    """The effect of ``a`` over ``b`` at each noise rate (the runs of :func:`noise`, cached, each
    method at its own validated rate for that noise rate), paired by seed and instance."""
    return {float(r): fair_compare(ctx, [a, b], ctx.settings(profile_noise=float(r)), targets).effect(a, b, metric)
            for r in rates}


def noise_drops(ctx: Context, methods, low: float, high: float, metric: str = "NDCG@10",
                targets: str = "few") -> dict:
    """Each method's change of ``metric`` when the noise rate goes from ``low`` to ``high``
    (the runs of :func:`noise`, cached), paired by seed and test instance: an
    :class:`~pprlib.evidence.Effect` per method, relative to the method at ``low``."""
    out = {}
    for name in methods:
        per_rate = []
        for rate in (low, high):
            result = fair_compare(ctx, [name], ctx.settings(profile_noise=float(rate)), targets)
            per_rate.append(np.stack([result.per_instance[(name, s)][metric] for s in result.seeds]))
        out[name] = evidence.effect_of_differences(per_rate[1] - per_rate[0], float(per_rate[0].mean()))
    return out


def noise_drop_test(ctx: Context, a: str, b: str, low: float, high: float,
                    metric: str = "NDCG@10", targets: str = "few") -> dict:
    """Does ``a`` lose less than ``b`` when the noise rate goes from ``low`` to ``high``?

    Per seed and test instance: (a at high - a at low) - (b at high - b at low); ``diff > 0``
    means ``a`` is the more robust. ``effect`` (an :class:`~pprlib.evidence.Effect` as a dict)
    is its mean with the interval over seeds and instances, relative to ``b`` at ``low``, and
    ``p`` its p-value; ``drop_a`` and ``drop_b`` are each method's mean change. The runs are
    those of :func:`noise` (cached).
    """
    per_seed, reference = {}, float("nan")
    for name in (a, b):
        per_rate = []
        for rate in (low, high):
            result = fair_compare(ctx, [name], ctx.settings(profile_noise=float(rate)), targets)
            per_rate.append(np.stack([result.per_instance[(name, s)][metric] for s in result.seeds]))
        per_seed[name] = per_rate[1] - per_rate[0]  # seeds x instances: each seed's drop
        if name == b:
            reference = float(per_rate[0].mean())
    effect = evidence.effect_of_differences(per_seed[a] - per_seed[b], reference)
    return {"diff": effect.estimate, "p": effect.p, "drop_a": float(per_seed[a].mean()),
            "drop_b": float(per_seed[b].mean()), "effect": effect.as_dict()}


def sparsity(ctx: Context, ks: list[int], methods=("ft", "PPR(light)", "PPR(full)")) -> pd.DataFrame:
    """Tidy frame (k, method, seed, metric, value, improvement): cold sequences cropped to at
    most k clicks of history in tuning, validation and test, each method at its own learning rate
    chosen on validation at that k (:func:`fair_compare`); ``improvement`` is the relative change
    (in %) against ft of the same seed and k."""
    frames = []
    for k in ks:
        tidy = fair_compare(ctx, methods, ctx.settings(k_shot=int(k)), "few").tidy()
        ft = tidy[tidy.method == "ft"].set_index(["seed", "metric"]).value
        tidy["improvement"] = 100 * (tidy.value / ft.reindex(pd.MultiIndex.from_frame(tidy[["seed", "metric"]])).to_numpy() - 1)
        tidy.insert(0, "k", int(k))
        frames.append(tidy)
    return pd.concat(frames, ignore_index=True)


def sparsity_effects(ctx: Context, ks: list[int], methods=("PPR(light)", "PPR(full)"),
                     reference: str = "ft", metric: str = "NDCG@10") -> dict:
    """Each method's effect over ``reference`` at each k (the runs of :func:`sparsity`,
    cached), with its interval over seeds and instances: ``{(method, k): Effect}``."""
    out = {}
    for k in ks:
        result = fair_compare(ctx, [reference, *methods], ctx.settings(k_shot=int(k)), "few")
        out |= {(m, int(k)): result.effect(m, reference, metric) for m in methods}
    return out


def paper_sparsity_frame() -> pd.DataFrame:
    """The paper's sparsity bars (CIKM, NDCG@10 relative improvement over ft)."""
    from pprlib.paper import SPARSITY_CIKM

    rows = [{"k": k, "method": m, "improvement": v, "source": "paper (CIKM)"}
            for k, (light, full) in SPARSITY_CIKM.items() for m, v in (("PPR(light)", light), ("PPR(full)", full))]
    return pd.DataFrame(rows)


UNIVERSALITY_METHODS = ("pre-train", "ft", "PPR(light)", "PPR(full)")


def universality(contexts: dict[str, Context], methods=UNIVERSALITY_METHODS,
                 targets: str = "few") -> tuple[pd.DataFrame, dict[str, Comparison]]:
    """Tidy frame (backbone, method, seed, metric, value) of the same comparison on each
    pre-trained backbone, every method with its own learning rate chosen on validation."""
    frames, results = [], {}
    for name, ctx in contexts.items():
        result = fair_compare(ctx, methods, ctx.settings(), targets)
        tidy = result.tidy()
        tidy.insert(0, "backbone", name)
        frames.append(tidy)
        results[name] = result
    return pd.concat(frames, ignore_index=True), results


SENSITIVITY_PARAMETERS = {
    "n_prompt": "prompt length n",
    "weight": "contrastive weight λ",
    "temperature": "temperature τ",
    "mask_ratio": "mask ratio γ (γ₁ = γ₂)",
}
"""The hyper-parameters :func:`sensitivity` can vary, with their labels in figures."""


def sensitivity_settings(base: TuneSettings, parameter: str, value) -> TuneSettings:
    """``base`` with one hyper-parameter of PPR set to ``value``."""
    if parameter == "n_prompt":
        if isinstance(value, bool) or int(value) != value or value < 1:
            raise ValueError(f"prompt length n must be an integer >= 1, got {value!r}")
        return dataclasses.replace(base, n_prompt=int(value))
    cl = base.contrastive
    if parameter == "weight":
        return dataclasses.replace(base, contrastive=dataclasses.replace(cl, weight=float(value)))
    if parameter == "temperature":
        return dataclasses.replace(base, contrastive=dataclasses.replace(cl, temperature=float(value)))
    if parameter == "mask_ratio":
        changed = dataclasses.replace(cl, profile_ratio=float(value), item_ratio=float(value))
        return dataclasses.replace(base, contrastive=changed)
    raise ValueError(f"unknown sensitivity parameter {parameter!r}; choose from {list(SENSITIVITY_PARAMETERS)}")


def sensitivity(ctx: Context, grid: dict[str, list], methods=("PPR(light)",),
                targets: str = "few") -> pd.DataFrame:
    """Tidy frame (parameter, setting, method, seed, metric, value): each hyper-parameter of
    ``grid`` varied alone, the others at their defaults (runs at the default setting are
    shared between parameters through the cache). A setting is a variant like the ablation's:
    at each one, every method is tuned at its own learning rate chosen on validation under that
    setting (:func:`fair_compare`), so that, e.g., λ = 0 is not judged at the rate chosen for λ = 0.1."""
    for parameter in grid:
        if parameter not in SENSITIVITY_PARAMETERS:
            raise ValueError(f"unknown sensitivity parameter {parameter!r}; choose from {list(SENSITIVITY_PARAMETERS)}")
    base = ctx.settings()
    frames = []
    for parameter, values in grid.items():
        if not values:
            raise ValueError(f"sensitivity grid for {parameter!r} is empty")
        for value in values:
            settings = sensitivity_settings(base, parameter, value)
            tidy = fair_compare(ctx, methods, settings, targets).tidy()
            tidy.insert(0, "setting", value)
            tidy.insert(0, "parameter", parameter)
            frames.append(tidy)
    return pd.concat(frames, ignore_index=True)


def improvement_contributions(a: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Each instance's share of the improvement ``100 * (mean(a) / mean(f) - 1)`` of a method
    (per-instance metric ``a``) over its reference (``f``), linearized (the delta method for a
    ratio of means): their mean is the improvement exactly."""
    ratio = a.mean() / f.mean()
    return 100 * (ratio - 1) + 100 * (a - ratio * f) / f.mean()


def trend_contributions(a_low: np.ndarray, f_low: np.ndarray, a_high: np.ndarray, f_high: np.ndarray,
                        in_low: np.ndarray) -> np.ndarray:
    """Per instance of the larger set (histories of at most ``high`` clicks), its share of the
    improvement at ``low`` minus the improvement at ``high``: the instances at ``low`` are the
    subset ``in_low`` of the larger set (same order), so each carries its share at ``low``
    scaled by the sets' sizes, minus its share at ``high``. Their mean is the trend exactly."""
    low = np.zeros(len(in_low))
    low[in_low] = improvement_contributions(a_low, f_low) * len(in_low) / in_low.sum()
    return low - improvement_contributions(a_high, f_high)


def sparsity_trend(ctx: Context, method: str, low: int, high: int, reference: str = "ft",
                   metric: str = "NDCG@10") -> evidence.Effect:
    """Is ``method``'s improvement over ``reference`` (in %) larger with at most ``low`` clicks of
    history than with at most ``high``? The difference of improvements (percentage points) of
    the runs of :func:`sparsity` (cached), as an :class:`~pprlib.evidence.Effect` whose interval
    covers seeds and test instances: per seed, each instance's linearized share of the trend
    (:func:`trend_contributions`; the instances at ``low`` are among those at ``high``)."""
    results = {k: fair_compare(ctx, [reference, method], ctx.settings(k_shot=int(k)), "few") for k in (low, high)}
    settings = ctx.settings(k_shot=int(high))
    in_low = instances(ctx.split, settings.test, "few", int(high)).positions <= low
    seeds = [s for s in results[high].seeds if s in results[low].seeds]
    if not seeds:
        raise ValueError(f"no seed ran {method} and {reference} at both k={low} and k={high}")
    rows = [trend_contributions(*(results[k].per_instance[(m, s)][metric] for k in (low,) for m in (method, reference)),
                                *(results[high].per_instance[(m, s)][metric] for m in (method, reference)), in_low)
            for s in seeds]
    return evidence.effect_of_differences(np.stack(rows))


def slug(name: str) -> str:
    """A name as a glue key: ``"SASRec (2 layers)"`` -> ``"sasrec_2_layers"``."""
    text = "".join(c if c.isalnum() else "_" for c in name.lower())
    return "_".join(part for part in text.split("_") if part)


def _universality_key(backbone: str, name: str) -> str:
    return f"univ_{slug(backbone)}_{method(name).key}"


def universality_effects(results: dict[str, Comparison], methods=("PPR(light)", "PPR(full)"),
                         reference: str = "ft", metric: str = "NDCG@10") -> dict:
    """Each method's effect over ``reference`` on each backbone, keyed as the chapter glues
    them: ``"univ_cl4srec_light"``, ..."""
    return {_universality_key(name, m): result.effect(m, reference, metric)
            for name, result in results.items() for m in methods}


def universality_table(results: dict[str, Comparison], methods=("PPR(light)", "PPR(full)"),
                       reference: str = "ft", metric: str = "NDCG@10") -> pd.DataFrame:
    """One row per (backbone, method): its effect over ``reference`` as
    :func:`pprlib.reproduction.effects_table` shows it, judged where the paper reports that
    backbone (CL4SRec only)."""
    rows = {}
    for name, result in results.items():
        for m in methods:
            key = _universality_key(name, m)
            rows[(name, m)] = (result.effect(m, reference, metric), key if key in paper.EFFECTS else None)
    return reproduction.effects_table(rows, metric, names=["backbone", "method"])


def contrastive_effects(ctx: Context, mode: str = "light", metric: str = "NDCG@10",
                        targets: str = "few") -> dict[str, evidence.Effect]:
    """The effect of PPR(``mode``)'s contrastive loss in the two designs of the book, each side
    tuned at its own learning rate chosen on validation (:func:`fair_compare`), paired by seed and
    instance, by a label that names the design: first the full model over the ablation's variant
    without contrastive learning (the ablation; the noise study at rate 0 runs the very same
    runs), then the full model at its default weight λ over the same model at λ = 0 (the
    sensitivity study). The two train the same way (a loss weighted 0 adds nothing) under two
    names, so they agree unless something else differs between them."""
    full, without = find(mode), find(mode, "w/o CL")
    base = ctx.settings()
    labels = (f"the ablation and the noise study at rate 0 ({full} over {without})",
              f"the sensitivity study ({full} at λ = {evidence.format_number(base.contrastive.weight)} over λ = 0)")
    variant = fair_compare(ctx, [full, without], base, targets).effect(full, without, metric)
    at_default = fair_compare(ctx, [full], base, targets)
    at_zero = fair_compare(ctx, [full], sensitivity_settings(base, "weight", 0.0), targets)
    seeds = [s for s in at_default.seeds if (full, s) in at_zero.per_instance]
    weight = evidence.paired_effect(np.stack([at_default.per_instance[(full, s)][metric] for s in seeds]),
                                    np.stack([at_zero.per_instance[(full, s)][metric] for s in seeds]))
    return dict(zip(labels, (variant, weight), strict=True))


def sensitivity_summary(tidy: pd.DataFrame, metric: str = "NDCG@10") -> dict:
    """What the sensitivity figure says in numbers: mean ± sd per setting (``table``), the
    spread of the means across each parameter's settings (``spread``; settings labelled as
    :func:`pprlib.evidence.format_number` shows them, ``1`` not ``1.0``), the average sd over
    seeds at one setting (``seed_sd``) and the best setting of each parameter (``best``)."""
    part = tidy[tidy.metric == metric]
    by_setting = part.groupby(["parameter", "setting"], sort=False).value
    means = by_setting.mean()
    table = by_setting.agg(["mean", "std"]).round(4)
    # one setting column holds integers (n) and fractions (λ, τ, γ): label each as itself
    table.index = table.index.set_levels(table.index.levels[1].map(evidence.format_number), level="setting")
    return {"table": table,
            "spread": means.groupby("parameter").agg(lambda v: v.max() - v.min()).to_dict(),
            "seed_sd": float(by_setting.std().mean()),
            "best": {p: float(means[p].idxmax()) for p in means.index.get_level_values("parameter").unique()}}


def sensitivity_conclusion(summary: dict) -> str:
    """The sensitivity chapter's conclusion from :func:`sensitivity_summary`: the parameter whose
    settings move PPR(light) most, and whether that spread exceeds twice the sd over seeds."""
    widest = max(summary["spread"], key=summary["spread"].get)
    spread, sd = summary["spread"][widest], summary["seed_sd"]
    text = ("The paper reports no sweep, so the spreads are not scored. On this data the setting that matters most is "
            f"{widest} (the means across its values span {spread:.4f} NDCG@10), ")
    if spread <= 2 * sd:
        return text + (f"no more than twice the standard deviation over seeds at one setting ({sd:.4f}): within "
                       "the noise of training, the defaults are as good as any setting tried.")
    return text + (f"more than twice the standard deviation over seeds at one setting ({sd:.4f}): PPR(light) is "
                   f"sensitive to it, and its best value here is {summary['best'][widest]:g}.")
