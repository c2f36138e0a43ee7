"""The mechanism chapter ("When do personalized prompts pay off?"): the ceilings of the
generated world as a :class:`~pprlib.comparison.Comparison` (so that methods and ceilings are
compared on the same instances), why the sampled protocol hides the style channel, each
method's share of the value of the profile, and the dose-response study over the two profile
signals of the generator.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd

from pprlib.comparison import Comparison
from pprlib.data.ceilings import VALUES, evaluate_ceilings, world_of
from pprlib.data.protocol import ColdStartSplit, Instances
from pprlib.data.synthetic import SyntheticConfig
from pprlib.evidence import Effect

SIGNALS = ("profile_style_signal", "profile_signal")
"""The generator's two profile signals the dose-response study sweeps (one at a time, the other at 0)."""


def ceiling_comparison(split: ColdStartSplit, population: str = "test", *, n_samples: int = 1024,
                       seed: int = 0, scorers: tuple[str, ...] | None = None) -> Comparison:
    """Per-instance metrics of the oracle and the Bayes scorers on every instance (zero- and
    few-shot) of ``population``, as a :class:`Comparison` of one "seed" (``seed``, the draws of
    the importance sampler), labelled like the methods' results: ``.only("few")`` then holds the
    same instances, in the same order, as a method's few-shot run on ``population``.
    ``scorers`` computes only those scorers."""
    inst = split.instances(population)
    per, info = evaluate_ceilings(split, inst, n_samples=n_samples, seed=seed, names=scorers)
    held = np.isin(inst.users, split.heldout_users).astype(np.float32)
    out, secs = {}, {}
    for name, metrics in per.items():
        out[(name, seed)] = {**metrics, "position": inst.positions.astype(np.float32), "heldout": held}
        secs[(name, seed)] = info[name]["seconds"]
    return Comparison(out, {key: pd.DataFrame() for key in out}, secs)


def ceiling_values(ceilings: Comparison, metric: str = "NDCG@10") -> dict[str, Effect]:
    """The differences of :data:`~pprlib.data.ceilings.VALUES` (value of the profile, its
    parts, the latent state beyond it) with intervals over the test instances only."""
    return {name: ceilings.effect(a, b, metric) for name, (a, b) in VALUES.items()
            if a in ceilings.methods and b in ceilings.methods}


def ceiling_table(ceilings: Comparison, metrics=("NDCG@10", "full/NDCG@10")) -> pd.DataFrame:
    """Mean of each ceiling scorer, few- and zero-shot, on each metric."""
    cols = {}
    for kind, label in (("few", "few-shot"), ("zero", "zero-shot")):
        tidy = ceilings.only(kind).tidy()
        for metric in metrics:
            cols[(label, metric)] = tidy[tidy.metric == metric].set_index("method").value
    return pd.DataFrame(cols)


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
    prev = np.array([data.sequence(u)[p - 1] for u, p in zip(inst.users, inst.positions)]) - 1
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
    restricted alike, e.g. both ``.only("few")``): its mean, its gain over ``reference`` with the
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
        rows[m] = {metric: float(means[m]),
                   f"gain over {reference}": gain.text() if gain else "—",
                   "value of the profile": value,
                   f"gain over {reference} / value": share(gain.estimate, value) if gain else 0.0,
                   "(method − Bayes none) / value": share(float(means[m]) - none, value)}
    return pd.DataFrame(rows).T


def share(part: float, whole: float) -> float:
    """``part / whole``, NaN where the whole is not positive (a share of nothing is undefined)."""
    return part / whole if whole > 0 else math.nan


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


def conclusion(values: dict) -> str:
    """The chapter's answer in words, from its glued numbers: ``values`` holds the value of the
    profile (``value_few``, ``value_zero``: Bayes with minus without the profile, sampled
    NDCG@10), the captured shares of PPR(light) and PPR(full) over ft (``share_light_few``, ...),
    the same values on full ranking (``value_full_few``, ``value_full_zero``), the style part
    (``style_few``, ``style_full_few``) and the dose study's largest gain of PPR(light) over ft
    with its interval (``dose_best``: dict with ``signal``, ``level``, ``estimate``, ``lo``,
    ``hi``, ``value``)."""
    def pct(x):
        return "undefined" if x is None or not math.isfinite(x) else f"{100 * x:.0f} %"

    shares = [values[f"share_{v}_{k}"] for v in ("light", "full") for k in ("few", "zero")]
    top = max((x for x in shares if x is not None and math.isfinite(x)), default=math.nan)
    captured = ("at most " + pct(top)) if math.isfinite(top) else "an undefined share"
    best = values["dose_best"]
    found = best["lo"] > 0
    dose = (f"in the dose study PPR(light)'s largest gain over ft, {best['estimate']:+.4f} "
            f"[{best['lo']:+.4f}, {best['hi']:+.4f}] at {best['signal']} = {best['level']:g} (ceiling "
            f"{best['value']:+.4f}), is " + ("above zero" if found else "not distinguishable from zero"))
    return (f"A profile can pay off only as far as the data lets it: on this world knowing the profile "
            f"is worth at most {values['value_few']:+.4f} sampled NDCG@10 for few-shot instances and "
            f"{values['value_zero']:+.4f} for first clicks ({values['value_full_few']:+.4f} and "
            f"{values['value_full_zero']:+.4f} on full ranking). The style channel, where a prompt inside the "
            f"attention could beat an additive profile model, is worth {values['style_few']:+.4f} sampled and "
            f"{values['style_full_few']:+.4f} full-ranking NDCG@10 in few-shot (the sampled protocol shows "
            f"{pct(share(values['style_few'], values['style_full_few']))} of it). PPR(light) captures {pct(values['share_light_few'])} (few-shot) and "
            f"{pct(values['share_light_zero'])} (zero-shot) of the value of the profile beyond ft, PPR(full) "
            f"{pct(values['share_full_few'])} and {pct(values['share_full_zero'])}; {dose}. Personalized "
            f"prompts can pay off only where the profile tells what the clicks do not and the metric can see "
            f"it; here they capture {captured} of what the profile is worth.")


def dose_config(config, *, users: int, pretrain_epochs: int):
    """The book settings of the dose study's reduced worlds: ``users`` generated users (and three
    times as many held-out cold test users, which cost evaluation only) pre-trained for at most
    ``pretrain_epochs`` epochs; everything else as ``config``."""
    return dataclasses.replace(config, n_users=users, heldout_users=3 * users, pretrain_epochs=pretrain_epochs)


def dose_study(config, levels, lrs: dict[str, dict], methods=("ft", "PPR(light)", "PPR(full)"), seeds=(0,), *,
               n_samples: int = 1024, log=None) -> pd.DataFrame:
    """The dose-response study: for each signal of :data:`SIGNALS` and each level, a new world
    (:func:`dose_world` of ``config``'s generator; ``config`` as made by :func:`dose_config`) with
    its own pre-training, the methods tuned on it with the learning rates ``lrs[targets]``
    (``"few"``, ``"zero"``) for ``seeds``, evaluated on its cold test and held-out users, beside
    its ceilings. The level where both signals are 0 is one world, shared by both sweeps.
    Rows of :func:`dose_frame` for every level."""
    from pprlib.context import prepare
    from pprlib.runs import compare

    base = SyntheticConfig(n_users=config.n_users, n_items=config.n_items, seed=config.seed,
                           heldout_users=config.heldout_users)
    frames, done = [], {}
    for signal in SIGNALS:
        for level in levels:
            world = dose_world(base, signal, level)
            if world not in done:
                ctx = prepare(config, synthetic=world)
                population = "test+heldout" if len(ctx.split.heldout_users) else "test"
                ceil = ceiling_comparison(ctx.split, population, n_samples=n_samples,
                                          scorers=("Bayes (profile)", "Bayes (none)"))
                done[world] = ({targets: compare(ctx, list(methods), ctx.settings(lr=lrs[targets], test=population),
                                                 targets, list(seeds)) for targets in ("few", "zero")}, ceil)
                if log:
                    log(f"{signal} = {level:g}: pre-trained {len(ctx.pre.history)} epochs")
            results, ceil = done[world]
            frames.append(dose_frame(results, ceil, methods, signal=signal, level=level))
    return pd.concat(frames, ignore_index=True)
