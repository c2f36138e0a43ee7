"""Measure, in generated data, each effect the synthetic generator's knobs control.

Each statistic comes with a test of "no effect" (scipy.stats), so the book and the tests can
show that a knob at zero really removes its effect: the p-value is then unremarkable, and
with the knob on it is tiny.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from pprlib.data.schema import InteractionData


def _cramers_v(table: np.ndarray) -> tuple[float, float]:
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    chi2, p, _, _ = stats.chi2_contingency(table)
    n = table.sum()
    v = np.sqrt(chi2 / (n * (min(table.shape) - 1))) if min(table.shape) > 1 else 0.0
    return float(v), float(p)


def _latent(data: InteractionData) -> dict:
    latent = data.meta.get("latent")
    if latent is None:
        raise ValueError(f"{data.name}: effect statistics need the generator's ground truth (synthetic data only)")
    return latent


def _widest_field(data: InteractionData) -> int:
    return int(np.argmax(data.field_sizes))


def profile_preference(data: InteractionData) -> dict:
    """Association of a profile field with the latent group of the first click (Cramér's V)."""
    latent = _latent(data)
    j = _widest_field(data)
    first = data.items[data.offsets[:-1]]
    groups = latent["item_group"][first - 1]
    codes = latent["true_profiles"][:, j]
    table = pd.crosstab(codes, groups).to_numpy()
    v, p = _cramers_v(table)
    return {"effect": "profile -> static preference", "knob": "profile_signal",
            "statistic": "Cramér's V (first click's group vs " + data.profile_fields[j] + ")", "value": v, "p_value": p}


def _transitions(data: InteractionData) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(user, previous item, next item) of every pair of consecutive clicks."""
    same = data.users[1:] == data.users[:-1]
    return data.users[1:][same], data.items[:-1][same], data.items[1:][same]


def sequential_dependence(data: InteractionData, seed: int = 0) -> dict:
    """Share of clicks that are a successor of the previous click, against the share when the
    previous click is replaced by another click of the same user (chi-square on the 2x2)."""
    latent = _latent(data)
    succ = latent["successors"]  # (n_styles, n_items, n_successors), item codes
    users, prev, nxt = _transitions(data)
    hit = (succ[:, prev - 1, :] == nxt[None, :, None]).any(axis=(0, 2))
    # the stand-in is any other click of the same user (never the target click itself)
    rng = np.random.default_rng(seed)
    same = data.users[1:] == data.users[:-1]
    target_pos = (np.arange(1, data.n_interactions) - data.offsets[data.users[1:]])[same]
    pos = rng.integers(0, data.lengths[users] - 1)
    pos = pos + (pos >= target_pos)
    other = data.items[data.offsets[users] + pos]
    hit_shuffled = (succ[:, other - 1, :] == nxt[None, :, None]).any(axis=(0, 2))
    table = np.array([[hit.sum(), (~hit).sum()], [hit_shuffled.sum(), (~hit_shuffled).sum()]])
    _, p, _, _ = stats.chi2_contingency(table)
    return {"effect": "previous click -> next click", "knob": "sequential_strength",
            "statistic": "successor share minus shuffled share", "value": float(hit.mean() - hit_shuffled.mean()),
            "p_value": float(p)}


def profile_style(data: InteractionData) -> dict:
    """Association of a profile field with the user's transition style (the generator's ground
    truth: inferring the style from clicks is confounded by the static preference)."""
    latent = _latent(data)
    j = _widest_field(data)
    table = pd.crosstab(latent["true_profiles"][:, j], latent["style"]).to_numpy()
    v, p = _cramers_v(table)
    return {"effect": "profile -> sequential style", "knob": "profile_style_signal",
            "statistic": "Cramér's V (true style vs " + data.profile_fields[j] + ")", "value": v, "p_value": p}


def popularity_skew(data: InteractionData) -> dict:
    """Unevenness of first-click counts within each latent group (chi-square against uniform)."""
    latent = _latent(data)
    first = data.items[data.offsets[:-1]]
    groups = latent["item_group"]
    counts = np.bincount(first, minlength=data.n_items + 1)[1:]
    chi2, dof = 0.0, 0
    for g in np.unique(groups):
        c = counts[groups == g]
        if c.sum() == 0 or len(c) < 2:
            continue
        expected = c.sum() / len(c)
        chi2 += float(((c - expected) ** 2 / expected).sum())
        dof += len(c) - 1
    sorted_counts = np.sort(np.bincount(data.items, minlength=data.n_items + 1)[1:])
    cum = np.cumsum(sorted_counts)
    gini = float(1 - 2 * (cum / cum[-1]).sum() / len(cum) + 1 / len(cum))
    return {"effect": "item popularity skew", "knob": "popularity_skew",
            "statistic": "Gini of item clicks (test: first clicks uniform within groups)",
            "value": gini, "p_value": float(stats.chi2.sf(chi2, dof))}


def effect_table(data: InteractionData) -> pd.DataFrame:
    """One row per effect: what is measured, its value and the p-value of 'no effect'."""
    rows = [profile_preference(data), sequential_dependence(data), profile_style(data), popularity_skew(data)]
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------------
# the same questions on any data, from the clicks alone


def _top10_hits(train: pd.DataFrame, test: pd.DataFrame, keys: list[str], backoff: list[str] | None = None) -> float:
    """HIT@10 on the rows of ``test`` of the ten items clicked most often in ``train`` per value
    of ``keys``; ties and groups with fewer than ten items (or unseen in ``train``) are filled
    from the counts per value of ``backoff`` (a subset of ``keys``), so a finer predictor is
    never worse just for having fewer counts."""
    counts = train.groupby([*keys, "item"]).size().rename("n").reset_index()
    order = [*keys, "n", "nb", "item"]
    if backoff is None:
        counts["nb"] = 0
    else:
        coarse = train.groupby([*backoff, "item"]).size().rename("nb").reset_index()
        coarse_top = coarse.sort_values([*backoff, "nb", "item"], ascending=[True] * len(backoff) + [False, True])
        coarse_top = coarse_top.groupby(backoff).head(10)
        groups = pd.concat([counts[keys], test[keys]]).drop_duplicates()
        fill = groups.merge(coarse_top, on=backoff).assign(n=0)
        counts = pd.concat([counts.merge(coarse, on=[*backoff, "item"], how="left"), fill])
        counts = counts.sort_values("n", ascending=False).drop_duplicates([*keys, "item"])
    top = counts.sort_values(order, ascending=[True] * len(keys) + [False, False, True])
    top = top.groupby(keys).head(10)[[*keys, "item"]].assign(hit=True)
    merged = test[[*keys, "item"]].merge(top, on=[*keys, "item"], how="left")
    return float(merged.hit.notna().mean())


def observable_effects(data: InteractionData, field: str | None = None, test_share: float = 0.2,
                       seed: int = 0) -> pd.DataFrame:
    """What the profile and the previous click tell about the next click, measured on any data.

    Users are split at random (a share ``test_share`` held out); on the held-out users' clicks,
    HIT@10 of simple count-based predictors built on the other users:

    * **popularity**: the ten most clicked items;
    * **profile -> what users like**: the ten most clicked items among users with the same value
      of ``field`` (default: the field with the most values; named in ``frame.attrs["field"]``),
      against popularity;
    * **previous click -> next click**: the ten items most often clicked right after the
      previous item, against popularity;

    Finer predictors fall back on their reference's counts where theirs run out. Whether the
    profile changes *how* users move is not measured: transition counts split by profile value
    are too sparse to show it even where the generator put it in (the synthetic data's
    :func:`profile_style` reads it from the ground truth instead).

    A lift near zero means the predictor adds nothing that its reference does not already know.
    """
    j = int(np.argmax(data.field_sizes)) if field is None else data.profile_fields.index(field)
    field = data.profile_fields[j]
    rng = np.random.default_rng(seed)
    held_out = rng.random(data.n_users) < test_share
    prev = np.concatenate([[0], data.items[:-1]])
    first = np.zeros(data.n_interactions, dtype=bool)
    first[data.offsets[:-1][data.lengths > 0]] = True
    frame = pd.DataFrame({"user": data.users, "item": data.items, "prev": np.where(first, 0, prev),
                          "value": data.profiles[data.users, j], "all": 0})
    train, test = frame[~held_out[frame.user]], frame[held_out[frame.user]]
    later = test[test.prev > 0]
    pop_all, pop_later = _top10_hits(train, test, ["all"]), _top10_hits(train, later, ["all"])
    by_value = _top10_hits(train, test, ["all", "value"], backoff=["all"])
    markov = _top10_hits(train[train.prev > 0], later, ["all", "prev"], backoff=["all"])
    rows = [
        ("popularity", "every click", pop_all, np.nan),
        ("profile -> what users like", "every click", by_value, by_value - pop_all),
        ("previous click -> next click", "clicks after the first", markov, markov - pop_later),
    ]
    frame = pd.DataFrame(rows, columns=["predictor", "on", "HIT@10", "lift over its reference"])
    frame.attrs["field"] = field
    return frame
