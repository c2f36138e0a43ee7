"""Losses: BPR and softmax cross-entropy for recommendation, in-batch InfoNCE for PPR's
contrastive views, NT-Xent for CL4SRec's."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def bpr(pos: torch.Tensor, neg: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Bayesian personalized ranking: mean of ``-log sigmoid(pos - neg)`` (0 for no pairs, e.g.
    a batch of one-click windows without few-shot targets, instead of the NaN of an empty mean).

    ``weight`` (bool or 0/1, the shape of ``pos``): the pairs that count; the others are padding
    (runs trained together, :mod:`pprlib.batched`). Without it every pair counts."""
    terms = F.logsigmoid(pos - neg)
    if weight is None:
        return -terms.sum() / max(pos.numel(), 1)
    weight = weight.to(terms.dtype)
    return -(terms * weight).sum() / weight.sum().clamp(min=1)


def info_nce(anchor: torch.Tensor, positive: torch.Tensor, temperature: float = 1.0,
             groups: torch.Tensor | None = None, valid: torch.Tensor | None = None) -> torch.Tensor:
    """In-batch InfoNCE with cosine similarity: row ``i`` of ``anchor`` should match row ``i`` of
    ``positive`` against the other rows of ``positive``.

    ``groups`` (N,) marks rows that belong to the same user: such pairs are removed from the
    denominator (other instances of the same user are not negatives), the positive pair kept.

    ``valid`` (N,) bool: the rows that exist; the others are padding (runs trained together,
    :mod:`pprlib.batched`), neither an anchor nor a negative, and the loss is 0 when no row is
    valid. Without it every row is valid (and an empty batch is an error of the caller).
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    a = F.normalize(anchor.float(), dim=-1)
    p = F.normalize(positive.float(), dim=-1)
    logits = a @ p.T / temperature
    n = len(a)
    drop = None
    if groups is not None:
        drop = (groups[:, None] == groups[None, :]) & ~torch.eye(n, dtype=torch.bool, device=a.device)
    target = torch.arange(n, device=a.device)
    if valid is None:
        return F.cross_entropy(logits if drop is None else logits.masked_fill(drop, float("-inf")), target)
    drop = ~valid[None, :] if drop is None else drop | ~valid[None, :]
    logits = logits.masked_fill(drop, float("-inf"))
    logits = torch.where(valid[:, None], logits, torch.zeros_like(logits))  # padded rows: finite, unused
    per = F.cross_entropy(logits, target, reduction="none")
    w = valid.to(per.dtype)
    return (per * w).sum() / w.sum().clamp(min=1)


def nt_xent(view1: torch.Tensor, view2: torch.Tensor, temperature: float = 1.0,
            groups: torch.Tensor | None = None) -> torch.Tensor:
    """NT-Xent (SimCLR, CL4SRec's loss): the 2N views of N sequences, each view an anchor whose
    positive is the other view of its sequence and whose negatives are the other 2N - 2 views;
    cosine similarity over ``temperature``, averaged over the 2N anchors (symmetric).

    ``groups`` (N,) marks sequences of the same user: their views leave each other's
    denominators, as in :func:`info_nce`.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    n = len(view1)
    z = F.normalize(torch.cat([view1, view2]).float(), dim=-1)
    logits = z @ z.T / temperature
    drop = torch.eye(2 * n, dtype=torch.bool, device=z.device)  # a view is not its own negative
    if groups is not None:
        g = torch.cat([groups, groups])
        drop = drop | (g[:, None] == g[None, :])
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(z.device)
    drop[torch.arange(2 * n, device=z.device), target] = False  # the positive pair stays
    return F.cross_entropy(logits.masked_fill(drop, float("-inf")), target)


class _ChunkedSoftmaxCE(torch.autograd.Function):
    """Mean softmax cross-entropy of ``u @ W.T`` against ``target``, computed in row chunks.

    The (N, n_items) logits are never held in full: each chunk's logits, softmax and gradients
    are made and used while they sit in the CPU cache, and the gradients are computed in the
    forward pass (they are cheap there and the backward pass only scales them). Same value and
    gradients as ``F.cross_entropy(u @ W.T, target)`` up to float rounding; on a CPU 2-3x faster.
    """

    @staticmethod
    def forward(ctx, u, weight, target, chunk):
        n = u.shape[0]
        total = u.new_zeros(())
        grad_u = torch.empty_like(u) if ctx.needs_input_grad[0] else None
        grad_w = torch.zeros_like(weight) if ctx.needs_input_grad[1] else None
        for start in range(0, n, chunk):
            uc, tc = u[start : start + chunk], target[start : start + chunk]
            logits = uc @ weight.T
            lse = torch.logsumexp(logits, dim=-1)
            total += (lse - logits.gather(1, tc[:, None]).squeeze(1)).sum()
            if grad_u is None and grad_w is None:
                continue
            probs = logits.sub_(lse[:, None]).exp_()
            probs[torch.arange(len(tc), device=tc.device), tc] -= 1.0  # d loss / d logits (times n)
            if grad_u is not None:
                grad_u[start : start + chunk] = probs @ weight
            if grad_w is not None:
                grad_w.addmm_(probs.T, uc)
        ctx.save_for_backward(*(g for g in (grad_u, grad_w) if g is not None))
        ctx.has = (grad_u is not None, grad_w is not None)
        ctx.n = n
        return total / n

    @staticmethod
    def backward(ctx, grad):
        saved = list(ctx.saved_tensors)
        scale = grad / ctx.n
        grad_u = saved.pop(0) * scale if ctx.has[0] else None
        grad_w = saved.pop(0) * scale if ctx.has[1] else None
        return grad_u, grad_w, None, None


def softmax_cross_entropy(u: torch.Tensor, weight: torch.Tensor, target: torch.Tensor,
                          chunk: int = 256) -> torch.Tensor:
    """Mean cross-entropy of the softmax over every item: scores ``u @ weight.T`` (N, n_items),
    ``target`` in ``0..n_items-1``. On a CPU the logits are processed in chunks of ``chunk``
    rows (see :class:`_ChunkedSoftmaxCE`); elsewhere the plain formula (in float32)."""
    if len(u) == 0:
        return u.sum() * 0.0 + weight.sum() * 0.0
    if u.device.type == "cpu" and u.dtype == torch.float32 and weight.dtype == torch.float32:
        return _ChunkedSoftmaxCE.apply(u, weight, target, chunk)
    return F.cross_entropy((u @ weight.T).float(), target)
