"""Timestamp ties in real data: how often ratings share a timestamp, and how the main
comparisons move when the tied ratings are ordered another way.

Many MovieLens ratings share their (user, timestamp): which of a user's tied ratings counts as
the first, or as the next, is then an arbitrary choice of the reader
(:data:`~pprlib.data.schema.TIES`: the order of the file, of the item ids, or a seeded random
order). :func:`tie_statistics` measures what is at stake; :func:`tie_order_comparison` runs the
main comparisons (few- and zero-shot PPR(light) and PPR(full) against ft) under each order and
:func:`tie_order_conclusion` says in words what changed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pprlib import evidence, paper
from pprlib.comparison import Comparison
from pprlib.data.schema import TIES, InteractionData

COMPARISONS = {"few": (("PPR(light)", "few_light"), ("PPR(full)", "few_full")),
               "zero": (("PPR(light)", "zero_light"), ("PPR(full)", "zero_full"))}
"""The main comparisons, against ft, by targets: (method, the paper's effect in :data:`pprlib.paper.EFFECTS`)."""


def order_label(ties: str, seed: int = 0) -> str:
    """How a tie order is named in tables: ``file``, ``item id``, ``random (seed 0)``."""
    return {"file": "file", "item": "item id", "random": f"random (seed {seed})"}[ties]


def tie_statistics(data: InteractionData, k: int = 10) -> dict:
    """What the tie order decides in ``data``: the share of interactions that share their
    (user, timestamp) with another (``tied``), the share of users whose first timestamp holds
    more than one interaction (``first_tied``: their first click is the tie order's choice),
    and the share of users whose first click is one of the ``k`` most common first clicks
    (``top_first``; it depends on the order)."""
    if data.n_interactions == 0:
        raise ValueError(f"{data.name}: no interactions, no ties to count")
    users, times, items = data.users, data.timestamps, data.items
    _, inverse, counts = np.unique(np.stack([users, times]), axis=1, return_inverse=True, return_counts=True)
    tied = counts[inverse.reshape(-1)] > 1
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])  # sorted by (user, time, tie order)
    first_items = items[starts]
    common = np.bincount(first_items, minlength=data.n_items + 1)
    top = np.argsort(-common, kind="stable")[:k]
    return {"tied": float(tied.mean()), "first_tied": float(tied[starts].mean()),
            "top_first": float(np.isin(first_items, top).mean()), "users": int(len(starts)), "k": k}


def tie_order_comparison(contexts: dict, lrs: dict[str, dict], base: dict[str, Comparison] | None = None,
                         seeds=None) -> tuple[pd.DataFrame, dict]:
    """The main comparisons under each tie order. ``contexts`` maps a tie order
    (:data:`~pprlib.data.schema.TIES`) to its :class:`~pprlib.context.Context`; ``lrs`` maps
    ``"few"``/``"zero"`` to the learning rates every order uses (chosen once, on the first
    order's validation users: the orders then differ in their data only); ``base`` maps
    ``"few"``/``"zero"`` to comparisons already run for the first order (reused, not rerun).

    Returns a frame, one row per (order, targets, method), with ft's NDCG@10, the effect over
    ft with its 95 % interval over seeds and instances, MDE, p, the paper's effect in our units
    and the verdict against it; and the effects by (order, targets, method)."""
    from pprlib.comparisons import compare

    base = base or {}
    rows, effects = [], {}
    for i, (ties, ctx) in enumerate(contexts.items()):
        for targets, pairs in COMPARISONS.items():
            methods = ["ft", *(name for name, _ in pairs)]
            result = base.get(targets) if i == 0 else None
            if result is None:
                result = compare(ctx, methods, ctx.settings(lr=lrs[targets]), targets,
                                 list(ctx.config.seeds) if seeds is None else list(seeds))
            for name, key in pairs:
                e = result.effect(name, "ft")
                delta = paper.EFFECTS[key].delta(e.reference_mean)
                effects[(ties, targets, name)] = e
                rows.append({"order": order_label(ties, ctx.config.seed), "targets": f"{targets}-shot",
                             "comparison": f"{name} vs ft", "ft NDCG@10": e.reference_mean, "effect": e.estimate,
                             "lo": e.lo, "hi": e.hi, "MDE": e.mde, "p": e.p, "paper δ": delta,
                             "verdict": evidence.verdict(e.lo, e.hi, delta)})
    return pd.DataFrame(rows), effects


def tie_order_conclusion(table: pd.DataFrame, stats: dict[str, dict], used: str = "file") -> str:
    """Plain words for :func:`tie_order_comparison`'s ``table`` and the :func:`tie_statistics`
    of each order (``stats``, by tie order): what the order decides, whether the verdicts
    change, and why the book uses the order ``used``."""
    if set(stats) != set(TIES) or used not in TIES:
        raise ValueError(f"stats must hold every tie order {TIES} (got {sorted(stats)}), used one of them")
    s = stats[used]
    share = {t: stats[t]["top_first"] for t in TIES}
    text = (f"{s['tied']:.0%} of the ratings share their (user, timestamp) with another, and for "
            f"{s['first_tied']:.0%} of the users the first rating is one of several in the same second: the tie "
            f"order picks it. The {s['k']} most common first movies take {share['file']:.1%} of the first ratings "
            f"in file order, {share['item']:.1%} in item-id order and {share['random']:.1%} in a seeded random "
            "order. ")
    verdicts = table.pivot_table(index=["targets", "comparison"], columns="order", values="verdict", aggfunc="first")
    changed = [f"{c}, {t}" for (t, c), row in verdicts.iterrows() if row.nunique() > 1]
    text += (f"The verdicts of the {len(verdicts)} main comparisons are the same under the three orders"
             if not changed else f"The verdict changes with the order for {', '.join(changed)}")
    spread = table.groupby(["targets", "comparison"])["effect"].agg(lambda x: x.max() - x.min()).max()
    text += f" (the effects move by at most {spread:.4f} NDCG@10 between orders). "
    far = {t: abs(share[t] - share["random"]) for t in ("file", "item")}
    if used != "file":
        return text + f"The book uses the {order_label(used)} order."
    text += ("The book keeps the file order, the readers' default and deterministic for a given file: ")
    if far["file"] < far["item"]:
        text += (f"it concentrates the first ratings about as a random order does ({100 * far['file']:.1f} points "
                 f"apart, against {100 * far['item']:.1f} for item-id order, which always puts the lowest id of a "
                 "tie first).")
    elif far["file"] == far["item"]:
        text += ("here it concentrates the first ratings as item-id order does, both "
                 f"{100 * far['file']:.1f} points from a random order.")
    else:
        text += (f"here item-id order is closer to a random order ({100 * far['item']:.1f} points apart, against "
                 f"{100 * far['file']:.1f}), "
                 "so the file's order carries some structure of its own; it is kept so that every chapter reads "
                 "the same sequences.")
    return text
