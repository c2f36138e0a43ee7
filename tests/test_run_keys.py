"""Cache keys that cannot go stale: a run's key changes with everything its result depends on
(the split's data and test population, the method's settings, the arithmetic precision),
even where the pre-trained model it starts from is shared."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from pprlib import cache, runs
from pprlib.context import Context
from pprlib.data.protocol import ProtocolConfig, split
from pprlib.data.synthetic import SyntheticConfig, generate
from pprlib.models.backbones import BackboneConfig
from pprlib.train import TrainConfig

BACKBONE = BackboneConfig(d=16, ffn=16, max_len=30)


@pytest.fixture(scope="module")
def sp():
    return split(generate(SyntheticConfig(n_users=500, n_items=200, max_length=30)), ProtocolConfig())


def context(sp, pre_key: str = "shared pre-training") -> Context:
    return Context(sp, runs.Pretrained({}, pd.DataFrame(), pre_key), BACKBONE)


def other_profiles(sp):
    """The same split whose data differs in one cold test user's profile only."""
    profiles = sp.data.profiles.copy()
    user = sp.test_users[0]
    profiles[user, 0] = 1 + profiles[user, 0] % (sp.data.field_sizes[0] - 1)
    return dataclasses.replace(sp, data=dataclasses.replace(sp.data, profiles=profiles))


def other_test_population(sp):
    """The same split with one cold test user (and their test instances) held out."""
    dropped = sp.test_users[-1]
    test = sp.sets["test"]
    return dataclasses.replace(sp, test_users=sp.test_users[:-1],
                               sets={**sp.sets, "test": test.select(test.users != dropped)})


def keys(ctx, settings=None, name="ft") -> set[str]:
    settings = settings or runs.TuneSettings()
    return {runs.run_key(kind, ctx, name, settings, "few", 0) for kind in ("run", "model")}


@pytest.mark.parametrize("change", [other_profiles, other_test_population], ids=["profiles", "test population"])
def test_a_split_that_differs_in_one_thing_has_other_run_keys(sp, change):
    changed = change(sp)
    assert not np.array_equal(changed.data.profiles, sp.data.profiles) or len(changed.test_users) < len(sp.test_users)
    # the same pre-trained model (one key) for both splits: the runs must still differ
    assert keys(context(sp)).isdisjoint(keys(context(changed)))
    assert runs.split_fingerprint(sp) != runs.split_fingerprint(changed)


def test_pretraining_is_shared_across_test_populations_only(sp):
    """Pre-training reads the warm users: another cold test population shares it (so the
    runs' keys must carry the population themselves); other data does not."""
    cfg = TrainConfig()
    base = runs.pretraining_key(sp, BACKBONE, cfg)
    assert runs.pretraining_key(other_test_population(sp), BACKBONE, cfg) == base
    assert runs.pretraining_key(other_profiles(sp), BACKBONE, cfg) != base
    # the "trained on all data" baseline reads the cold tuning users too
    assert runs.pretraining_key(sp, BACKBONE, cfg, include_cold=True) != base


def test_run_keys_follow_the_settings_the_method_reads(sp):
    ctx = context(sp)
    base = runs.TuneSettings()
    assert keys(ctx, dataclasses.replace(base, train=dataclasses.replace(base.train, amp=False))).isdisjoint(keys(ctx, base))
    assert keys(ctx, dataclasses.replace(base, profile_noise=0.25)).isdisjoint(keys(ctx, base))
    assert keys(ctx, dataclasses.replace(base, lr={"ft": 1e-2})).isdisjoint(keys(ctx, base))
    # another method's learning rate is not read by ft: the run is shared
    assert keys(ctx, dataclasses.replace(base, lr={"PPR(light)": 1e-2})) == keys(ctx, base)
    assert keys(context(sp, "another pre-training")).isdisjoint(keys(ctx, base))


def test_the_cache_layout_is_part_of_every_key(monkeypatch):
    before = cache.config_key("x")
    monkeypatch.setattr(cache, "LAYOUT", cache.LAYOUT + 1)
    assert cache.config_key("x") != before


def test_a_runs_key_changes_with_the_kind_of_targets(small_ctx):
    """Few-shot, zero-shot and joint runs of one method, seed and settings are three results."""
    from pprlib.runs import run_key

    settings = small_ctx.settings()
    keys = {t: run_key("run", small_ctx, "PPR(light)", settings, t, 0) for t in ("few", "zero", "all")}
    assert len(set(keys.values())) == 3


def test_the_profile_noise_draw_changes_with_the_seed_and_only_with_it(small_ctx):
    import numpy as np

    from pprlib.runs import cold_profiles

    a, b = cold_profiles(small_ctx.split, 0.5, seed=0), cold_profiles(small_ctx.split, 0.5, seed=1)
    assert not np.array_equal(a, b)  # another seed, another draw
    assert np.array_equal(a, cold_profiles(small_ctx.split, 0.5, seed=0))  # the same seed, the same draw
