"""User-profile prediction (the paper's Table 8): how much of a held-out profile field can be
read from the user representation.

One binary field is hidden from the models: every user's value of it is set to *missing*
before tuning, so the prompt (PPR) and the profile model u_a are built from the other fields
only. ft and PPR(light) are tuned on the cold tuning users as in the few-shot chapter; each
cold user is then represented by u_p after their clicks, and a logistic regression (scikit-
learn, standardized inputs, L2 strength chosen on the validation users) is trained on the
tuning users' representations to predict the hidden field and tested on the test users.

Baselines: the majority class, a classifier on the *other* profile fields alone (what the
profile already says), and the pre-trained SASRec's sequence representation (no tuning, no
profile). The positive class is the rarer value among the tuning users (F1 is about it).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from pprlib import evidence
from pprlib.context import Context
from pprlib.data.protocol import ColdStartSplit
from pprlib.evaluation import user_vectors
from pprlib.runs import tuned_model

PREDICTORS = ("majority class", "other fields", "pre-train", "ft", "PPR(light)")
"""The rows of the profile-prediction table."""

C_GRID = (0.01, 0.1, 1.0, 10.0)
"""Inverse L2 strengths tried for the logistic regression (chosen on the validation users)."""


def binary_fields(split: ColdStartSplit) -> list[str]:
    """Profile fields with exactly two values (besides *missing*)."""
    data = split.data
    return [f for f in data.profile_fields if len(data.vocab[f]) == 3]


def hide_field(split: ColdStartSplit, field: str) -> ColdStartSplit:
    """The same split whose data has ``field`` set to missing for every user."""
    data = split.data
    if field not in data.profile_fields:
        raise ValueError(f"unknown profile field {field!r}; the data has {data.profile_fields}")
    profiles = data.profiles.copy()
    profiles[:, data.profile_fields.index(field)] = 0
    return dataclasses.replace(split, data=dataclasses.replace(data, profiles=profiles))


@dataclasses.dataclass(frozen=True)
class Labels:
    """The hidden field's values of the cold users who have one: 1 = the positive (rarer) value."""

    field: str
    positive: str
    users: dict  # "tune" / "val" / "test" -> user indices with a known value
    y: dict  # same keys -> 0/1 labels


def labels(split: ColdStartSplit, field: str) -> Labels:
    """Labels of the tuning, validation and test users; users with a missing value are left out."""
    data = split.data
    if field not in binary_fields(split):
        raise ValueError(f"profile field {field!r} is not binary; binary fields: {binary_fields(split)}")
    codes = data.profiles[:, data.profile_fields.index(field)]
    tune = split.tune_users[codes[split.tune_users] > 0]
    positive = 1 if (codes[tune] == 1).mean() <= 0.5 else 2
    users, y = {}, {}
    for name, group in (("tune", split.tune_users), ("val", split.val_users), ("test", split.test_users)):
        known = group[codes[group] > 0]
        users[name], y[name] = known, (codes[known] == positive).astype(int)
        if len(set(y[name])) < 2:
            raise ValueError(f"the {name} users hold only one value of {field!r}: nothing to classify")
    return Labels(field, data.vocab[field][positive], users, y)


def classification_metrics(y: np.ndarray, prob: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """ACC, precision, recall and F1 of the positive class at ``threshold``, and AUC."""
    pred = (prob >= threshold).astype(int)
    return {"ACC": accuracy_score(y, pred), "precision": precision_score(y, pred, zero_division=0),
            "recall": recall_score(y, pred, zero_division=0), "F1": f1_score(y, pred, zero_division=0),
            "AUC": roc_auc_score(y, prob)}


def fit_predict(x: dict, y: dict, c_grid=C_GRID) -> tuple[np.ndarray, float]:
    """Logistic regression on ``x["tune"]``, its L2 strength chosen by validation AUC; returns the
    test users' probabilities of the positive class and the chosen C."""
    best = (-np.inf, None)
    for c in c_grid:
        model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000))
        model.fit(x["tune"], y["tune"])
        auc = roc_auc_score(y["val"], model.predict_proba(x["val"])[:, 1])
        if auc > best[0]:
            best = (auc, c)
    model = make_pipeline(StandardScaler(), LogisticRegression(C=best[1], max_iter=2000))
    model.fit(x["tune"], y["tune"])
    return model.predict_proba(x["test"])[:, 1], best[1]


def _features(split: ColdStartSplit, lab: Labels, method: str, ctx: Context, lrs: dict, seed: int) -> dict:
    data = split.data
    if method == "other fields":
        others = [j for j, f in enumerate(data.profile_fields) if f != lab.field]
        enc = OneHotEncoder(handle_unknown="ignore").fit(data.profiles[lab.users["tune"]][:, others])
        return {k: enc.transform(data.profiles[u][:, others]).toarray() for k, u in lab.users.items()}
    model = tuned_model(dataclasses.replace(ctx, split=split), method, ctx.settings(lr=lrs), "few", seed)
    return {k: user_vectors(model, data, u) for k, u in lab.users.items()}


def predict_profile(ctx: Context, field: str, lrs: dict, seeds, methods=PREDICTORS) -> dict:
    """Every method's test probabilities per seed (seedless baselines once).

    Returns ``{"labels": Labels, "probs": {(method, seed): array}, "C": {(method, seed): C}}``.
    """
    split = hide_field(ctx.split, field)
    lab = labels(ctx.split, field)  # the true values, from the unhidden data
    probs, chosen = {}, {}
    for method in methods:
        for seed in seeds:
            if method == "majority class":
                probs[(method, seed)] = np.full(len(lab.users["test"]), float(lab.y["tune"].mean()))
                chosen[(method, seed)] = np.nan
            elif method in ("other fields", "pre-train") and seed != seeds[0]:
                probs[(method, seed)], chosen[(method, seed)] = probs[(method, seeds[0])], chosen[(method, seeds[0])]
            else:
                x = _features(split, lab, method, ctx, lrs, seed)
                probs[(method, seed)], chosen[(method, seed)] = fit_predict(x, lab.y)
    return {"labels": lab, "probs": probs, "C": chosen}


def metrics_frame(result: dict) -> pd.DataFrame:
    """Tidy: one row per method x seed x metric."""
    y = result["labels"].y["test"]
    return pd.DataFrame([{"method": m, "seed": s, "metric": k, "value": float(v)}
                         for (m, s), prob in result["probs"].items()
                         for k, v in classification_metrics(y, prob).items()])


def summary_table(tidy: pd.DataFrame, metrics=("ACC", "precision", "recall", "F1", "AUC")) -> pd.DataFrame:
    """mean ± sd over seeds of each metric, one row per method."""
    stats_ = tidy.groupby(["method", "metric"], sort=False).value.agg(["mean", "std"])
    table = {m: {k: f"{stats_.loc[(m, k), 'mean']:.3f} ± {np.nan_to_num(stats_.loc[(m, k), 'std']):.3f}"
                 for k in metrics} for m in dict.fromkeys(tidy.method)}
    return pd.DataFrame(table).T


def _f1(y: np.ndarray, pred: np.ndarray, axis=-1) -> np.ndarray:
    tp = ((pred == 1) & (y == 1)).sum(axis)
    wrong = (pred != y).sum(axis)
    return np.where(2 * tp + wrong > 0, 2 * tp / np.maximum(2 * tp + wrong, 1), 0.0)


def f1_contributions(y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Each test user's contribution to F1 (of the positive class), linearized: F1 is a ratio of
    sums, 2·TP / (2·TP + FP + FN) = Σa / Σb with a_i = 2·y_i·p_i and b_i = y_i + p_i, and user i
    contributes F1 + (a_i − F1·b_i) / mean(b) (its influence, the delta method). The mean of the
    contributions is F1 exactly, so a difference of F1 between two methods is the mean of the
    users' paired differences, and its interval can cover test users as a mean's does."""
    y, pred = np.asarray(y, dtype=float), np.asarray(pred, dtype=float)
    a, b = 2 * y * pred, y + pred
    if b.sum() == 0:  # no positive and none predicted: F1 is 0 by convention (_f1)
        return np.zeros_like(y)
    f1 = a.sum() / b.sum()
    return f1 + (a - f1 * b) / b.mean()


def f1_effect(result: dict, a: str, b: str) -> evidence.Effect:
    """F1 of ``a`` minus F1 of ``b`` on the test users, paired by seed (seeds both ran) and by
    user, as an :class:`~pprlib.evidence.Effect` relative to ``b``'s mean F1: the users' paired
    differences of :func:`f1_contributions`, so the interval covers seeds and test users."""
    y = result["labels"].y["test"]
    seeds = sorted({s for (m, s) in result["probs"] if m == a} & {s for (m, s) in result["probs"] if m == b})
    per_user = {m: np.array([f1_contributions(y, (result["probs"][(m, s)] >= 0.5).astype(int)) for s in seeds],
                            dtype=float).reshape(len(seeds), len(y)) for m in (a, b)}
    reference = float(per_user[b].mean()) if seeds else np.nan
    return evidence.effect_of_differences(per_user[a] - per_user[b], reference)


