"""Augmentations: pure, exact counts per row, documented shapes, seeded, with property tests."""

from __future__ import annotations

from collections import Counter

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pprlib.augment import crop_items, mask_items, mask_profile_vectors, noisy_profiles, reorder_items

torch.set_num_threads(1)

N_ITEMS = 150
MASK = N_ITEMS + 1


def seq_batch(lengths, width=None, seed=0):
    """Right-padded (B, W) items in 1..N_ITEMS, distinct within a row (so positions are traceable)."""
    lengths = torch.as_tensor(lengths, dtype=torch.long)
    width = int(lengths.max()) if width is None else width
    g = torch.Generator().manual_seed(seed)
    rows = [torch.randperm(N_ITEMS, generator=g)[:width] + 1 for _ in range(len(lengths))]
    items = torch.stack(rows) if rows else torch.zeros(0, width, dtype=torch.long)
    cols = torch.arange(width)[None, :]
    return items.masked_fill(cols >= lengths[:, None], 0), lengths


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


# ------------------------------------------------------------------------------------------
# mask_items
# ------------------------------------------------------------------------------------------
def test_mask_items_exact_count_and_nothing_else():
    lengths = [10, 7, 1, 0, 5, 20, 3]
    items, lengths = seq_batch(lengths, width=20)
    before = items.clone()
    for ratio in (0.0, 0.2, 0.5, 0.75, 1.0):
        out = mask_items(items, lengths, ratio, MASK, gen(1))
        assert torch.equal(items, before)
        assert out.shape == items.shape and out.dtype == items.dtype
        for b, length in enumerate(lengths.tolist()):
            masked = out[b] == MASK
            assert int(masked.sum()) == round(ratio * length), (ratio, length)
            assert not masked[length:].any()  # padding untouched
            assert (out[b, length:] == 0).all()
            keep = ~masked
            assert torch.equal(out[b][keep], items[b][keep])  # nothing else changed


@pytest.mark.parametrize("length,ratio", [(95, 0.3), (150, 0.07), (75, 0.14), (100, 0.295)])
def test_counts_follow_python_round_exactly(length, ratio):
    """Products that sit at .5 in double precision round like ``round(ratio * length)``; a
    float32 product lands on the other side of the half (0.3 * 95 -> 29 instead of 28)."""
    items, lengths = seq_batch([length])
    expected = round(ratio * length)
    assert int((mask_items(items, lengths, ratio, MASK, gen(0)) == MASK).sum()) == expected
    assert int(crop_items(items, lengths, ratio, gen(0))[1][0]) == max(1, expected)
    moved = (reorder_items(items, lengths, ratio, gen(0))[0] != items[0]).nonzero().flatten()
    assert len(moved) == 0 or int(moved.max() - moved.min()) + 1 <= expected


def test_mask_items_is_random_over_positions():
    items, lengths = seq_batch([10] * 400, width=10)
    out = mask_items(items, lengths, 0.2, MASK, gen(0))
    per_position = (out == MASK).float().mean(0)  # expectation 0.2 everywhere
    assert (per_position > 0.1).all() and (per_position < 0.3).all()


# ------------------------------------------------------------------------------------------
# mask_profile_vectors
# ------------------------------------------------------------------------------------------
def test_mask_profile_vectors_exact_zeros():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(8, 48, generator=g) + 0.5  # no zeros
    before = x.clone()
    for ratio in (0.0, 0.2, 0.5, 1.0):
        out = mask_profile_vectors(x, ratio, gen(3))
        assert torch.equal(x, before)
        zeros = out == 0
        assert (zeros.sum(1) == round(ratio * 48)).all()
        assert torch.equal(out[~zeros], x[~zeros])


def test_mask_profile_vectors_keeps_gradient_to_the_unmasked_elements():
    x = (torch.rand(4, 12) + 0.5).requires_grad_()
    out = mask_profile_vectors(x, 0.25, gen(0))
    out.sum().backward()
    assert torch.equal(x.grad, (out != 0).float())


# ------------------------------------------------------------------------------------------
# crop_items
# ------------------------------------------------------------------------------------------
def _is_contiguous_run(run: list, original: list) -> bool:
    n = len(run)
    return any(original[s : s + n] == run for s in range(len(original) - n + 1))


def test_crop_items_contiguous_left_aligned():
    items, lengths = seq_batch([10, 7, 1, 4, 20, 2], width=20)
    before = items.clone()
    for ratio in (0.0, 0.1, 0.3, 0.6, 1.0):
        out, kept = crop_items(items, lengths, ratio, gen(2))
        assert torch.equal(items, before)
        assert out.shape == items.shape
        for b, length in enumerate(lengths.tolist()):
            k = max(1, round(ratio * length))
            assert int(kept[b]) == k
            row = out[b].tolist()
            assert all(v != 0 for v in row[:k]) and all(v == 0 for v in row[k:])
            assert _is_contiguous_run(row[:k], items[b, :length].tolist())


def test_crop_items_start_varies():
    items, lengths = seq_batch([10] * 200, width=10)
    out, _ = crop_items(items, lengths, 0.3, gen(0))
    starts = {int((items[b] == out[b, 0]).nonzero()) for b in range(200)}
    assert starts == set(range(8))  # every possible start 0..10-3 occurs


# ------------------------------------------------------------------------------------------
# reorder_items
# ------------------------------------------------------------------------------------------
def _check_reorder(items, lengths, out, ratio):
    for b, length in enumerate(lengths.tolist()):
        span = round(ratio * length)
        orig, new = items[b].tolist(), out[b].tolist()
        assert Counter(orig[:length]) == Counter(new[:length])
        assert new[length:] == orig[length:]
        diff = [j for j in range(len(orig)) if orig[j] != new[j]]
        if diff:
            assert diff[-1] - diff[0] + 1 <= span  # only a run of `span` positions moved


def test_reorder_items_permutes_one_run():
    items, lengths = seq_batch([10, 7, 1, 0, 20, 5], width=20)
    before = items.clone()
    for ratio in (0.0, 0.2, 0.5, 1.0):
        out = reorder_items(items, lengths, ratio, gen(4))
        assert torch.equal(items, before)
        _check_reorder(items, lengths, out, ratio)
    assert torch.equal(reorder_items(items, lengths, 0.0, gen(0)), items)
    # ratio 1 shuffles the whole sequence: long rows do change
    many, ml = seq_batch([20] * 50, width=20)
    assert (reorder_items(many, ml, 1.0, gen(1)) != many).any(1).all()


# ------------------------------------------------------------------------------------------
# noisy_profiles
# ------------------------------------------------------------------------------------------
SIZES = [3, 9, 6, 1]  # the last field has only the missing code: never touched


def profile_batch(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.stack([torch.randint(0, s, (n,), generator=g) for s in SIZES], dim=1)


def test_noisy_profiles_rates():
    p = profile_batch(4000)
    before = p.clone()
    assert torch.equal(noisy_profiles(p, SIZES, 0.0, gen(0)), p)
    out = noisy_profiles(p, SIZES, 1.0, gen(0))
    assert torch.equal(p, before)
    for j, size in enumerate(SIZES):
        if size < 2:
            assert torch.equal(out[:, j], p[:, j])
            continue
        col = out[:, j]
        assert col.min() >= 1 and col.max() <= size - 1
        counts = torch.bincount(col, minlength=size)[1:].float()
        expected = len(col) / (size - 1)
        assert (counts - expected).abs().max() < 0.15 * expected  # roughly uniform
    mid = noisy_profiles(p, SIZES, 0.5, gen(0))
    share = (mid[:, :3] != p[:, :3]).float().mean()
    # flipped with prob 0.5, and a flip lands on the old value with prob ~1/(size-1)
    assert 0.3 < share < 0.5
    assert not (mid[p != 0] == 0).any()  # never produces the missing code


def test_noisy_profiles_does_not_introduce_missing():
    p = profile_batch(2000)
    for rate in (0.1, 0.7, 1.0):
        out = noisy_profiles(p, SIZES, rate, gen(5))
        introduced = (out == 0) & (p != 0)
        assert not introduced.any()


# ------------------------------------------------------------------------------------------
# ratios, reproducibility
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [-0.1, 1.01, 2.0])
def test_ratios_outside_unit_interval_raise(bad):
    items, lengths = seq_batch([5, 3])
    with pytest.raises(ValueError):
        mask_items(items, lengths, bad, MASK)
    with pytest.raises(ValueError):
        crop_items(items, lengths, bad)
    with pytest.raises(ValueError):
        reorder_items(items, lengths, bad)
    with pytest.raises(ValueError):
        mask_profile_vectors(torch.ones(2, 4), bad)
    with pytest.raises(ValueError):
        noisy_profiles(profile_batch(3), SIZES, bad)


def test_seeded_generator_reproduces():
    items, lengths = seq_batch([12, 9, 4, 15], width=15)
    x = torch.rand(4, 30) + 0.5
    p = profile_batch(50)
    fns = [
        lambda g: mask_items(items, lengths, 0.3, MASK, g),
        lambda g: crop_items(items, lengths, 0.4, g)[0],
        lambda g: reorder_items(items, lengths, 0.6, g),
        lambda g: mask_profile_vectors(x, 0.3, g),
        lambda g: noisy_profiles(p, SIZES, 0.5, g),
    ]
    for i, fn in enumerate(fns):
        assert torch.equal(fn(gen(7)), fn(gen(7))), i
        outs = {tuple(fn(gen(s)).flatten().tolist()) for s in range(6)}
        assert len(outs) > 1, i  # the generator is actually used


# ------------------------------------------------------------------------------------------
# property-based
# ------------------------------------------------------------------------------------------
ratios = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
length_lists = st.lists(st.integers(min_value=0, max_value=120), min_size=1, max_size=6)
HYP = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@HYP
@given(lengths=length_lists, extra=st.integers(0, 3), ratio=ratios, seed=st.integers(0, 2**31 - 1))
def test_property_mask_items(lengths, extra, ratio, seed):
    items, lens = seq_batch(lengths, width=max(lengths) + extra, seed=seed % 1000)
    before = items.clone()
    out = mask_items(items, lens, ratio, MASK, gen(seed))
    assert torch.equal(items, before)
    for b, length in enumerate(lengths):
        assert int((out[b] == MASK).sum()) == round(ratio * length)
        assert (out[b, length:] == 0).all()
        changed = out[b] != items[b]
        assert (out[b][changed] == MASK).all()


@HYP
@given(lengths=length_lists, extra=st.integers(0, 3), ratio=ratios, seed=st.integers(0, 2**31 - 1))
def test_property_crop_items(lengths, extra, ratio, seed):
    items, lens = seq_batch(lengths, width=max(lengths) + extra, seed=seed % 1000)
    before = items.clone()
    out, kept = crop_items(items, lens, ratio, gen(seed))
    assert torch.equal(items, before)
    assert out.shape == items.shape
    for b, length in enumerate(lengths):
        k = min(length, max(1, round(ratio * length)))  # an empty row stays empty
        assert int(kept[b]) == k
        row = out[b].tolist()
        assert all(v == 0 for v in row[k:]) and all(v != 0 for v in row[:k])
        assert _is_contiguous_run(row[:k], items[b, :length].tolist())


@HYP
@given(lengths=length_lists, extra=st.integers(0, 3), ratio=ratios, seed=st.integers(0, 2**31 - 1))
def test_property_reorder_items(lengths, extra, ratio, seed):
    items, lens = seq_batch(lengths, width=max(lengths) + extra, seed=seed % 1000)
    before = items.clone()
    out = reorder_items(items, lens, ratio, gen(seed))
    assert torch.equal(items, before)
    assert out.shape == items.shape
    _check_reorder(items, lens, out, ratio)


@HYP
@given(b=st.integers(1, 6), width=st.integers(1, 80), ratio=ratios, seed=st.integers(0, 2**31 - 1))
def test_property_mask_profile_vectors(b, width, ratio, seed):
    x = torch.rand(b, width, generator=gen(seed)) + 0.5
    before = x.clone()
    out = mask_profile_vectors(x, ratio, gen(seed))
    assert torch.equal(x, before)
    assert ((out == 0).sum(1) == round(ratio * width)).all()
    assert torch.equal(out[out != 0], x[out != 0])


@HYP
@given(sizes=st.lists(st.integers(1, 12), min_size=1, max_size=6), n=st.integers(1, 40), rate=ratios,
       seed=st.integers(0, 2**31 - 1))
def test_property_noisy_profiles(sizes, n, rate, seed):
    g = gen(seed)
    p = torch.stack([torch.randint(0, s, (n,), generator=g) for s in sizes], dim=1)
    before = p.clone()
    out = noisy_profiles(p, sizes, rate, gen(seed))
    assert torch.equal(p, before)
    assert out.shape == p.shape and out.dtype == p.dtype
    for j, size in enumerate(sizes):
        assert (out[:, j] >= 0).all() and (out[:, j] < size).all()
        assert not ((out[:, j] == 0) & (p[:, j] != 0)).any()


@pytest.mark.parametrize("call, name", [
    (lambda r: mask_items(*seq_batch([5]), r, MASK), "item mask ratio"),
    (lambda r: crop_items(*seq_batch([5]), r), "crop ratio"),
    (lambda r: reorder_items(*seq_batch([5]), r), "reorder ratio"),
    (lambda r: mask_profile_vectors(torch.ones(2, 4), r), r"profile mask ratio \(gamma1\)"),
    (lambda r: noisy_profiles(profile_batch(3), SIZES, r), "profile noise rate"),
])
def test_ratio_errors_name_the_ratio(call, name):
    with pytest.raises(ValueError, match=f"^{name} must lie in"):
        call(1.5)


def test_noisy_profiles_fields_with_one_value_and_without_values():
    """A field of size 2 has one valid value: at rate 1 every code becomes it (a missing 0
    too); a field of size 1 has none and is skipped, without stopping at it."""
    p = torch.zeros(50, 3, dtype=torch.long)
    out = noisy_profiles(p, [1, 2, 4], 1.0, gen(0))
    assert (out[:, 0] == 0).all() and (out[:, 1] == 1).all()
    assert ((out[:, 2] >= 1) & (out[:, 2] <= 3)).all()


def test_reorder_of_the_whole_sequence_can_move_its_first_item():
    items, lengths = seq_batch([6] * 200, width=6)
    out = reorder_items(items, lengths, 1.0, gen(0))
    moved = (out[:, 0] != items[:, 0]).float().mean()
    assert 0.6 < moved < 0.95  # a uniform shuffle keeps it in place 1 time in 6


# ------------------------------------------------------------------------------------------
# where a random run starts: uniform over every possible start (a seeded generator, 60 000
# rows; the bounds lie more than 6 standard errors from the expected shares)
# ------------------------------------------------------------------------------------------
def test_crop_starts_uniformly_over_the_room_left():
    from pprlib.augment import crop_items

    n, length = 60000, 10
    items = torch.arange(1, length + 1).repeat(n, 1)
    out, keep = crop_items(items, torch.full((n,), length), 0.5, torch.Generator().manual_seed(0))
    assert (keep == 5).all()
    share = torch.bincount(out[:, 0] - 1, minlength=length).double() / n  # the first kept click names the start
    assert share[:6].sub(1 / 6).abs().max() < 0.01 and share[6:].sum() == 0


def test_reorder_run_starts_uniformly_over_the_room_left():
    """A run of two clicks (ratio 0.2 of 10) swapped with probability 1/2: each end position is
    in the run for 1 start of the 9, every middle position for 2."""
    from pprlib.augment import reorder_items

    n, length = 60000, 10
    items = torch.arange(1, length + 1).repeat(n, 1)
    out = reorder_items(items, torch.full((n,), length), 0.2, torch.Generator().manual_seed(0))
    moved = (out != items).double().mean(0)
    expected = torch.tensor([1] + [2] * 8 + [1], dtype=torch.float64) / 9 / 2
    assert (moved - expected).abs().max() < 0.01


def test_behaviour_views_of_zero_shot_anchors_only_are_empty():
    from pprlib.augment import behaviour_views

    items = torch.tensor([[3, 4, 5], [6, 7, 0]])
    history, lengths = behaviour_views(items, torch.tensor([0, 1]), torch.tensor([0, 0]), 0.5, 99,
                                       torch.Generator().manual_seed(0))
    assert history.shape == (0, 0) and lengths.tolist() == []


@pytest.mark.parametrize("levels", [None, 4, 16])
def test_a_mask_of_k_of_every_row_is_the_one_the_sort_of_the_draws_gives(monkeypatch, levels):
    """The profile mask (the same k of every row) finds each row's k smallest draws by
    selection, not by a sort of the row: it must be the mask the sort gives, also where draws
    tie at the k-th value (``levels``: draws rounded to so many values, so that ties are
    common). Rows with varying counts and invalid positions take the same path as before."""
    from pprlib import augment

    def by_sort(noise, counts):
        order = noise.argsort(dim=1)
        first = torch.arange(noise.shape[1])[None, :] < counts[:, None]
        return torch.zeros(noise.shape, dtype=torch.bool).scatter_(1, order, first)

    drawn = []
    real_rand = torch.rand

    def rand(*args, **kwargs):
        noise = real_rand(*args, **kwargs)
        if levels is not None:
            noise = torch.floor(noise * levels) / levels
        drawn.append(noise)
        return noise

    monkeypatch.setattr(augment.torch, "rand", rand)
    ties = 0
    for seed in range(40):
        b, width = 1 + seed % 7, 3 + seed % 11
        k = seed % (width + 1)
        valid = torch.ones(b, width, dtype=torch.bool)
        if seed % 3 == 0:  # some invalid positions and counts that vary by row
            lengths = torch.randint(1, width + 1, (b,), generator=gen(seed))
            valid = torch.arange(width)[None, :] < lengths[:, None]
            counts = torch.minimum(torch.full((b,), k), lengths)
        else:
            counts = torch.full((b,), k)
        chosen = augment._random_subset((b, width), counts, valid, gen(seed))
        noise = drawn[-1].masked_fill(~valid, 2.0)
        assert torch.equal(chosen, by_sort(noise, counts)), (seed, noise, counts)
        assert torch.equal(chosen.sum(1), counts)
        if k:
            kth = noise.sort(dim=1).values[:, k - 1 : k]
            ties += int(((noise == kth).sum(1) > 1).sum())
    if levels is not None:
        assert ties > 0  # the ties at the k-th value were met, and the sort decided them
