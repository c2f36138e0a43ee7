"""Augmentations, all pure functions: they return new tensors and never touch their input.

Item sequences are right-padded (item 0 = padding) with their ``lengths``; a generator
argument makes every draw reproducible. Counts are exact per row (``round(ratio * length)``),
not Bernoulli, so a ratio of 0.2 masks exactly 20 % of each sequence (rounded).
"""

from __future__ import annotations

import torch


def _check_ratio(name: str, ratio: float) -> None:
    if not 0.0 <= ratio <= 1.0:
        raise ValueError(f"{name} must lie in [0, 1], got {ratio!r}")


def _random_subset(mask_shape: tuple[int, int], counts: torch.Tensor, valid: torch.Tensor,
                   generator: torch.Generator | None) -> torch.Tensor:
    """Boolean (B, L): ``counts[b]`` positions chosen uniformly among ``valid[b]``: the
    positions of the ``counts[b]`` smallest of L uniform draws (invalid ones never smallest)."""
    noise = torch.rand(mask_shape, generator=generator, device="cpu").to(valid.device)
    noise = noise.masked_fill(~valid, 2.0)  # invalid positions sort last
    chosen = _smallest_by_selection(noise, counts)
    if chosen is not None:
        return chosen
    order = noise.argsort(dim=1)  # the j-th smallest noise of each row is chosen when j < counts
    first = torch.arange(mask_shape[1], device=valid.device)[None, :] < counts[:, None]
    return torch.zeros_like(valid).scatter_(1, order, first)


def _smallest_by_selection(noise: torch.Tensor, counts: torch.Tensor) -> torch.Tensor | None:
    """The positions of the ``k`` smallest values of each row when every row has the same
    ``k >= 1`` (the profile mask: a fixed share of x_u), found by selection (``kthvalue``)
    instead of a sort of the whole row: about 3x faster on a (256, 192) profile mask. Where a
    row's k-th smallest value is tied the set is not unique and the sort decides: None then
    (and for varying ``k``), and the caller sorts, so the mask is always the sort's."""
    if not len(counts) or not noise.shape[1]:
        return None
    k = int(counts[0])
    if k < 1 or k > noise.shape[1] or not bool((counts == k).all()):
        return None
    threshold = noise.kthvalue(k, dim=1, keepdim=True).values
    chosen = noise <= threshold
    if not bool((chosen.sum(1) == k).all()):  # a tie at the k-th value
        return None
    return chosen


def mask_items(items: torch.Tensor, lengths: torch.Tensor, ratio: float, mask_token: int,
               generator: torch.Generator | None = None, at_least_one: bool = False) -> torch.Tensor:
    """Replace ``round(ratio * length)`` real items of each row by ``mask_token``.

    ``at_least_one``: mask at least one item of every non-empty row when ``ratio > 0`` (PPR's
    behaviour-based view; without it a history of one or two clicks at ratio 0.2 would be its
    own "augmented" view, a positive pair identical to the anchor).
    """
    _check_ratio("item mask ratio", ratio)
    valid = torch.arange(items.shape[1], device=items.device)[None, :] < lengths[:, None]
    counts = torch.round(lengths.double() * ratio).long()
    if at_least_one and ratio > 0:
        counts = torch.minimum(counts.clamp(min=1), lengths)
    chosen = _random_subset(tuple(items.shape), counts, valid, generator)
    return items.masked_fill(chosen, mask_token)


def behaviour_views(items: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor, ratio: float, mask_token: int,
                    generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """PPR's behaviour-based views of the anchors ``(rows, cols)`` of a sequence batch ``items``.

    The anchor at column ``c`` of row ``r`` predicts ``items[r, c]`` from the clicks
    ``items[r, :c]``: its view is those clicks with ``round(ratio * c)`` of them, at least one,
    masked. Each anchor draws its own mask (anchors of one window do not share one), and the
    target is never among the clicks. Anchors without input (``c == 0``: zero-shot) get no view.
    Returns the right-padded masked histories of the anchors with input and their lengths.
    """
    lengths = cols[cols > 0]
    rows = rows[cols > 0]
    width = int(lengths.max()) if len(lengths) else 0
    positions = torch.arange(width, device=items.device)[None, :]
    history = items[rows, :width].masked_fill(positions >= lengths[:, None], 0)
    return mask_items(history, lengths, ratio, mask_token, generator, at_least_one=True), lengths


def crop_items(items: torch.Tensor, lengths: torch.Tensor, ratio: float,
               generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Keep a random contiguous run of ``max(1, round(ratio * length))`` items, left-aligned."""
    _check_ratio("crop ratio", ratio)
    keep = torch.clamp(torch.round(lengths.double() * ratio).long(), min=1)
    keep = torch.minimum(keep, lengths)
    room = (lengths - keep).clamp(min=0)
    start = (torch.rand(len(items), generator=generator).to(items.device) * (room + 1).float()).long()
    start = torch.minimum(start, room)
    cols = torch.arange(items.shape[1], device=items.device)[None, :]
    src = (start[:, None] + cols).clamp(max=items.shape[1] - 1)
    out = torch.gather(items, 1, src).masked_fill(cols >= keep[:, None], 0)
    return out, keep


def reorder_items(items: torch.Tensor, lengths: torch.Tensor, ratio: float,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """Shuffle a random contiguous run of ``round(ratio * length)`` items in place (on a copy)."""
    _check_ratio("reorder ratio", ratio)
    span = torch.minimum(torch.round(lengths.double() * ratio).long(), lengths)
    room = (lengths - span).clamp(min=0)
    start = torch.minimum((torch.rand(len(items), generator=generator).to(items.device) * (room + 1).float()).long(), room)
    cols = torch.arange(items.shape[1], device=items.device)[None, :]
    inside = (cols >= start[:, None]) & (cols < (start + span)[:, None])
    # sort keys: outside the run keep their column; inside get random keys within the run's range
    noise = torch.rand(items.shape, generator=generator).to(items.device)
    key = torch.where(inside, start[:, None].float() + noise * span[:, None].clamp(min=1).float() - 0.5,
                      cols.float())
    order = key.argsort(dim=1)
    return torch.gather(items, 1, order)


def profile_mask(b: int, width: int, ratio: float, generator: torch.Generator | None = None,
                 device: torch.device | str = "cpu") -> torch.Tensor:
    """Boolean (b, width): ``round(ratio * width)`` elements of every row, chosen uniformly (the
    draw of :func:`mask_profile_vectors`, made before x_u exists)."""
    _check_ratio("profile mask ratio (gamma1)", ratio)
    counts = torch.full((b,), int(round(ratio * width)), device=device)
    return _random_subset((b, width), counts, torch.ones(b, width, dtype=torch.bool, device=device), generator)


def mask_profile_vectors(x: torch.Tensor, ratio: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Zero ``round(ratio * width)`` elements of every row of the profile vector x_u (B, m*d)."""
    return x.masked_fill(profile_mask(*x.shape, ratio, generator, x.device), 0.0)


def noisy_profiles(profiles: torch.Tensor, field_sizes: list[int], rate: float,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """Replace each field value, with probability ``rate``, by a uniformly random valid value
    (codes ``1 .. size-1``; the missing code 0 is not a value). The noise study of the book."""
    _check_ratio("profile noise rate", rate)
    out = profiles.clone()
    for j, size in enumerate(field_sizes):
        if size < 2:
            continue
        flip = torch.rand(len(out), generator=generator) < rate
        values = torch.randint(1, size, (len(out),), generator=generator)
        out[:, j] = torch.where(flip.to(out.device), values.to(out.device), out[:, j])
    return out
