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
