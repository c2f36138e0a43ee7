"""Evaluate any scorer on a set of instances: sampled (fixed candidates) and full ranking.

A *scorer* is a function ``batch -> scores`` of shape ``(B, n_items + 1)`` over every item
(column 0, the padding item, is ignored). Models expose ``full_sort_predict`` with this
signature; baselines (most popular, ...) are plain scorers too, so every method is measured
by the same code.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import torch

from pprlib import metrics
from pprlib.data.batching import InstanceDataset, gather_windows
from pprlib.data.protocol import ColdStartSplit, Instances

Scorer = Callable[[dict], torch.Tensor]


EXCLUDE = ("history", "window")
"""What full ranking removes from a user's competitors: ``"history"``, every item the user
clicked before the target (the field's definition, as in RecBole), or ``"window"``, only the
items in the model's input window (at most ``max_history`` clicks; the book's former rule)."""


def history_mask(data, users: np.ndarray, positions: np.ndarray) -> torch.Tensor:
    """Bool mask ``(n, n_items + 1)``: True where user ``users[r]`` clicked the item before
    position ``positions[r]`` of their sequence (the whole earlier history, however long)."""
    users, positions = np.asarray(users, dtype=np.int64), np.asarray(positions, dtype=np.int64)
    rows = np.repeat(np.arange(len(users)), positions)
    starts = np.repeat(data.offsets[users] - (np.cumsum(positions) - positions), positions)
    cols = data.items[starts + np.arange(positions.sum())]
    mask = torch.zeros(len(users), data.n_items + 1, dtype=torch.bool)
    mask[torch.from_numpy(rows), torch.from_numpy(cols)] = True
    mask[:, 0] = False
    return mask


@torch.no_grad()
def evaluate(scorer: Scorer, split: ColdStartSplit, inst: Instances, *, ks=metrics.DEFAULT_KS,
             full_ranking: bool = True, batch_size: int = 512, profiles: np.ndarray | None = None,
             device: str | torch.device = "cpu", exclude: str = "history") -> dict[str, np.ndarray]:
    """Per-instance metrics: ``AUC``, ``HIT@k``, ``NDCG@k`` on the fixed candidates, and the same
    names prefixed ``full/`` on full ranking, where the items the user clicked before the target
    are excluded (all of them, or only those in the input window: ``exclude``, see
    :data:`EXCLUDE`); the target never is."""
    if inst.candidates is None:
        raise ValueError("these instances have no fixed candidates (only val/test/warm sets do)")
    if exclude not in EXCLUDE:
        raise ValueError(f"exclude must be one of {EXCLUDE}, got {exclude!r}")
    dataset = InstanceDataset(split.data, inst, split.config.max_history, profiles=profiles)
    # batches of similar history length pad less (up to 2x faster); results go back in order
    order = torch.argsort(dataset.tensors["lengths"], stable=True)
    out: dict[str, list] = {}
    for index in torch.split(order, batch_size):
        batch = {k: v.to(device) for k, v in dataset.__getitems__(index).items()}
        scores = scorer(batch).float()
        per = metrics.sampled_metrics(torch.gather(scores, 1, batch["candidates"]), ks=ks)
        if full_ranking:
            if exclude == "history":
                idx = index.numpy()
                mask = history_mask(split.data, inst.users[idx], inst.positions[idx]).to(device)
            else:
                mask = metrics.exclusion_mask(batch["history"], split.data.n_items)
            full = metrics.full_ranking_metrics(scores, batch["target"], exclude=mask, ks=ks)
            per.update({f"full/{k}": v for k, v in full.items()})
        for k, v in per.items():
            out.setdefault(k, []).append(v.cpu())
    inverse = torch.empty_like(order)
    inverse[order] = torch.arange(len(order))
    return {k: torch.cat(v)[inverse].numpy() for k, v in out.items()}


@torch.no_grad()
def user_vectors(model, data, users: np.ndarray, profiles: np.ndarray | None = None,
                 batch_size: int = 1024) -> np.ndarray:
    """The model's user representation u_p after each user's whole sequence (its most recent
    ``max_len`` clicks), with the user's profile (``profiles`` rows, else the data's): what the
    cross-domain study uses as the source "profile" and profile prediction classifies."""
    users = np.asarray(users, dtype=np.int64)
    source = data.profiles if profiles is None else profiles
    lengths = np.minimum(data.lengths[users], model.backbone_cfg.max_len)
    starts = data.lengths[users] - lengths
    device = next(model.parameters()).device
    model.eval()
    out = []
    for i in range(0, len(users), batch_size):
        sl = slice(i, i + batch_size)
        batch = {"history": torch.from_numpy(gather_windows(data, users[sl], starts[sl], lengths[sl],
                                                            max(1, int(lengths[sl].max(initial=0))))),
                 "lengths": torch.from_numpy(lengths[sl]),
                 "profile": torch.from_numpy(np.ascontiguousarray(source[users[sl]]))}
        out.append(model.user_representation({k: v.to(device) for k, v in batch.items()}).float().cpu())
    return torch.cat(out).numpy() if out else np.zeros((0, model.backbone_cfg.d), dtype=np.float32)


def summary_frame(results: dict[str, dict[str, np.ndarray]]) -> pd.DataFrame:
    """Mean of every metric, one row per method (``results``: method -> per-instance metrics)."""
    return pd.DataFrame({name: {k: float(v.mean()) for k, v in per.items()} for name, per in results.items()}).T


def most_popular(split: ColdStartSplit, source: str = "warm") -> Scorer:
    """Score items by click counts: among warm users' training clicks (``"warm"``), or among
    the first clicks of the cold tuning users (``"cold_first"``), the zero-shot baseline."""
    data = split.data
    if source == "warm":
        users, lengths = split.pretrain_sequences()
        position = np.arange(data.n_interactions) - data.offsets[data.users]
        in_train = np.zeros(data.n_users, dtype=bool)
        in_train[users] = True
        limit = np.zeros(data.n_users, dtype=np.int64)
        limit[users] = lengths
        clicked = data.items[in_train[data.users] & (position < limit[data.users])]
    elif source == "cold_first":
        clicked = data.items[data.offsets[split.tune_users]]
    else:
        raise ValueError(f"source must be 'warm' or 'cold_first', got {source!r}")
    counts = torch.from_numpy(np.bincount(clicked, minlength=data.n_items + 1).astype(np.float32))
    # a tiny index-based tie-break keeps the ranking of unclicked items deterministic
    counts = counts + torch.linspace(0, 1e-3, data.n_items + 1)

    def scorer(batch: dict) -> torch.Tensor:
        return counts.to(batch["target"].device).expand(len(batch["target"]), -1)

    return scorer
