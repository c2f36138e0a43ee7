"""Tensors for the model: windows, histories, sequence and instance batches, seeded loaders.
Every construction is checked against a brute-force Python version."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pprlib.data.batching import (
    InstanceDataset,
    SequenceDataset,
    gather_windows,
    instance_histories,
    loader,
    sequence_windows,
)
from pprlib.data.protocol import ProtocolConfig, split
from pprlib.data.synthetic import SyntheticConfig, generate


@pytest.fixture(scope="module")
def data():
    return generate(SyntheticConfig(n_users=1500, n_items=300, max_length=100))


@pytest.fixture(scope="module")
def sp(data):
    return split(data, ProtocolConfig())


def brute_window(data, u, s, l, width):
    row = list(data.sequence(u)[s : s + l])
    return row + [0] * (width - len(row))


# ------------------------------------------------------------------------------------------
# gather_windows
# ------------------------------------------------------------------------------------------
def test_gather_windows_brute_force(data):
    rng = np.random.default_rng(0)
    users = rng.integers(0, data.n_users, size=300)
    lengths_avail = data.lengths[users]
    starts = rng.integers(0, lengths_avail)
    lengths = rng.integers(0, lengths_avail - starts + 1)
    got = gather_windows(data, users, starts, lengths)
    width = int(lengths.max())
    assert got.shape == (300, width)
    for k in range(300):
        assert got[k].tolist() == brute_window(data, users[k], starts[k], lengths[k], width)


def test_gather_windows_fixed_width_and_empty(data):
    got = gather_windows(data, np.array([0, 1]), np.array([0, 0]), np.array([0, 2]), width=7)
    assert got.shape == (2, 7)
    assert got[0].tolist() == [0] * 7
    assert got[1].tolist() == brute_window(data, 1, 0, 2, 7)
    # a window at the very end of the last user does not read past the data
    last = data.n_users - 1
    L = int(data.lengths[last])
    got = gather_windows(data, np.array([last]), np.array([L - 1]), np.array([1]), width=5)
    assert got[0].tolist() == [int(data.sequence(last)[-1]), 0, 0, 0, 0]


# ------------------------------------------------------------------------------------------
# instance_histories
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("max_history", [1, 3, 100])
def test_instance_histories(data, sp, max_history):
    inst = sp.instances("test")
    hist, lengths = instance_histories(data, inst, max_history)
    assert np.array_equal(lengths, np.minimum(inst.positions, max_history))
    assert hist.shape == (len(inst), max(1, int(lengths.max())))
    for k in range(len(inst)):
        u, p = inst.users[k], inst.positions[k]
        expected = list(data.sequence(u)[max(0, p - max_history) : p])
        assert hist[k].tolist() == expected + [0] * (hist.shape[1] - len(expected))


def test_instance_histories_warm_are_capped(data, sp):
    inst = sp.instances("warm_test")
    hist, lengths = instance_histories(data, inst, 20)
    assert hist.shape[1] == 20 and lengths.max() == 20
    long = np.flatnonzero(inst.positions > 20)[0]
    u, p = inst.users[long], inst.positions[long]
    assert hist[long].tolist() == data.sequence(u)[p - 20 : p].tolist()  # the MOST RECENT clicks


def test_zero_shot_histories_are_empty(data, sp):
    zero = sp.instances("test").zero_shot()
    hist, lengths = instance_histories(data, zero, 100)
    assert hist.shape == (len(zero), 1)
    assert (lengths == 0).all() and (hist == 0).all()


# ------------------------------------------------------------------------------------------
# sequence_windows
# ------------------------------------------------------------------------------------------
def brute_targets(w_users, w_starts, w_lengths):
    """(user, absolute position) of every target of the windows: positions 1.. of each window
    (position 0 of a window is a target only when the window starts at the first click)."""
    out = []
    for u, s, l in zip(w_users.tolist(), w_starts.tolist(), w_lengths.tolist(), strict=True):
        for i in range(l):
            if i > 0:
                out.append((u, s + i))
    return out


@pytest.mark.parametrize("seed", range(6))
def test_sequence_windows_each_click_target_once(seed):
    rng = np.random.default_rng(seed)
    n = 60
    users = rng.permutation(200)[:n]
    lengths = rng.integers(0, 80, size=n)
    lengths[:3] = [0, 1, 2]
    window = int(rng.integers(2, 30))
    w_users, w_starts, w_lengths = sequence_windows(users, lengths, window)
    assert (w_lengths <= window).all() and (w_lengths >= 1).all()
    length_of = dict(zip(users.tolist(), lengths.tolist(), strict=True))
    assert all(s + l <= length_of[u]
               for u, s, l in zip(w_users.tolist(), w_starts.tolist(), w_lengths.tolist(), strict=True))
    targets = brute_targets(w_users, w_starts, w_lengths)
    assert len(targets) == len(set(targets))  # exactly once
    expected = {(u, p) for u, L in length_of.items() for p in range(1, L)}
    assert set(targets) == expected  # every click but the first
    # a user with no clicks gets no window; every user with clicks has one starting at 0
    assert length_of[int(users[0])] == 0 and int(users[0]) not in w_users.tolist()
    firsts = {u for u, s in zip(w_users.tolist(), w_starts.tolist(), strict=True) if s == 0}
    assert firsts == {u for u, L in length_of.items() if L > 0}


def test_sequence_windows_use_as_much_history_as_fits():
    w_users, w_starts, w_lengths = sequence_windows(np.array([7]), np.array([25]), 10)
    # laid from the end: [15..25), [6..16), [0..7)  (overlap of one click)
    assert sorted(zip(w_starts.tolist(), w_lengths.tolist(), strict=True)) == [(0, 7), (6, 10), (15, 10)]
    assert (w_users == 7).all()


def test_sequence_windows_first_start_offset():
    w_users, w_starts, w_lengths = sequence_windows(np.array([0, 1]), np.array([5, 3]), 4,
                                                    first_start=np.array([10, 20]))
    got = sorted(zip(w_users.tolist(), w_starts.tolist(), w_lengths.tolist(), strict=True))
    assert got == [(0, 10, 2), (0, 11, 4), (1, 20, 3)]


# ------------------------------------------------------------------------------------------
# SequenceDataset
# ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def seq_ds(data, sp):
    users, lengths = sp.pretrain_sequences()
    return SequenceDataset(data, users, lengths, window=16, seed=0)


def test_sequence_dataset_batches(data, sp, seq_ds):
    batch = seq_ds.__getitems__(list(range(0, len(seq_ds), 7)))
    B = len(range(0, len(seq_ds), 7))
    W = int(batch["lengths"].max())
    assert batch["items"].shape == (B, W) and W <= 16
    assert batch["negatives"].shape == (B, W)
    assert batch["profile"].shape == (B, 3)
    assert batch["user"].shape == batch["lengths"].shape == batch["first"].shape == (B,)
    assert batch["items"].dtype == torch.int64 and batch["first"].dtype == torch.bool
    cols = torch.arange(W)[None, :]
    pad = cols >= batch["lengths"][:, None]
    assert (batch["items"][pad] == 0).all()
    assert (batch["items"][~pad] > 0).all()
    assert (batch["negatives"][pad] == 0).all()  # 0 exactly at padding
    assert (batch["negatives"][~pad] > 0).all()
    users = batch["user"].numpy()
    neg = batch["negatives"].numpy()
    assert not data.has_clicked(np.repeat(users[:, None], W, axis=1)[~pad.numpy()], neg[~pad.numpy()]).any()
    assert np.array_equal(batch["profile"].numpy(), data.profiles[users])


def test_sequence_dataset_windows_are_the_pretrain_clicks(data, sp, seq_ds):
    """Items of each window are the clicks of that user; pre-training never sees the two held-out."""
    users, lengths = sp.pretrain_sequences()
    limit = dict(zip(users.tolist(), lengths.tolist(), strict=True))
    batch = seq_ds.__getitems__(list(range(len(seq_ds))))
    seen = set()
    for k in range(len(seq_ds)):
        u, L = int(batch["user"][k]), int(batch["lengths"][k])
        row = batch["items"][k, :L].tolist()
        seq = data.sequence(u)[: limit[u]].tolist()
        assert any(seq[s : s + L] == row for s in range(len(seq) - L + 1))
        seen.add(u)
    assert seen == set(limit)
    first_rows = batch["first"].numpy()
    for k in np.flatnonzero(first_rows)[:50]:
        u, L = int(batch["user"][k]), int(batch["lengths"][k])
        assert batch["items"][k, :L].tolist() == data.sequence(u)[:L].tolist()
    assert first_rows.sum() == len(users)  # one window per user starts at the first click


def test_sequence_dataset_negatives_redrawn(seq_ds):
    a = seq_ds.__getitems__([0, 1, 2])["negatives"]
    b = seq_ds.__getitems__([0, 1, 2])["negatives"]
    assert not torch.equal(a, b)


def test_sequence_dataset_seeded(data, sp):
    users, lengths = sp.pretrain_sequences()
    a = SequenceDataset(data, users, lengths, window=16, seed=5).__getitems__([3, 4])["negatives"]
    b = SequenceDataset(data, users, lengths, window=16, seed=5).__getitems__([3, 4])["negatives"]
    assert torch.equal(a, b)


def test_sequence_dataset_profile_override(data, sp):
    users, lengths = sp.pretrain_sequences()
    zeros = np.zeros_like(data.profiles)
    ds = SequenceDataset(data, users, lengths, window=16, profiles=zeros)
    assert (ds.__getitems__([0, 1])["profile"] == 0).all()


# ------------------------------------------------------------------------------------------
# InstanceDataset
# ------------------------------------------------------------------------------------------
def test_instance_dataset_batches(data, sp):
    inst = sp.instances("test")
    ds = InstanceDataset(data, inst, max_history=100)
    assert len(ds) == len(inst)
    order = np.argsort(inst.positions)
    short = order[:20].tolist()  # the shortest histories (zero-shot ones)
    batch = ds.__getitems__(short)
    assert batch["history"].shape == (20, max(1, int(inst.positions[short].max())))
    idx = [int(order[-1]), int(order[0])]
    batch = ds.__getitems__(idx)
    assert batch["history"].shape[1] == int(inst.positions[order[-1]])  # longest in batch
    assert np.array_equal(batch["target"].numpy(), inst.targets[idx])
    assert np.array_equal(batch["candidates"].numpy(), inst.candidates[idx])
    assert np.array_equal(batch["candidates"][:, 0].numpy(), batch["target"].numpy())
    hist, lengths = instance_histories(data, inst, 100)
    for row, k in enumerate(idx):
        assert batch["history"][row].tolist() == hist[k, : batch["history"].shape[1]].tolist()
        assert int(batch["lengths"][row]) == lengths[k]
    assert np.array_equal(batch["profile"].numpy(), data.profiles[inst.users[idx]])


def test_instance_dataset_without_candidates(data, sp):
    ds = InstanceDataset(data, sp.instances("tune"), max_history=5)
    batch = ds.__getitems__([0, 1, 2])
    assert "candidates" not in batch
    assert batch["history"].shape[1] <= 5


# ------------------------------------------------------------------------------------------
# loader
# ------------------------------------------------------------------------------------------
def order_of(ds, **kw):
    return torch.cat([b["user"] for b in loader(ds, batch_size=64, **kw)]).tolist()


def test_loader_covers_everything_once(data, sp):
    inst = sp.instances("val")
    ds = InstanceDataset(data, inst, max_history=100)
    batches = list(loader(ds, batch_size=64))
    assert sum(len(b["target"]) for b in batches) == len(inst)
    assert torch.cat([b["target"] for b in batches]).tolist() == inst.targets.tolist()  # unshuffled


def test_loader_shuffle_reproducible(data, sp):
    ds = InstanceDataset(data, sp.instances("val"), max_history=100)
    a = order_of(ds, shuffle=True, seed=1)
    b = order_of(ds, shuffle=True, seed=1)
    c = order_of(ds, shuffle=True, seed=2)
    plain = order_of(ds)
    assert a == b
    assert a != c and a != plain
    assert sorted(a) == sorted(plain)
