"""Losses: BPR for recommendation, in-batch InfoNCE for the contrastive views."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def bpr(pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
    """Bayesian personalized ranking: mean of ``-log sigmoid(pos - neg)`` (0 for no pairs, e.g.
    a batch of one-click windows without few-shot targets, instead of the NaN of an empty mean)."""
    return -F.logsigmoid(pos - neg).sum() / max(pos.numel(), 1)


def info_nce(anchor: torch.Tensor, positive: torch.Tensor, temperature: float = 1.0,
             groups: torch.Tensor | None = None) -> torch.Tensor:
    """In-batch InfoNCE with cosine similarity: row ``i`` of ``anchor`` should match row ``i`` of
    ``positive`` against the other rows of ``positive``.

    ``groups`` (N,) marks rows that belong to the same user: such pairs are removed from the
    denominator (other instances of the same user are not negatives), the positive pair kept.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    a = F.normalize(anchor.float(), dim=-1)
    p = F.normalize(positive.float(), dim=-1)
    logits = a @ p.T / temperature
    if groups is not None:
        same = groups[:, None] == groups[None, :]
        same.fill_diagonal_(False)
        logits = logits.masked_fill(same, float("-inf"))
    target = torch.arange(len(a), device=a.device)
    return F.cross_entropy(logits, target)
