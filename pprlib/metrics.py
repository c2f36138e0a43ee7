"""Ranking metrics for next-item recommendation (AUC, HIT@N, NDCG@N).

Everything here is plain torch tensor ops, vectorized over the batch, so the same code runs
on CPU or CUDA tensors; numpy arrays are accepted too (they go through ``torch.as_tensor``).
Per-instance values come back as float32 tensors on the scores' device; ``summarize`` turns
them into plain Python floats (means).

Definitions (the book's reference)
----------------------------------

**Sampled evaluation.** ``scores`` has shape ``(n, C)``. Column 0 is the positive (the held-out
next item) and columns ``1..C-1`` are sampled negatives; the paper uses ``C = 100``: the positive
plus 99 sampled items the user never clicked. The rank of the positive is 0-based:

    r = number of negatives whose score is >= the positive's score.

*Tie rule:* a tie counts AGAINST the positive. A tie must never favour the positive, so a
model that gives every item the same score gets the worst rank (``r = C - 1``), not the best.

With one relevant item the ideal DCG is 1, so

    HIT@N  = 1 if r < N else 0
    NDCG@N = 1 / log2(r + 2) if r < N else 0
    AUC    = (C - 1 - r) / (C - 1)

which is the paper's ``(100 - rank) / 99`` with a 1-based rank when ``C = 100``.

**Full ranking.** ``scores`` has shape ``(n, n_items + 1)`` over all items; column 0 is the
padding item and is always excluded. ``targets`` ``(n,)`` holds item ids in ``1..n_items``.
An optional boolean ``exclude`` mask ``(n, n_items + 1)`` removes items from the ranking
(typically the items already in the user's history, see ``exclusion_mask``); the target itself
is never excluded, even if the mask says so. The competitors of a row are its items that are
not padding, not excluded and not the target; with ``M`` of them,

    r   = number of competitors with score >= the target's score   (same tie rule)
    AUC = (M - r) / M

and HIT@N / NDCG@N as above.

**Non-finite scores.** NaN or +-inf scores raise ``ValueError`` (the message says how many rows
are affected). In full ranking only the entries that take part are checked (the target and its
competitors), so a model may put ``-inf`` on the padding column or on excluded items.

Comparisons happen in the scores' own dtype: two float16 scores that round to the same value are
a tie, and the tie rule above applies.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Mapping
from typing import Any

import torch

__all__ = [
    "DEFAULT_KS",
    "METRIC_NAMES",
    "metric_names",
    "rank_of_positive",
    "rank_full",
    "metrics_from_ranks",
    "sampled_metrics",
    "full_ranking_metrics",
    "summarize",
    "exclusion_mask",
]

#: Cut-offs reported by default (the paper reports HIT/NDCG at these N).
DEFAULT_KS: tuple[int, ...] = (5, 10, 20, 50)


# --------------------------------------------------------------------------------------------
# argument checks
# --------------------------------------------------------------------------------------------


def _check_ks(ks: int | Iterable[int]) -> tuple[int, ...]:
    """Return ``ks`` as a tuple of distinct positive ints (order kept); a lone int is allowed."""
    if isinstance(ks, (str, bytes)):
        raise ValueError(f"ks must be positive ints, got {ks!r}")
    items = [ks] if not isinstance(ks, Iterable) else list(ks)
    out: list[int] = []
    for k in items:
        # bool is an int subclass; "ks=(True,)" is surely a mistake, not k = 1.
        if isinstance(k, bool):
            raise ValueError(f"ks must be positive ints, got {k!r}")
        try:
            k_int = operator.index(k)
        except TypeError:
            raise ValueError(f"ks must be positive ints, got {k!r} ({type(k).__name__})") from None
        if k_int < 1:
            raise ValueError(f"ks must be positive ints, got {k_int}")
        if k_int not in out:  # duplicates would only collide as dict keys
            out.append(k_int)
    return tuple(out)


def _as_scores(scores: Any, what: str = "(n, C)") -> torch.Tensor:
    """Tensor view of ``scores``: 2-D, real-valued, at least 2 columns."""
    scores = torch.as_tensor(scores)
    if scores.dtype == torch.bool or scores.is_complex():
        raise ValueError(f"scores must be real-valued, got dtype {scores.dtype}")
    if scores.dim() != 2:
        raise ValueError(f"scores must be 2-D with shape {what}, got shape {tuple(scores.shape)}")
    if scores.shape[1] < 2:
        raise ValueError(
            f"scores must have at least 2 columns (shape {what}), got shape {tuple(scores.shape)}"
        )
    return scores


def _check_finite(scores: torch.Tensor, relevant: torch.Tensor | None = None) -> None:
    """Raise if any (relevant) score is NaN or inf, saying how many rows are affected."""
    if not scores.is_floating_point():
        return  # integer scores are always finite
    bad = ~torch.isfinite(scores)
    if relevant is not None:
        bad &= relevant
    bad_rows = bad.any(dim=1)
    n_bad = int(bad_rows.sum())
    if n_bad:
        first = int(bad_rows.nonzero()[0, 0])
        raise ValueError(
            f"scores contain NaN or inf in {n_bad} of {scores.shape[0]} rows "
            f"(first affected row: {first}); ranking metrics are undefined for them"
        )


def _as_index(x: Any, name: str, device: torch.device) -> torch.Tensor:
    """Integer tensor on ``device`` (bool and float are refused: they are not item ids)."""
    t = torch.as_tensor(x, device=device)
    if t.dtype == torch.bool or t.is_floating_point() or t.is_complex():
        raise ValueError(f"{name} must be an integer tensor, got dtype {t.dtype}")
    return t.long()


# --------------------------------------------------------------------------------------------
# ranks
# --------------------------------------------------------------------------------------------


def rank_of_positive(scores: Any) -> torch.Tensor:
    """0-based rank of column 0 among the others of its row; ties count against it.

    ``scores`` is ``(n, C)`` with the positive in column 0. Returns a LongTensor ``(n,)``.
    """
    scores = _as_scores(scores, "(n, C): positive in column 0, then C - 1 negatives")
    _check_finite(scores)
    # ">=" rather than ">" is the tie rule: an equal negative is ranked above the positive.
    return (scores[:, 1:] >= scores[:, :1]).sum(dim=1)


def rank_full(
    scores: Any, targets: Any, exclude: Any | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Rank of each target against all other items (padding and ``exclude`` removed).

    ``scores`` ``(n, n_items + 1)``, ``targets`` ``(n,)`` in ``1..n_items``, ``exclude`` an
    optional bool ``(n, n_items + 1)``. Returns ``(ranks, n_competitors)``, both LongTensor
    ``(n,)``; ties count against the target.
    """
    scores = _as_scores(scores, "(n, n_items + 1): column 0 is padding")
    n, width = scores.shape
    n_items = width - 1

    targets = _as_index(targets, "targets", scores.device)
    if targets.shape != (n,):
        raise ValueError(
            f"targets must have shape (n,) = ({n},) to match scores, got {tuple(targets.shape)}"
        )
    if n and (int(targets.min()) < 1 or int(targets.max()) > n_items):
        raise ValueError(
            f"targets must be item ids in 1..n_items = 1..{n_items} (0 is padding), "
            f"got values in {int(targets.min())}..{int(targets.max())}"
        )

    # competitors: every real item, minus the excluded ones, minus the target itself
    competing = torch.ones_like(scores, dtype=torch.bool)
    if exclude is not None:
        exclude = torch.as_tensor(exclude, device=scores.device)
        if exclude.dtype != torch.bool:
            raise ValueError(f"exclude must be a boolean mask, got dtype {exclude.dtype}")
        if exclude.shape != scores.shape:
            raise ValueError(
                f"exclude must have the shape of scores (n, n_items + 1) = {tuple(scores.shape)}, "
                f"got {tuple(exclude.shape)}"
            )
        competing &= ~exclude
    competing[:, 0] = False
    rows = torch.arange(n, device=scores.device)
    competing[rows, targets] = False  # the target never competes with itself

    # only the entries that take part must be finite (-inf on padding/excluded items is fine)
    relevant = competing.clone()
    relevant[rows, targets] = True
    _check_finite(scores, relevant)

    target_scores = scores.gather(1, targets.unsqueeze(1))
    ranks = ((scores >= target_scores) & competing).sum(dim=1)
    return ranks, competing.sum(dim=1)


# --------------------------------------------------------------------------------------------
# metrics
# --------------------------------------------------------------------------------------------


def metric_names(ks: int | Iterable[int] = DEFAULT_KS) -> tuple[str, ...]:
    """Ordered metric names for tables: AUC, then HIT@k and NDCG@k for each k."""
    names = ["AUC"]
    for k in _check_ks(ks):
        names += [f"HIT@{k}", f"NDCG@{k}"]
    return tuple(names)


#: Same helper under the name used in tables: ``METRIC_NAMES((5, 10))``.
METRIC_NAMES = metric_names


def metrics_from_ranks(
    ranks: Any, n_competitors: int | Any, ks: int | Iterable[int] = DEFAULT_KS
) -> dict[str, torch.Tensor]:
    """Per-instance AUC, HIT@k, NDCG@k from 0-based ranks.

    ``n_competitors`` (an int or a tensor broadcastable to ``(n,)``) is the number of items the
    positive competed with: ``C - 1`` in sampled evaluation, ``M`` in full ranking.
    Returns float32 tensors ``(n,)`` keyed by ``metric_names(ks)``.
    """
    ks = _check_ks(ks)
    ranks = torch.as_tensor(ranks)
    if ranks.dtype == torch.bool or ranks.is_floating_point() or ranks.is_complex():
        raise ValueError(f"ranks must be an integer tensor, got dtype {ranks.dtype}")
    if ranks.dim() != 1:
        raise ValueError(f"ranks must have shape (n,), got {tuple(ranks.shape)}")
    m = _as_index(n_competitors, "n_competitors", ranks.device)
    if m.dim() > 1 or (m.dim() == 1 and m.shape[0] not in (1, ranks.shape[0])):
        raise ValueError(
            f"n_competitors must be an int or have shape (n,) = ({ranks.shape[0]},), "
            f"got {tuple(m.shape)}"
        )
    m = m.expand_as(ranks)
    if ranks.numel():
        if int(m.min()) < 1:
            n_bad = int((m < 1).sum())
            raise ValueError(
                f"n_competitors must be >= 1, got {int(m.min())} in {n_bad} rows "
                "(every item excluded for those rows?)"
            )
        if int(ranks.min()) < 0 or bool((ranks > m).any()):
            raise ValueError("ranks must lie in 0..n_competitors")

    r = ranks.to(torch.float32)
    out = {"AUC": (m - ranks).to(torch.float32) / m.to(torch.float32)}
    gain = 1.0 / torch.log2(r + 2.0)  # one relevant item: DCG = 1/log2(r+2), IDCG = 1
    for k in ks:
        hit = ranks < k
        out[f"HIT@{k}"] = hit.to(torch.float32)
        out[f"NDCG@{k}"] = torch.where(hit, gain, torch.zeros_like(gain))
    return out


def sampled_metrics(scores: Any, ks: int | Iterable[int] = DEFAULT_KS) -> dict[str, torch.Tensor]:
    """Per-instance metrics for ``(n, C)`` scores with the positive in column 0."""
    ks = _check_ks(ks)  # fail on bad ks before doing any work
    scores = _as_scores(scores, "(n, C): positive in column 0, then C - 1 negatives")
    return metrics_from_ranks(rank_of_positive(scores), scores.shape[1] - 1, ks)


def full_ranking_metrics(
    scores: Any, targets: Any, exclude: Any | None = None, ks: int | Iterable[int] = DEFAULT_KS
) -> dict[str, torch.Tensor]:
    """Per-instance metrics ranking each target against all items (see ``rank_full``)."""
    ks = _check_ks(ks)
    ranks, n_competitors = rank_full(scores, targets, exclude)
    return metrics_from_ranks(ranks, n_competitors, ks)


def summarize(per_instance: Mapping[str, Any]) -> dict[str, float]:
    """Mean of each per-instance metric, as Python floats (accumulated in float64)."""
    out: dict[str, float] = {}
    for name, values in per_instance.items():
        v = torch.as_tensor(values)
        if v.numel() == 0:
            raise ValueError(f"cannot summarize {name!r}: no instances")
        out[name] = float(v.detach().to("cpu", torch.float64).mean())
    return out


# --------------------------------------------------------------------------------------------
# history exclusion
# --------------------------------------------------------------------------------------------


def exclusion_mask(histories: Any, n_items: int) -> torch.Tensor:
    """Bool mask ``(n, n_items + 1)``: True where item ``j`` occurs in row ``i``'s history.

    ``histories`` is ``(n, L)`` item ids padded with 0. The padding column 0 is always False
    (padding is not an item; ``rank_full`` drops column 0 anyway).
    """
    if isinstance(n_items, bool):
        raise ValueError(f"n_items must be a positive int, got {n_items!r}")
    try:
        n_items = operator.index(n_items)
    except TypeError:
        raise ValueError(f"n_items must be a positive int, got {n_items!r}") from None
    if n_items < 1:
        raise ValueError(f"n_items must be a positive int, got {n_items}")
    h = torch.as_tensor(histories)
    if h.dtype == torch.bool or h.is_floating_point() or h.is_complex():
        raise ValueError(f"histories must be an integer tensor, got dtype {h.dtype}")
    if h.dim() != 2:
        raise ValueError(f"histories must have shape (n, L) padded with 0, got {tuple(h.shape)}")
    h = h.long()
    if h.numel() and (int(h.min()) < 0 or int(h.max()) > n_items):
        raise ValueError(
            f"histories must hold item ids in 0..n_items = 0..{n_items} (0 = padding), "
            f"got values in {int(h.min())}..{int(h.max())}"
        )
    mask = torch.zeros(h.shape[0], n_items + 1, dtype=torch.bool, device=h.device)
    mask.scatter_(1, h, True)  # repeated ids just set the same cell again
    mask[:, 0] = False  # padding positions all landed in column 0
    return mask
