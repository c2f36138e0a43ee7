"""The held-out cold test population of generated data: the same world, never trained on."""

from __future__ import annotations

import numpy as np
import pytest

from pprlib.data.protocol import ProtocolConfig, split
from pprlib.data.synthetic import SyntheticConfig, generate
from pprlib.experiments import BookConfig, Comparison, TuneSettings, _instances
from pprlib.params import SettingError

CFG = SyntheticConfig(n_users=600, n_items=300)


@pytest.fixture(scope="module")
def worlds():
    return generate(CFG), generate(SyntheticConfig(n_users=600, n_items=300, heldout_users=400))


def test_held_out_users_leave_the_first_users_unchanged(worlds):
    base, more = worlds
    n = base.n_users
    keep = more.users < n
    for name in ("users", "items", "timestamps"):
        np.testing.assert_array_equal(getattr(base, name), getattr(more, name)[keep])
    np.testing.assert_array_equal(base.profiles, more.profiles[:n])
    np.testing.assert_array_equal(more.meta["heldout_users"], np.arange(n, n + 400))


def test_held_out_users_are_cold_users_of_the_same_world(worlds):
    base, more = worlds
    held = more.meta["heldout_users"]
    lengths = more.lengths[held]
    assert lengths.min() >= 1 and lengths.max() < CFG.cold_threshold
    cold = base.lengths[base.lengths < CFG.cold_threshold]
    # the length law given cold: means within 4 standard errors
    assert abs(lengths.mean() - cold.mean()) < 4 * np.sqrt(cold.var() / len(cold) + lengths.var() / len(lengths))
    latent = more.meta["latent"]
    np.testing.assert_array_equal(latent["successors"], base.meta["latent"]["successors"])  # same transitions
    # every click that follows the user's successor map is one of the same world's successors
    succ = latent["successors"][latent["style"][held]]  # (n_held, n_items, k) item codes, rows by index
    follows = 0
    for row, u in enumerate(held):
        seq = more.sequence(u)
        follows += sum(b in succ[row, a - 1] for a, b in zip(seq[:-1], seq[1:], strict=True))
    steps = int((lengths - 1).sum())
    assert follows / steps > CFG.sequential_strength - 0.1  # successors as often as the world says (plus chance)


def test_the_protocol_keeps_held_out_users_out_of_training(worlds):
    base, more = worlds
    a, b = split(base, ProtocolConfig()), split(more, ProtocolConfig())
    held = more.meta["heldout_users"]
    for users in (b.warm_users, b.tune_users, b.val_users, b.test_users):
        assert not np.isin(users, held).any()
    for name in a.sets:  # the paper-protocol sets are those of the data without held-out users
        for f in ("users", "positions", "targets", "candidates"):
            np.testing.assert_array_equal(getattr(a.sets[name], f), getattr(b.sets[name], f))
    inst = b.instances("heldout")
    assert set(inst.users) == set(held)
    assert not more.has_clicked(np.repeat(inst.users[:, None], inst.candidates.shape[1] - 1, 1),
                                inst.candidates[:, 1:]).any()
    both = b.instances("test+heldout")
    assert len(both) == len(b.instances("test")) + len(inst)
    assert "held-out cold test users (generated)" in b.table().index


def test_evaluation_on_the_held_out_population_is_chosen_by_the_settings(worlds):
    base, more = worlds
    b = split(more, ProtocolConfig())
    settings = TuneSettings(test="test+heldout")
    few = _instances(b, settings.test, "few", None)
    assert np.isin(few.users, more.meta["heldout_users"]).sum() == len(b.instances("heldout").few_shot())
    with pytest.raises(ValueError, match="no held-out test users"):
        _instances(split(base, ProtocolConfig()), "test+heldout", "few", None)
    with pytest.raises(ValueError, match="TuneSettings.test"):
        TuneSettings(test="heldout only")


def test_a_comparison_splits_by_population():
    flag = np.array([0, 0, 1, 1, 1], np.float32)
    per = {("a", 0): {"NDCG@10": np.array([1.0, 1.0, 0.0, 0.0, 0.0]), "position": np.ones(5, np.float32), "heldout": flag}}
    c = Comparison(per, {}, {})
    assert c.population("paper").per_instance[("a", 0)]["NDCG@10"].tolist() == [1.0, 1.0]
    assert c.population("heldout").per_instance[("a", 0)]["NDCG@10"].tolist() == [0.0, 0.0, 0.0]
    assert set(c.tidy().metric) == {"NDCG@10"}


def test_a_context_evaluates_where_its_split_has_test_users(worlds):
    """Every chapter's settings default to the held-out population when the split has one (the
    studies then share the main chapters' baseline runs), else to the paper's test users."""
    from pprlib.context import Context
    from pprlib.models.backbones import BackboneConfig

    base, more = worlds
    for data, expected in ((base, "test"), (more, "test+heldout")):
        ctx = Context(split(data, ProtocolConfig()), None, BackboneConfig())
        assert ctx.test_population == expected
        assert ctx.settings().test == expected
        assert ctx.settings(test="test").test == "test"  # a chapter may still ask for the paper's users


def test_profile_noise_reaches_the_held_out_users(worlds):
    from pprlib.runs import cold_profiles

    b = split(worlds[1], ProtocolConfig())
    noisy = cold_profiles(b, 1.0, seed=0)
    held = b.heldout_users
    changed = (noisy[held] != b.data.profiles[held]).any(axis=1).mean()
    assert changed > 0.5  # every field redrawn: most profiles change
    np.testing.assert_array_equal(noisy[b.warm_users], b.data.profiles[b.warm_users])


def test_book_config_checks_the_new_settings():
    assert BookConfig(seeds=(0, 1), main_seeds=(0, 1, 2, 3)).main_seed_list == [0, 1, 2, 3]
    assert BookConfig(seeds=(0, 1), main_seeds=()).main_seed_list == [0, 1]
    with pytest.raises(SettingError, match="main_seeds"):
        BookConfig(main_seeds=(1, 1))
    with pytest.raises(SettingError, match="heldout_users"):
        BookConfig(heldout_users=-1)
