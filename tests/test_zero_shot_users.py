"""The held-out one-click users of generated data: zero-shot test instances only, from the same
world, changing nothing else."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from pprlib.data.protocol import ProtocolConfig, split
from pprlib.data.synthetic import SyntheticConfig, TargetDomainConfig, generate, generate_two_domains
from pprlib.experiments import BookConfig
from pprlib.params import SettingError

BASE = SyntheticConfig(n_users=600, n_items=300, heldout_users=300)
MORE = SyntheticConfig(n_users=600, n_items=300, heldout_users=300, zero_shot_users=3000)


@pytest.fixture(scope="module")
def worlds():
    return generate(BASE), generate(MORE)


def test_one_click_users_come_last_and_change_no_other_user(worlds):
    base, more = worlds
    n = base.n_users
    keep = more.users < n
    for name in ("users", "items", "timestamps"):
        np.testing.assert_array_equal(getattr(base, name), getattr(more, name)[keep])
    np.testing.assert_array_equal(base.profiles, more.profiles[:n])
    one = more.meta["zero_shot_users"]
    np.testing.assert_array_equal(one, np.arange(n, n + 3000))
    np.testing.assert_array_equal(more.meta["heldout_users"], np.concatenate([base.meta["heldout_users"], one]))
    assert (more.lengths[one] == 1).all()
    assert more.user_ids[one[0]] == "z0" and more.user_ids[one[-1]] == "z2999"
    assert "zero_shot_users" not in base.meta


def test_one_click_users_click_first_as_every_cold_user_does(worlds):
    """A first click depends on the user's preference alone, so one-click users' first clicks
    follow the law of the cold users' first clicks: their item groups are indistinguishable
    from those of a large sample of ordinary users' first clicks (a chi-square test; it fails
    when the one-click users draw their click from another law, e.g. the items' popularity)."""
    data = generate(SyntheticConfig(n_users=600, n_items=300, heldout_users=3000, zero_shot_users=3000))
    group = data.meta["latent"]["item_group"]
    first = lambda users: data.items[data.offsets[users]] - 1  # noqa: E731
    one = data.meta["zero_shot_users"]
    cold = np.setdiff1d(data.meta["heldout_users"], one)  # the held-out cold users: 1 to 9 clicks
    ones = np.bincount(group[first(one)], minlength=group.max() + 1)
    held = np.bincount(group[first(cold)], minlength=group.max() + 1)
    table = np.stack([ones, held])
    table = table[:, table.sum(axis=0) > 0]
    assert stats.chi2_contingency(table).pvalue > 0.01
    # and they differ from the world's item popularity alone (the test has the power to see it)
    popular = np.bincount(group, weights=data.meta["latent"]["popularity"], minlength=group.max() + 1)
    assert stats.chisquare(ones, popular / popular.sum() * ones.sum()).pvalue < 1e-6


def test_the_protocol_gives_one_click_users_their_own_zero_shot_set(worlds):
    base, more = worlds
    a, b = split(base, ProtocolConfig()), split(more, ProtocolConfig())
    one = more.meta["zero_shot_users"]
    for users in (b.warm_users, b.tune_users, b.val_users, b.test_users):
        assert not np.isin(users, one).any()
    for name in a.sets:  # every other set, candidates included, as without them
        for f in ("users", "positions", "targets", "candidates"):
            np.testing.assert_array_equal(getattr(a.sets[name], f), getattr(b.sets[name], f))
    np.testing.assert_array_equal(b.one_click_users, one)
    np.testing.assert_array_equal(b.heldout_cold_users, a.heldout_users)
    assert len(a.one_click_users) == 0
    zero = b.instances("heldout_zero")
    np.testing.assert_array_equal(zero.users, one)
    assert (zero.positions == 0).all()
    assert not more.has_clicked(np.repeat(zero.users[:, None], zero.candidates.shape[1] - 1, 1),
                                zero.candidates[:, 1:]).any()
    both_a, both_b = a.instances("test+heldout"), b.instances("test+heldout")
    assert len(both_b.few_shot()) == len(both_a.few_shot())
    assert len(both_b.zero_shot()) == len(both_a.zero_shot()) + len(one)
    rows = b.table()["value"]
    assert rows["held-out one-click test users (generated; zero-shot only)"] == len(one)
    assert rows["held-out cold test users (generated)"] == BASE.heldout_users


def test_one_click_users_alone_make_a_held_out_population():
    data = generate(SyntheticConfig(n_users=600, n_items=300, zero_shot_users=200))
    sp = split(data, ProtocolConfig())
    assert "heldout" not in sp.sets and len(sp.instances("heldout_zero")) == 200
    assert len(sp.instances("test+heldout")) == len(sp.instances("test")) + 200


def test_the_cross_domain_target_has_no_one_click_users(worlds):
    target = TargetDomainConfig(n_items=150)
    _, t_base = generate_two_domains(BASE, target)
    _, t_more = generate_two_domains(MORE, target)
    assert t_base.fingerprint() == t_more.fingerprint()
    np.testing.assert_array_equal(t_base.meta["latent"]["source_users"], t_more.meta["latent"]["source_users"])


def test_the_settings_are_checked():
    with pytest.raises(ValueError, match="SyntheticConfig.zero_shot_users"):
        SyntheticConfig(zero_shot_users=-1)
    with pytest.raises(SettingError, match="zero_shot_users"):
        BookConfig(zero_shot_users=-5)
    with pytest.raises(SettingError, match="zero_shot_seeds"):
        BookConfig(zero_shot_seeds=(2, 2))
    assert BookConfig(main_seeds=(0, 1), zero_shot_seeds=()).zero_shot_seed_list == [0, 1]
    assert BookConfig(seeds=(4,), main_seeds=(), zero_shot_seeds=()).zero_shot_seed_list == [4]
    assert BookConfig(zero_shot_seeds=(3, 4)).zero_shot_seed_list == [3, 4]
