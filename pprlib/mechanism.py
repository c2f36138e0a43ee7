"""The mechanism chapter ("When do personalized prompts pay off?"): the ceilings of the
generated world as a :class:`~pprlib.comparison.Comparison` (so that methods and ceilings are
compared on the same instances), why the sampled protocol hides the style channel, each
method's share of the value of the profile, and the dose-response study over the two profile
signals of the generator.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pprlib.ceilings import VALUES, cached_ceilings, ceiling_table
from pprlib.comparison import Comparison
from pprlib.data.ceilings import world_of
from pprlib.data.protocol import ColdStartSplit, Instances
from pprlib.data.synthetic import SyntheticConfig
from pprlib.evidence import Effect

if TYPE_CHECKING:
    from pprlib.context import Context

SIGNALS = ("profile_style_signal", "profile_signal")
"""The generator's two profile signals the dose-response study sweeps (one at a time, the other at 0)."""


def ceiling_comparison(split: ColdStartSplit, population: str = "test", *, n_samples: int = 1024,
                       seed: int = 0, scorers: tuple[str, ...] | None = None) -> Comparison:
    """Per-instance metrics of the oracle and the Bayes scorers on every instance (zero- and
    few-shot) of ``population``, as a :class:`Comparison` of one "seed" (``seed``, the draws of
    the importance sampler), labelled like the methods' results: ``.only("few")`` then holds the
    same instances, in the same order, as a method's few-shot run on ``population``.
    ``scorers`` computes only those scorers. Read through
    :func:`~pprlib.ceilings.cached_ceilings`: the data chapter's identical call is free."""
    inst = split.instances(population)
    per, info = cached_ceilings(split, population, n_samples=n_samples, seed=seed, names=scorers)
    held = np.isin(inst.users, split.heldout_users).astype(np.float32)
    out, secs = {}, {}
    for name, metrics in per.items():
        out[(name, seed)] = {**metrics, "position": inst.positions.astype(np.float32), "heldout": held}
        secs[(name, seed)] = float(info[name]["seconds"])
    return Comparison(out, {key: pd.DataFrame() for key in out}, secs)


def profile_values(ceilings: Comparison, metric: str = "NDCG@10") -> dict[str, Effect]:
    """The differences of :data:`~pprlib.ceilings.VALUES` (value of the profile, its
    parts, the latent state beyond it) with intervals over the test instances only."""
    return {name: ceilings.effect(a, b, metric) for name, (a, b) in VALUES.items()
            if a in ceilings.methods and b in ceilings.methods}


def ceilings_table(ceilings: Comparison) -> pd.DataFrame:
    """:func:`pprlib.ceilings.ceiling_table` of a :func:`ceiling_comparison`: the scorers'
    means and the values of the profile with their intervals, few- and zero-shot, sampled and
    full ranking (the data chapter's table, on the same instances)."""
    seed = next(iter(ceilings.per_instance))[1]
    per = {name: metrics for (name, s), metrics in ceilings.per_instance.items() if s == seed}
    positions = next(iter(per.values()))["position"]
    return ceiling_table(per, positions)


# ------------------------------------------------------------------------------------------
# the metric lens


def successor_counts(split: ColdStartSplit, inst: Instances) -> pd.DataFrame:
    """Which items the candidates are, for few-shot instances: per instance, how many of the
    sampled negatives are successors of the previous click in the user's own style, and how
    many only in another style; and the same counts over the full catalogue (every item but
    the target and the items clicked before it, as full ranking ranks them). The style channel
    is about telling the first from the second: a negative that is another style's successor
    is where knowing the style moves a ranking."""
    world = world_of(split.data)
    inst = inst.few_shot()
    data = split.data
    prev = np.array([data.sequence(u)[p - 1] for u, p in zip(inst.users, inst.positions, strict=True)]) - 1
    succ = world.successors  # (K, n_items, n_successors), 0-based
    own_style = world.style[inst.users]
    rows = []
    for r in range(len(inst)):
        own = set(succ[own_style[r], prev[r]].tolist())
        other = set(succ[:, prev[r]].ravel().tolist()) - own
        negatives = set((inst.candidates[r, 1:] - 1).tolist())
        seen = set((data.sequence(inst.users[r])[: inst.positions[r]] - 1).tolist())
        catalogue_other = other - seen - {inst.targets[r] - 1}
        catalogue_own = own - seen - {inst.targets[r] - 1}
        rows.append({"sampled: own style": len(own & negatives), "sampled: other styles": len(other & negatives),
                     "full: own style": len(catalogue_own), "full: other styles": len(catalogue_other),
                     "negatives": len(inst.candidates[r]) - 1,
                     "full: items": data.n_items - 1 - len(seen - {inst.targets[r] - 1})})
    return pd.DataFrame(rows)


def successor_summary(counts: pd.DataFrame) -> pd.DataFrame:
    """:func:`successor_counts` summed up: mean number of own- and other-style successors among
    the ranked items, the share of ranked items they are, and the share of instances with at
    least one other-style successor to rank against (sampled negatives vs full ranking)."""
    out = {}
    for protocol, n in (("sampled", counts["negatives"]), ("full", counts["full: items"])):
        own, other = counts[f"{protocol}: own style"], counts[f"{protocol}: other styles"]
        out[protocol] = {"own-style successors per instance": own.mean(),
                         "other-style successors per instance": other.mean(),
                         "share of ranked items: own style": (own / n).mean(),
                         "share of ranked items: other styles": (other / n).mean(),
                         "instances with an other-style successor": (other > 0).mean()}
    return pd.DataFrame(out)


# ------------------------------------------------------------------------------------------
# shares of the ceiling


def ceiling_shares(result: Comparison, ceilings: Comparison, methods, metric: str = "NDCG@10",
                   reference: str = "ft") -> pd.DataFrame:
    """Each method against the ceilings on the same instances (``result`` and ``ceilings``
    restricted alike, e.g. both ``.only("few")``): its mean ``metric``, its gain over ``reference`` with the
    interval (seeds and instances), the value of the profile (Bayes with profile minus the
    population-prior Bayes scorer), and two shares of that value: the gain over ``reference``
    (what the method adds to ft) and the method's distance above the population-prior scorer
    (what it captures of the profile; negative when it stays below what a profile-blind Bayes
    scorer achieves from the clicks alone)."""
    value = ceilings.effect("Bayes (profile)", "Bayes (none)", metric).estimate
    none = float(ceilings.tidy().query("method == 'Bayes (none)' and metric == @metric").value.mean())
    means = result.tidy().query("metric == @metric").groupby("method").value.mean()
    rows = {}
    for m in methods:
        gain = result.effect(m, reference, metric) if m != reference else None
        rows[m] = {"mean": float(means[m]),
                   f"gain over {reference}": gain.text() if gain else "—",
                   "value of the profile": value,
                   f"gain over {reference} / value": share(gain.estimate, value) if gain else 0.0,
                   "(method − Bayes none) / value": share(float(means[m]) - none, value)}
    return pd.DataFrame(rows).T


def share(part: float, whole: float) -> float:
    """``part / whole``, NaN where the whole is not positive (a share of nothing is undefined)."""
    return part / whole if whole > 0 else math.nan


# ------------------------------------------------------------------------------------------
# what limits the share


def tuning_user_curve(ctx, lrs: dict, methods, shares, seeds, ceilings: Comparison, *, targets: str = "zero",
                      metric: str = "NDCG@10", reference: str = "ft") -> pd.DataFrame:
    """How the captured share of the value of the profile grows with the number of cold tuning
    users: ``methods`` (``reference`` among them) tuned on nested subsets of the tuning users
    (``TuneSettings.tune_share`` for each of ``shares``; 1.0 is the whole tuning set, the runs of
    the main chapters), evaluated on ``targets`` instances of the context's test population. Per
    share and method: the gain over ``reference`` with its interval (seeds and instances), its
    share of the value of the profile, and the method's distance above the profile-blind Bayes
    scorer as a share of that value (``ceilings`` on the same instances)."""
    from pprlib.comparisons import compare
    from pprlib.runs import tuning_users

    ceil = ceilings.only(targets)
    value = ceil.effect("Bayes (profile)", "Bayes (none)", metric).estimate
    none = float(ceil.tidy().query("method == 'Bayes (none)' and metric == @metric").value.mean())
    rows = []
    for tune_share in shares:
        result = compare(ctx, list(methods), ctx.settings(lr=lrs, tune_share=float(tune_share)), targets,
                         list(seeds)).only(targets)
        means = result.tidy().query("metric == @metric").groupby("method").value.mean()
        for m in methods:
            e = result.effect(m, reference, metric) if m != reference else None
            rows.append({"tune share": float(tune_share), "tuning users": len(tuning_users(ctx.split, tune_share)),
                         "method": m, metric: float(means[m]),
                         "gain": e.estimate if e else 0.0, "lo": e.lo if e else 0.0, "hi": e.hi if e else 0.0,
                         "gain / value": share(e.estimate, value) if e else 0.0,
                         "above Bayes (none) / value": share(float(means[m]) - none, value)})
    return pd.DataFrame(rows)


def stopping(results: dict[str, Comparison], max_epochs: int | dict[str, int]) -> pd.DataFrame:
    """When the tuning runs stopped and where they were best (``results``: a comparison per shot
    kind, e.g. ``{"few": ..., "zero": ...}``): per kind and method, the median epoch of the best
    validation NDCG@10, the median last epoch, and the share of runs still improving at the
    last allowed epoch (``max_epochs``, or one per kind: zero-shot tuning has more epochs,
    :attr:`~pprlib.runs.TuneSettings.zero_shot_scale`): if that share is small, a larger tuning
    budget would not change the result."""
    rows = []
    for kind, result in results.items():
        cap = max_epochs[kind] if isinstance(max_epochs, dict) else max_epochs
        by_method: dict[str, list] = {}
        for (name, _seed), history in result.histories.items():
            if history is None or not len(history) or "val/NDCG@10" not in history:
                continue
            tuned = history[history["epoch"] > 0]
            if not len(tuned):
                continue
            best = int(tuned.loc[tuned["val/NDCG@10"].idxmax(), "epoch"])
            by_method.setdefault(name, []).append((best, int(tuned["epoch"].max())))
        for name, runs in by_method.items():
            best, last = np.array(runs).T
            rows.append({"shots": kind, "method": name, "runs": len(runs), "epochs allowed": cap,
                         "median best epoch": float(np.median(best)), "median last epoch": float(np.median(last)),
                         "best at the budget": float(np.mean(best >= cap))})
    return pd.DataFrame(rows)


def lr_table(ctx, lrs: dict, methods, seeds, *, targets: str = "zero", metric: str = "NDCG@10") -> pd.DataFrame:
    """Each method's test mean at every learning rate of the grid (``ctx.config.lr_grid``) over
    ``seeds``, beside the rate chosen on validation (``lrs``): ``regret`` is how much the best
    rate of the grid on the test instances beats the chosen one (what choosing on validation
    cost; 0 when validation picked the best)."""
    from pprlib.comparisons import compare

    rows = []
    for name in methods:
        means = {}
        for lr in ctx.config.lr_grid:
            result = compare(ctx, [name], ctx.settings(lr={name: lr}), targets, list(seeds)).only(targets)
            means[lr] = float(result.tidy().query("metric == @metric").value.mean())
        best = max(means.values())
        for lr, mean in means.items():
            rows.append({"method": name, "lr": lr, metric: mean, "chosen": bool(np.isclose(lr, lrs[name])),
                         "regret": best - means[lrs[name]]})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------------
# dose-response


def dose_world(base: SyntheticConfig, signal: str, level: float) -> SyntheticConfig:
    """The generated world of one dose level: ``signal`` (one of :data:`SIGNALS`) at ``level``,
    the other profile signal at 0 (each sweep isolates one channel; both start from the world
    where the profile carries nothing)."""
    if signal not in SIGNALS:
        raise ValueError(f"signal must be one of {SIGNALS}, got {signal!r}")
    if not 0.0 <= level <= 1.0:
        raise ValueError(f"{signal} levels must lie in [0, 1], got {level!r}")
    other = SIGNALS[1 - SIGNALS.index(signal)]
    return dataclasses.replace(base, **{signal: float(level), other: 0.0})


def dose_frame(results: dict[str, Comparison], ceilings: Comparison, methods, *, signal: str, level: float,
               metrics=("NDCG@10", "full/NDCG@10"), reference: str = "ft") -> pd.DataFrame:
    """One dose level as tidy rows: per shot kind (``results["few"]``, ``results["zero"]``: the
    methods tuned and tested on that kind) and metric, each method's gain over ``reference`` and
    the value of the profile, with their intervals and shares."""
    rows = []
    for kind, label in (("few", "few-shot"), ("zero", "zero-shot")):
        res, ceil = results[kind].only(kind), ceilings.only(kind)
        for metric in metrics:
            value = ceil.effect("Bayes (profile)", "Bayes (none)", metric)
            effects = {"value of the profile": value}
            effects.update({m: res.effect(m, reference, metric) for m in methods if m != reference})
            for name, e in effects.items():
                rows.append({"signal": signal, "level": level, "shots": label, "metric": metric, "what": name,
                             "estimate": e.estimate, "lo": e.lo, "hi": e.hi,
                             "share of value": share(e.estimate, value.estimate)})
    return pd.DataFrame(rows)


def vanishes(frame: pd.DataFrame, what: str, metric: str = "NDCG@10") -> bool:
    """Whether ``what``'s interval covers 0 at the level where both signals are 0 (every shot
    kind; rows of :func:`dose_frame`)."""
    rows = frame[(frame.level == 0) & (frame.what == what) & (frame.metric == metric)]
    return bool(len(rows)) and bool(((rows.lo <= 0) & (rows.hi >= 0)).all())


def dose_best(frame: pd.DataFrame, method: str = "PPR(light)", metric: str = "NDCG@10") -> dict:
    """The level where ``method``'s gain over ft is largest (rows of :func:`dose_frame`): its
    signal, level, shot kind, estimate and interval, and the value of the profile there."""
    rows = frame[frame.metric == metric]
    best = rows[rows.what == method].sort_values("estimate").iloc[-1]
    at = rows[(rows.what == "value of the profile") & (rows.signal == best.signal) & (rows.level == best.level)
              & (rows.shots == best.shots)]
    return {"signal": best.signal, "level": float(best.level), "shots": best.shots, "estimate": float(best.estimate),
            "lo": float(best.lo), "hi": float(best.hi), "value": float(at.estimate.iloc[0])}


def dose_config(config, *, users: int, pretrain_epochs: int):
    """The book settings of the dose study's reduced worlds: ``users`` generated users (and three
    times as many held-out cold test users, which cost evaluation only) and at most
    ``pretrain_epochs`` epochs for each level's pre-training; everything else as ``config``."""
    return dataclasses.replace(config, n_users=users, heldout_users=3 * users, pretrain_epochs=pretrain_epochs)


def dose_contexts(config, levels) -> dict[tuple[str, float], Context]:
    """The context of every dose level (``(signal, level)`` for each signal of :data:`SIGNALS`),
    each with a backbone **pre-trained on its own warm users**.

    Why not one backbone for all levels: the generator draws the same random numbers at every
    level (the items, their groups, popularity and successor maps, the users' lengths, timestamps
    and the random parts of their latent states are identical, :func:`same_physics`), but a level
    decides how much of each user's latent state comes from their profile, so it changes who
    follows which style and prefers which groups: the warm users' clicks too. A backbone
    pre-trained on another level's warm users would start every method away from this level's
    population, and a tuned method's gain would mix personalization with adapting to that shift.
    The level where both signals are 0 is one world (and one pre-training) for both sweeps."""
    from pprlib.context import prepare

    base = SyntheticConfig(n_users=config.n_users, n_items=config.n_items, seed=config.seed,
                           heldout_users=config.heldout_users)
    return {(signal, float(level)): prepare(config, synthetic=dose_world(base, signal, level))
            for signal in SIGNALS for level in levels}


def same_physics(a, b) -> bool:
    """Whether two generated datasets share their world's physics and every user's clicks
    budget: items, groups, popularity, successor maps, lengths and timestamps (what the dose
    levels share, so that one backbone pre-trained on either knows the other's items)."""
    la, lb = a.meta["latent"], b.meta["latent"]
    return (np.array_equal(la["item_group"], lb["item_group"]) and np.array_equal(la["successors"], lb["successors"])
            and np.array_equal(a.lengths, b.lengths) and np.array_equal(a.timestamps, b.timestamps))


def dose_study(config, levels, lrs: dict[str, dict], methods=("ft", "PPR(light)", "PPR(full)"), seeds=(0,), *,
               n_samples: int = 1024, log=None) -> pd.DataFrame:
    """The dose-response study: for each signal of :data:`SIGNALS` and each level, the world of
    :func:`dose_world` (``config`` as made by :func:`dose_config`), the methods tuned on its cold
    users from its own pre-trained backbone (:func:`dose_contexts`) with the learning rates
    ``lrs[targets]`` (``"few"``, ``"zero"``) for ``seeds``, evaluated on its cold test and
    held-out users, beside its ceilings. The level where both signals are 0 is one world, shared
    by both sweeps. Rows of :func:`dose_frame` for every level."""
    from pprlib.comparisons import compare

    frames, done = [], {}
    for (signal, level), ctx in dose_contexts(config, levels).items():
        world = ctx.spec.synthetic
        if world not in done:
            population = ctx.test_population
            ceil = ceiling_comparison(ctx.split, population, n_samples=n_samples,
                                      scorers=("Bayes (profile)", "Bayes (none)"))
            done[world] = ({targets: compare(ctx, list(methods), ctx.settings(lr=lrs[targets]), targets, list(seeds))
                            for targets in ("few", "zero")}, ceil)
            if log:
                log(f"{signal} = {level:g}: tuned and evaluated")
        results, ceil = done[world]
        frames.append(dose_frame(results, ceil, methods, signal=signal, level=level))
    return pd.concat(frames, ignore_index=True)
