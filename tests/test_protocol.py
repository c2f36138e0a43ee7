"""The cold-start protocol: warm/cold split, instances, fixed candidates, simulation,
persistence, and negative sampling."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from pprlib.data.protocol import ColdStartSplit, ProtocolConfig, simulate_cold_users, split
from pprlib.data.sampling import sample_negatives
from pprlib.data.schema import MISSING, InteractionData
from pprlib.data.synthetic import SyntheticConfig, generate

SMALL = dict(n_users=1500, n_items=300, max_length=100)


@pytest.fixture(scope="module")
def data():
    return generate(SyntheticConfig(**SMALL))


@pytest.fixture(scope="module")
def sp(data):
    return split(data, ProtocolConfig(seed=3))


def make_data(lengths, n_items, seed=0, repeat_items=False):
    """A hand-built dataset: user u has lengths[u] clicks on distinct random items."""
    rng = np.random.default_rng(seed)
    lengths = np.asarray(lengths)
    users = np.repeat(np.arange(len(lengths)), lengths)
    if repeat_items:
        items = rng.integers(1, n_items + 1, size=lengths.sum())
    else:
        items = np.concatenate([rng.choice(n_items, size=n, replace=False) + 1 for n in lengths])
    ts = np.arange(len(users), dtype=np.int64)
    return InteractionData(
        name="hand", profile_fields=["g"], vocab={"g": [MISSING, "a", "b"]},
        profiles=rng.integers(0, 3, size=(len(lengths), 1)),
        user_ids=np.array([f"u{u}" for u in range(len(lengths))], dtype=object),
        item_ids=np.array([None, *(f"i{i}" for i in range(1, n_items + 1))], dtype=object),
        users=users, items=items.astype(np.int64), timestamps=ts,
    )


def user_clicks(data, u):
    return set(data.sequence(u).tolist())


# ------------------------------------------------------------------------------------------
# split
# ------------------------------------------------------------------------------------------
def test_split_is_deterministic(data, sp):
    again = split(data, ProtocolConfig(seed=3))
    for name in ("warm_users", "tune_users", "val_users", "test_users"):
        assert np.array_equal(getattr(sp, name), getattr(again, name))
    for name, inst in sp.sets.items():
        other = again.instances(name)
        assert np.array_equal(inst.users, other.users)
        assert np.array_equal(inst.positions, other.positions)
        if inst.candidates is not None:
            assert np.array_equal(inst.candidates, other.candidates)


def test_other_seed_other_user_split(data, sp):
    other = split(data, ProtocolConfig(seed=4))
    assert not np.array_equal(other.test_users, sp.test_users)
    assert np.array_equal(other.warm_users, sp.warm_users)  # warm/cold depends on lengths only


def test_warm_and_cold_by_threshold(data, sp):
    t = sp.config.cold_threshold
    assert (data.lengths[sp.warm_users] >= t).all()
    cold = np.concatenate([sp.tune_users, sp.val_users, sp.test_users])
    assert (data.lengths[cold] < t).all() and (data.lengths[cold] >= 1).all()


def test_groups_disjoint_and_cover_all_users(data, sp):
    groups = [sp.warm_users, sp.tune_users, sp.val_users, sp.test_users]
    everyone = np.concatenate(groups)
    assert len(everyone) == len(np.unique(everyone))
    assert set(everyone.tolist()) == set(np.flatnonzero(data.lengths > 0).tolist())
    for g in groups:
        assert len(g) > 0


def test_split_shares(sp):
    n_cold = len(sp.tune_users) + len(sp.val_users) + len(sp.test_users)
    assert abs(len(sp.test_users) - 0.2 * n_cold) <= 1
    n_tuning = len(sp.tune_users) + len(sp.val_users)
    assert abs(len(sp.val_users) - 0.1 * n_tuning) <= 1


def test_split_shares_follow_config(data):
    s = split(data, ProtocolConfig(test_share=0.5, val_share=0.3))
    n_cold = len(s.tune_users) + len(s.val_users) + len(s.test_users)
    assert abs(len(s.test_users) - 0.5 * n_cold) <= 1
    assert abs(len(s.val_users) - 0.3 * (len(s.tune_users) + len(s.val_users))) <= 1


def test_cold_instances_zero_and_few_shot(data, sp):
    for name, group in (("tune", sp.tune_users), ("val", sp.val_users), ("test", sp.test_users)):
        inst = sp.instances(name)
        zero = inst.zero_shot()
        assert np.all(zero.positions == 0)
        assert sorted(zero.users.tolist()) == sorted(group.tolist())  # exactly one per cold user
        few = inst.few_shot()
        assert np.all(few.positions > 0)
        assert len(inst) == data.lengths[group].sum()  # every click is an instance
        # targets are the clicks at the positions; every (user, position) appears once
        assert np.array_equal(inst.targets, data.items[data.offsets[inst.users] + inst.positions])
        pairs = set(zip(inst.users.tolist(), inst.positions.tolist(), strict=True))
        assert len(pairs) == len(inst)
        expected = {(u, p) for u in group.tolist() for p in range(data.lengths[u])}
        assert pairs == expected


def test_warm_instances_leave_one_out(data, sp):
    wt, wv = sp.instances("warm_test"), sp.instances("warm_val")
    assert np.array_equal(wt.users, sp.warm_users) and np.array_equal(wv.users, sp.warm_users)
    assert np.array_equal(wt.positions, data.lengths[sp.warm_users] - 1)
    assert np.array_equal(wv.positions, data.lengths[sp.warm_users] - 2)
    last = np.array([data.sequence(u)[-1] for u in sp.warm_users])
    assert np.array_equal(wt.targets, last)
    users, lengths = sp.pretrain_sequences()
    assert np.array_equal(users, sp.warm_users)
    assert np.array_equal(lengths, data.lengths[sp.warm_users] - 2)


def test_unknown_instance_set(sp):
    with pytest.raises(ValueError, match="unknown instance set"):
        sp.instances("train")


def test_tuning_set_has_no_candidates(sp):
    assert sp.instances("tune").candidates is None


@pytest.mark.parametrize("name", ["val", "test", "warm_val", "warm_test"])
def test_candidates(data, sp, name):
    inst = sp.instances(name)
    cand = inst.candidates
    assert cand.shape == (len(inst), 100)
    assert np.array_equal(cand[:, 0], inst.targets)
    neg = cand[:, 1:]
    assert neg.min() >= 1 and neg.max() <= data.n_items
    srt = np.sort(neg, axis=1)
    assert (srt[:, 1:] != srt[:, :-1]).all()  # 99 distinct negatives per row
    assert not data.has_clicked(np.repeat(inst.users[:, None], 99, axis=1), neg).any()
    # brute force on a few rows
    for k in range(0, len(inst), max(1, len(inst) // 7)):
        assert not (set(neg[k].tolist()) & user_clicks(data, inst.users[k]))


def test_candidates_same_for_seed_differ_across_seeds(data, sp):
    same = split(data, ProtocolConfig(seed=3)).instances("warm_test").candidates
    assert np.array_equal(same, sp.instances("warm_test").candidates)
    other = split(data, ProtocolConfig(seed=4)).instances("warm_test").candidates
    assert np.array_equal(other[:, 0], same[:, 0])  # same warm targets
    assert not np.array_equal(other[:, 1:], same[:, 1:])


def test_candidates_one_instance_per_row_of_a_user_are_fixed_independently(sp):
    """Two instances of the same cold user get their own candidate lists (not one per user)."""
    test = sp.instances("test")
    users, counts = np.unique(test.users, return_counts=True)
    u = users[np.argmax(counts)]
    rows = test.candidates[test.users == u, 1:]
    assert len(rows) > 1 and not np.array_equal(rows[0], rows[1])


def test_n_negatives_config(data):
    s = split(data, ProtocolConfig(n_negatives=10))
    assert s.instances("test").candidates.shape[1] == 11


def test_k_shot(sp):
    test = sp.instances("test")
    for k in (1, 3):
        ks = test.k_shot(k)
        assert ks.positions.min() == 1 and ks.positions.max() == k
        assert len(ks) == ((test.positions >= 1) & (test.positions <= k)).sum()
        assert np.array_equal(ks.candidates, test.candidates[(test.positions >= 1) & (test.positions <= k)])
    with pytest.raises(ValueError, match="k"):
        test.k_shot(0)


def test_select_keeps_rows_aligned(sp):
    test = sp.instances("test")
    sub = test.select(test.users == test.users[0])
    assert np.all(sub.users == test.users[0])
    assert np.array_equal(sub.candidates[:, 0], sub.targets)


def test_table_has_paper_rows(data, sp):
    table = sp.table()
    for row in ("users", "items", "interactions", "pre-train instances", "tuning instances",
                "profile fields"):
        assert row in table.index
    assert table.loc["users", "value"] == data.n_users
    assert table.loc["items", "value"] == data.n_items
    assert table.loc["interactions", "value"] == data.n_interactions
    assert table.loc["profile fields", "value"] == 3
    assert table.loc["pre-train instances", "value"] == (data.lengths[sp.warm_users] - 2).sum()
    assert table.loc["tuning instances", "value"] == data.lengths[
        np.concatenate([sp.tune_users, sp.val_users])].sum()
    test = sp.instances("test")
    assert table.loc["test instances (few-shot / zero-shot)", "value"] == (
        f"{(test.positions > 0).sum()} / {(test.positions == 0).sum()}")


def test_describe_user(sp):
    u = int(sp.test_users[0])
    frame = sp.describe_user(u)
    assert len(frame) == sp.data.lengths[u]
    assert frame["kind"].iloc[0] == "zero-shot"
    assert (frame["split"] == "test").all()
    with pytest.raises(ValueError, match="not a cold user"):
        sp.describe_user(int(sp.warm_users[0]))


# ------------------------------------------------------------------------------------------
# simulated cold users
# ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def all_warm():
    rng = np.random.default_rng(5)
    return make_data(rng.integers(20, 60, size=400), n_items=200, seed=5)


def test_simulate_cold_share(all_warm):
    cfg = ProtocolConfig(simulate_cold_share=0.3, seed=1)
    s = split(all_warm, cfg)
    trunc = s.data
    assert trunc.n_users == all_warm.n_users
    cold = np.concatenate([s.tune_users, s.val_users, s.test_users])
    assert len(cold) == round(0.3 * all_warm.n_users)
    assert trunc.lengths[cold].min() >= 1 and trunc.lengths[cold].max() <= cfg.cold_threshold - 1
    # lengths 1..9 all occur (uniform truncation)
    assert set(trunc.lengths[cold].tolist()) == set(range(1, cfg.cold_threshold))
    for u in cold:
        n = trunc.lengths[u]
        assert np.array_equal(trunc.sequence(u), all_warm.sequence(u)[:n])  # FIRST clicks
    warm = s.warm_users
    assert np.array_equal(trunc.lengths[warm], all_warm.lengths[warm])  # untouched
    # instances refer to the truncated data
    test = s.instances("test")
    assert np.array_equal(test.targets, trunc.items[trunc.offsets[test.users] + test.positions])


def test_simulate_is_deterministic(all_warm):
    a = split(all_warm, ProtocolConfig(simulate_cold_share=0.3, seed=1))
    b = split(all_warm, ProtocolConfig(simulate_cold_share=0.3, seed=1))
    c = split(all_warm, ProtocolConfig(simulate_cold_share=0.3, seed=2))
    assert a.data.fingerprint() == b.data.fingerprint() != c.data.fingerprint()
    assert np.array_equal(a.instances("test").candidates, b.instances("test").candidates)


def test_simulate_cold_users_function(all_warm):
    out = simulate_cold_users(all_warm, 0.5, 10, np.random.default_rng(0))
    changed = np.flatnonzero(out.lengths != all_warm.lengths)
    assert len(changed) == 200
    assert out.lengths[changed].max() <= 9


def test_simulate_on_generated_data():
    data = generate(SyntheticConfig(**SMALL, cold_share=0.001))
    before = (data.lengths < 10).sum()
    s = split(data, ProtocolConfig(simulate_cold_share=0.2))
    n_cold = len(s.tune_users) + len(s.val_users) + len(s.test_users)
    assert n_cold >= round(0.2 * data.n_users)
    assert n_cold <= round(0.2 * data.n_users) + before


def test_no_cold_users_raises(all_warm):
    with pytest.raises(ValueError, match="simulate_cold_share"):
        split(all_warm, ProtocolConfig())


def test_too_few_warm_users_raises():
    data = make_data([3] * 50 + [30] * 5, n_items=100)
    with pytest.raises(ValueError, match="warm"):
        split(data, ProtocolConfig())


# ------------------------------------------------------------------------------------------
# ProtocolConfig
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "field, value",
    [
        ("cold_threshold", 1),
        ("cold_threshold", 2.5),
        ("test_share", 0.0),
        ("test_share", 1.0),
        ("val_share", -0.1),
        ("val_share", 1.5),
        ("simulate_cold_share", 1.0),
        ("simulate_cold_share", -0.1),
        ("n_negatives", 0),
        ("n_negatives", 9.5),
        ("max_history", 0),
    ],
)
def test_protocol_config_validation(field, value):
    with pytest.raises(ValueError, match=field):
        ProtocolConfig(**{field: value})


def test_protocol_config_defaults_are_the_paper():
    cfg = ProtocolConfig()
    assert (cfg.cold_threshold, cfg.test_share, cfg.n_negatives) == (10, 0.2, 99)


# ------------------------------------------------------------------------------------------
# persistence
# ------------------------------------------------------------------------------------------
def test_save_load_round_trip(tmp_path, data, sp):
    path = tmp_path / "split.npz"
    sp.save(path)
    back = ColdStartSplit.load(path, data, sp.config)
    for name in ("warm_users", "tune_users", "val_users", "test_users"):
        assert np.array_equal(getattr(back, name), getattr(sp, name))
    assert set(back.sets) == set(sp.sets)
    for name, inst in sp.sets.items():
        got = back.instances(name)
        for attr in ("users", "positions", "targets"):
            assert np.array_equal(getattr(got, attr), getattr(inst, attr))
        if inst.candidates is None:
            assert got.candidates is None
        else:
            assert np.array_equal(got.candidates, inst.candidates)
    assert back.table().equals(sp.table())


def test_load_refuses_other_data(tmp_path, data, sp):
    path = tmp_path / "split.npz"
    sp.save(path)
    other = generate(SyntheticConfig(**SMALL, seed=9))
    assert other.n_interactions != data.n_interactions
    with pytest.raises(ValueError, match="other data"):
        ColdStartSplit.load(path, other, sp.config)


def test_load_refuses_other_data_of_equal_size(tmp_path, data, sp):
    """Same number of interactions, other content: the candidates would be wrong."""
    path = tmp_path / "split.npz"
    sp.save(path)
    items = data.items.copy()
    items[:50] = items[:50] % data.n_items + 1
    other = dataclasses.replace(data, items=items)
    assert other.n_interactions == data.n_interactions
    with pytest.raises(ValueError, match="other data"):
        ColdStartSplit.load(path, other, sp.config)


def test_load_simulated_split_needs_truncated_data(tmp_path, all_warm):
    s = split(all_warm, ProtocolConfig(simulate_cold_share=0.3, seed=1))
    path = tmp_path / "sim.npz"
    s.save(path)
    with pytest.raises(ValueError, match="other data"):
        ColdStartSplit.load(path, all_warm, s.config)
    back = ColdStartSplit.load(path, s.data, s.config)
    assert np.array_equal(back.instances("test").candidates, s.instances("test").candidates)


# ------------------------------------------------------------------------------------------
# sample_negatives
# ------------------------------------------------------------------------------------------
def test_sample_negatives_distinct(data):
    users = np.arange(0, data.n_users, 3)
    neg = sample_negatives(data, users, 99, np.random.default_rng(0))
    assert neg.shape == (len(users), 99)
    srt = np.sort(neg, axis=1)
    assert (srt[:, 1:] != srt[:, :-1]).all()
    assert neg.min() >= 1 and neg.max() <= data.n_items
    assert not data.has_clicked(np.repeat(users[:, None], 99, axis=1), neg).any()


def test_sample_negatives_non_distinct(data):
    users = np.repeat(np.arange(50), 4)
    neg = sample_negatives(data, users, 200, np.random.default_rng(0), distinct=False)
    assert neg.shape == (200, 200)
    assert not data.has_clicked(np.repeat(users[:, None], 200, axis=1), neg).any()
    srt = np.sort(neg, axis=1)
    assert (srt[:, 1:] == srt[:, :-1]).any()  # independent draws repeat (200 of <= 300 items)


def test_sample_negatives_seeded(data):
    users = np.arange(20)
    a = sample_negatives(data, users, 5, np.random.default_rng(1))
    b = sample_negatives(data, users, 5, np.random.default_rng(1))
    c = sample_negatives(data, users, 5, np.random.default_rng(2))
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_sample_negatives_roughly_uniform():
    data = make_data([5] * 10, n_items=50)
    neg = sample_negatives(data, np.zeros(20000, dtype=np.int64), 1, np.random.default_rng(0),
                           distinct=False).ravel()
    counts = np.bincount(neg, minlength=51)[1:]
    clicked = np.array(sorted(user_clicks(data, 0))) - 1
    assert (counts[clicked] == 0).all()
    free = np.delete(counts, clicked)
    expected = 20000 / 45
    assert np.abs(free - expected).max() < 5 * np.sqrt(expected)


def test_sample_negatives_empty_users(data):
    assert sample_negatives(data, np.zeros(0, dtype=np.int64), 3, np.random.default_rng(0)).shape == (0, 3)


def test_sample_negatives_user_with_almost_every_item_raises():
    data = make_data([5, 95, 5], n_items=100)
    with pytest.raises(ValueError, match="'u1'"):
        sample_negatives(data, np.array([0, 1, 2]), 10, np.random.default_rng(0))
    sample_negatives(data, np.array([0, 2]), 10, np.random.default_rng(0))  # others fine
    with pytest.raises(ValueError, match="n must be"):
        sample_negatives(data, np.array([0]), 0, np.random.default_rng(0))


def test_sample_negatives_counts_distinct_items_not_clicks():
    """A user with many repeated clicks on few items still has plenty of unclicked items."""
    rng = np.random.default_rng(0)
    lengths = np.array([150, 5])
    users = np.repeat([0, 1], lengths)
    items = np.concatenate([rng.integers(1, 11, size=150), [20, 21, 22, 23, 24]])
    data = dataclasses.replace(make_data(lengths, 120, repeat_items=True), users=users, items=items)
    neg = sample_negatives(data, np.array([0, 1]), 99, np.random.default_rng(0))
    assert not (set(neg[0].tolist()) & set(range(1, 11)))
    assert len(set(neg[0].tolist())) == 99


def test_sample_negatives_exactly_enough_unclicked_items():
    """A user with exactly n unclicked items gets exactly those (no spurious failure)."""
    data = make_data([5, 90, 5], n_items=100)
    neg = sample_negatives(data, np.array([1, 1]), 10, np.random.default_rng(0))
    free = sorted(set(range(1, 101)) - user_clicks(data, 1))
    assert sorted(neg[0].tolist()) == free and sorted(neg[1].tolist()) == free
    neg = sample_negatives(data, np.array([1]), 30, np.random.default_rng(0), distinct=False)
    assert set(neg[0].tolist()) <= set(free)


def test_sample_negatives_user_who_clicked_everything():
    data = make_data([5, 100], n_items=100)
    with pytest.raises(ValueError, match="'u1'"):
        sample_negatives(data, np.array([0, 1]), 1, np.random.default_rng(0), distinct=False)
