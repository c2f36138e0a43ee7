"""The seeded generator: determinism, config validation, shape of the data, and that each
knob really controls its effect (p-values from pprlib.data.effects, fixed seeds).

Effect sizes at n_users=3000, n_items=500 (seed 0): every effect with its knob on has a
p-value below 1e-190; with the knob at 0 the p-values over 40 seeds were uniform-looking
(none below 0.01), so the fixed-seed thresholds below are far from the observed values.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from pprlib.data import effects
from pprlib.data.schema import MISSING, check_dataset
from pprlib.data.synthetic import PROFILE_SCHEMAS, SyntheticConfig, generate, knob_table

SMALL = dict(n_users=1500, n_items=300, max_length=100)
STAT = dict(n_users=3000, n_items=500, max_length=100, seed=0)


@pytest.fixture(scope="module")
def small():
    return generate(SyntheticConfig(**SMALL))


def arrays(data):
    return (data.profiles, data.users, data.items, data.timestamps)


# ------------------------------------------------------------------------------------------
# determinism
# ------------------------------------------------------------------------------------------
def test_same_config_identical_data(small):
    again = generate(SyntheticConfig(**SMALL))
    for a, b in zip(arrays(small), arrays(again), strict=True):
        assert np.array_equal(a, b)
    assert list(small.user_ids) == list(again.user_ids)
    assert small.fingerprint() == again.fingerprint()


def test_other_seed_other_data(small):
    other = generate(SyntheticConfig(**SMALL, seed=1))
    assert other.fingerprint() != small.fingerprint()
    n = min(len(other.items), len(small.items))
    assert not np.array_equal(other.items[:n], small.items[:n])
    assert not np.array_equal(other.profiles, small.profiles)


def test_name_is_only_a_label(small):
    renamed = generate(SyntheticConfig(**SMALL, name="other"))
    assert renamed.name == "other"
    assert renamed.fingerprint() == small.fingerprint()


# ------------------------------------------------------------------------------------------
# validation
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "field, value",
    [
        ("profile_signal", 1.5),
        ("profile_signal", -0.1),
        ("sequential_strength", 1.01),
        ("profile_style_signal", -1.0),
        ("profile_missing_rate", 2.0),
        ("cold_share", 0.0),
        ("cold_share", 1.0),
        ("n_users", 1),
        ("n_users", 2.5),
        ("n_items", 1),
        ("n_groups", 0),
        ("n_styles", 0),
        ("n_successors", 0),
        ("cold_threshold", 1),
        ("profile", "x"),
        ("popularity_skew", -1.0),
        ("preference_sharpness", -0.5),
        ("length_sigma", 0.0),
        ("mean_gap_seconds", -1.0),
    ],
)
def test_config_rejects_bad_values(field, value):
    with pytest.raises(ValueError, match=field):
        SyntheticConfig(**{field: value})


def test_config_max_length_below_n_items():
    with pytest.raises(ValueError, match="max_length"):
        SyntheticConfig(n_items=100, max_length=100)
    with pytest.raises(ValueError, match="max_length"):
        SyntheticConfig(n_items=100, max_length=150)
    SyntheticConfig(n_items=101, max_length=100)  # fine


def test_config_max_length_at_least_cold_threshold():
    with pytest.raises(ValueError, match="max_length"):
        SyntheticConfig(cold_threshold=10, max_length=9)


def test_config_n_items_at_least_n_groups():
    with pytest.raises(ValueError, match="n_groups"):
        SyntheticConfig(n_items=10, n_groups=12, max_length=9, cold_threshold=5)


def test_config_edge_values_accepted():
    for knob in ("profile_signal", "sequential_strength", "profile_style_signal", "profile_missing_rate"):
        SyntheticConfig(**{knob: 0.0})
        SyntheticConfig(**{knob: 1.0})
    SyntheticConfig(popularity_skew=0.0)


def test_knob_table_lists_values():
    table = knob_table(SyntheticConfig(profile_signal=0.3))
    assert table.loc["profile_signal", "value"] == "0.3"
    assert table.loc["n_users / n_items", "value"] == "6000 / 1000"


# ------------------------------------------------------------------------------------------
# shape of the data
# ------------------------------------------------------------------------------------------
def test_encoding_contract(small):
    check_dataset(small)
    assert small.n_users == SMALL["n_users"] and small.n_items == SMALL["n_items"]
    assert small.items.min() >= 1 and small.items.max() <= small.n_items
    assert small.lengths.min() >= 1 and small.lengths.max() <= SMALL["max_length"]
    assert small.item_ids[0] is None
    for f in small.profile_fields:
        assert small.vocab[f][0] == MISSING


def test_every_user_leaves_unclicked_items(small):
    distinct = np.array([len(np.unique(small.sequence(u))) for u in range(small.n_users)])
    assert distinct.max() <= SMALL["max_length"] < small.n_items


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cold_share_close_to_config(seed):
    cfg = SyntheticConfig(n_users=3000, n_items=500, max_length=100, cold_share=0.25, seed=seed)
    data = generate(cfg)
    # users are drawn independently: the share has sd sqrt(0.25 * 0.75 / 3000) = 0.008, and a
    # bound of 5 sd (0.04) fails with probability < 1e-6 per seed (0.03, 3.8 sd: 1.4e-4)
    assert abs((data.lengths < cfg.cold_threshold).mean() - 0.25) < 0.04


def test_cold_share_follows_knob_and_threshold():
    cfg = SyntheticConfig(n_users=3000, n_items=500, max_length=100, cold_share=0.5, cold_threshold=5)
    data = generate(cfg)
    assert abs((data.lengths < 5).mean() - 0.5) < 0.046  # 5 sd of a share of 3000 independent users


@pytest.mark.parametrize("profile", ["cikm", "aliec"])
def test_profile_schemas(profile):
    data = generate(SyntheticConfig(n_users=300, n_items=200, max_length=50, profile=profile))
    schema = PROFILE_SCHEMAS[profile]
    assert data.profile_fields == list(schema)
    assert len(data.profile_fields) == {"cikm": 3, "aliec": 8}[profile]
    assert data.profiles.shape == (300, len(schema))
    for j, (f, values) in enumerate(schema.items()):
        assert data.vocab[f] == [MISSING, *values]
        assert 0 <= data.profiles[:, j].min() and data.profiles[:, j].max() <= len(values)
    check_dataset(data)


def test_cikm_field_names():
    assert list(PROFILE_SCHEMAS["cikm"]) == ["gender", "age", "purchase_power"]


@pytest.mark.parametrize("rate", [0.0, 0.02, 0.3])
def test_profile_missing_rate(rate):
    data = generate(SyntheticConfig(n_users=3000, n_items=500, max_length=100, profile_missing_rate=rate))
    observed = (data.profiles == 0).mean()
    assert abs(observed - rate) < max(0.01, 0.15 * rate)
    # observed codes are the true ones where not missing
    true = data.meta["latent"]["true_profiles"]
    seen = data.profiles != 0
    assert np.array_equal(data.profiles[seen], true[seen])


def test_timestamps_non_decreasing_within_user(small):
    same_user = small.users[1:] == small.users[:-1]
    assert np.all(np.diff(small.timestamps)[same_user] >= 0)
    assert small.timestamps.min() >= 1_577_836_800


# ------------------------------------------------------------------------------------------
# each knob at zero removes its effect and only its effect
# ------------------------------------------------------------------------------------------
EFFECTS = {
    "profile_signal": effects.profile_preference,
    "sequential_strength": effects.sequential_dependence,
    "profile_style_signal": effects.profile_style,
    "popularity_skew": effects.popularity_skew,
}


@pytest.fixture(scope="module")
def default_stat():
    return generate(SyntheticConfig(**STAT))


def test_effect_table_default_all_significant(default_stat):
    table = effects.effect_table(default_stat)
    assert list(table["knob"]) == list(EFFECTS)
    assert (table["p_value"] < 1e-6).all(), table


@pytest.mark.parametrize("knob", list(EFFECTS))
def test_knob_at_zero_removes_only_its_effect(knob, default_stat):
    assert EFFECTS[knob](default_stat)["p_value"] < 1e-6
    off = generate(SyntheticConfig(**STAT, **{knob: 0.0}))
    # with the knob at zero the effect is absent, so its p-value is uniform on [0, 1]: a bound
    # of 0.01 fails for 1 seed in 100 per knob (checked over 20 seeds); 1e-5 keeps the chance of
    # a false failure over the four knobs below 1e-4, still far above the < 1e-6 when it is on
    assert EFFECTS[knob](off)["p_value"] > 1e-5
    for other, measure in EFFECTS.items():
        if other != knob:
            assert measure(off)["p_value"] < 1e-6, (knob, other)


@pytest.mark.parametrize("knob", list(EFFECTS))
def test_effect_value_shrinks_with_knob(knob, default_stat):
    """The statistic itself (not only the p-value) drops when the knob is off."""
    on = EFFECTS[knob](default_stat)["value"]
    off = EFFECTS[knob](generate(SyntheticConfig(**STAT, **{knob: 0.0})))["value"]
    assert off < on / 2
    if knob == "sequential_strength":
        assert abs(off) < 0.02


def test_effects_need_ground_truth(small):
    stripped = dataclasses.replace(small)  # a fresh object without the generator's meta
    stripped.meta = {}
    with pytest.raises(ValueError, match="ground truth"):
        effects.profile_preference(stripped)
