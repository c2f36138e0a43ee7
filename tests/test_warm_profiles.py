"""Beyond the paper: methods that read the warm users' profiles (``Method.warm``) and tune with
a softmax (``Method.loss``): what they tune on, validate on, and how they are keyed."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from pprlib.data.batching import loader
from pprlib.data.protocol import ProtocolConfig, concat_instances, split
from pprlib.data.synthetic import SyntheticConfig, generate
from pprlib.methods import METHODS, Method, method
from pprlib.models.ppr import PPRConfig
from pprlib.runs import TuneSettings, run_key, tuning_job


@pytest.fixture(scope="module")
def sp():
    return split(generate(SyntheticConfig(n_users=400, n_items=300, max_length=40, seed=1)), ProtocolConfig(seed=0))


def test_warm_profiles_hold_out_a_tenth_of_the_warm_users_cut_to_a_cold_users_clicks(sp):
    warm = sp.warm_profiles()
    cut = sp.config.cold_threshold - 1
    val_users = np.unique(warm.val.users)
    assert not set(val_users) & set(warm.tune_users)
    assert set(val_users) | set(warm.tune_users) == set(sp.warm_users)
    assert len(val_users) == round(0.1 * len(sp.warm_users))
    assert np.array_equal(warm.lengths, np.minimum(sp.data.lengths[warm.tune_users], cut))
    assert warm.lengths.max() == cut  # warm users are long: every one is cut
    # validation: each held-out warm user's first `cut` clicks, every one an instance
    assert np.array_equal(np.bincount(warm.val.users, minlength=sp.data.n_users)[val_users],
                          np.minimum(sp.data.lengths[val_users], cut))
    assert warm.val.positions.max() == cut - 1 and (warm.val.positions == 0).sum() == len(val_users)
    for u, p, t in zip(warm.val.users, warm.val.positions, warm.val.targets, strict=True):
        assert sp.data.sequence(u)[p] == t
    # candidates: the target first, then 99 items the user never clicked
    assert warm.val.candidates.shape == (len(warm.val), 1 + sp.config.n_negatives)
    assert np.array_equal(warm.val.candidates[:, 0], warm.val.targets)
    for u, row in zip(warm.val.users[:200], warm.val.candidates[:200, 1:], strict=True):
        assert not set(row.tolist()) & set(sp.data.sequence(u).tolist())
    again = sp.warm_profiles()  # deterministic for the split's seed
    assert np.array_equal(again.tune_users, warm.tune_users) and np.array_equal(again.val.candidates,
                                                                                warm.val.candidates)


def test_concat_instances_keeps_candidates_only_when_every_part_has_them(sp):
    both = concat_instances([sp.instances("val"), sp.instances("test")])
    assert len(both) == len(sp.instances("val")) + len(sp.instances("test")) and both.candidates is not None
    assert concat_instances([sp.instances("val"), sp.instances("tune")]).candidates is None


def _job(small_ctx, name, targets="zero"):
    return tuning_job(small_ctx, name, small_ctx.settings(), targets, 0)[1]


def test_a_warm_method_tunes_on_the_warm_users_too_and_validates_on_the_held_out_ones(small_ctx):
    split_ = small_ctx.split
    warm = split_.warm_profiles()
    light, variant = _job(small_ctx, "PPR(light)"), _job(small_ctx, "PPR(warm)")
    assert set(light["train"].user.tolist()) == set(split_.tune_users.tolist())
    assert set(variant["train"].user.tolist()) == set(split_.tune_users.tolist()) | set(warm.tune_users.tolist())
    # zero-shot validation: the cold validation users' first clicks, then the held-out warm users' first clicks
    cold_val = split_.instances("val").zero_shot()
    assert np.array_equal(light["val"].users, cold_val.users)
    assert np.array_equal(variant["val"].users, np.concatenate([cold_val.users, warm.val.zero_shot().users]))
    assert (variant["val"].positions == 0).all()
    few = _job(small_ctx, "PPR(light) + warm validation", "few")
    assert len(few["val"]) == len(split_.instances("val").few_shot()) + len(warm.val.few_shot())
    assert set(few["train"].user.tolist()) == set(split_.tune_users.tolist())  # validation only


def test_the_tuning_loss_is_the_methods_and_a_softmax_draws_no_negatives(small_ctx):
    light, variant = _job(small_ctx, "PPR(light)"), _job(small_ctx, "PPR(warm)")
    assert light["cfg"].loss == "bpr" and variant["cfg"].loss == "ce"
    assert "negatives" in next(iter(loader(light["train"], 8)))
    assert "negatives" not in next(iter(loader(variant["train"], 8)))
    assert _job(small_ctx, "PPR(light) + softmax")["cfg"].loss == "ce"
    assert _job(small_ctx, "PPR(light) + warm users")["cfg"].loss == "bpr"


def test_the_interventions_differ_from_ppr_light_in_exactly_their_own_fields():
    base = method("PPR(light)")
    fields = {"PPR(light) + warm validation": {"warm": "validation"}, "PPR(light) + softmax": {"loss": "ce"},
              "PPR(light) + warm users": {"warm": "tuning"}, "PPR(warm)": {"warm": "tuning", "loss": "ce"}}
    for name, changed in fields.items():
        m = METHODS[name]
        assert dataclasses.replace(base, key=m.key, label=m.label, variant=None, **changed) == m, name
    profile = METHODS["profile model (warm)"]
    assert dataclasses.replace(method("profile model"), key=profile.key, label=profile.label, warm="tuning",
                               loss="ce") == profile


def test_the_runs_key_changes_with_the_loss_and_the_warm_users(small_ctx):
    settings = small_ctx.settings()
    keys = {name: run_key("run", small_ctx, name, settings, "zero", 0)
            for name in ("PPR(light)", "PPR(light) + softmax", "PPR(light) + warm users", "PPR(warm)")}
    assert len(set(keys.values())) == 4


def test_bad_method_fields_are_refused():
    with pytest.raises(ValueError, match="Method.loss"):
        Method("model", "x", PPRConfig(), "light", loss="mse")
    with pytest.raises(ValueError, match="Method.warm"):
        Method("model", "x", PPRConfig(), "light", warm="all")
    with pytest.raises(ValueError, match="tuned method"):
        Method("model", "x", PPRConfig(prompt="none", profile_model=False), warm="tuning")


def test_tune_settings_read_the_loss_from_the_method():
    assert TuneSettings().train_config("PPR(warm)", "few", 0).loss == "ce"
    assert TuneSettings().train_config("ft", "few", 0).loss == "bpr"


def test_a_warm_tuning_run_keeps_the_cold_runs_patience_in_optimizer_steps(small_ctx):
    from pprlib.runs import run_config, tuning_users

    settings = small_ctx.settings()
    cold = len(tuning_users(small_ctx.split, 1.0))
    share = cold / (cold + len(small_ctx.split.warm_profiles().tune_users))
    for targets in ("few", "zero"):
        light = run_config(small_ctx, "PPR(light)", settings, targets, 0)
        warm = run_config(small_ctx, "PPR(warm)", settings, targets, 0)
        assert light == settings.train_config("PPR(light)", targets, 0)  # a cold-only method: unchanged
        assert warm.patience == max(2, round(light.patience * share)) < light.patience
        assert warm.max_epochs == light.max_epochs and warm.loss == "ce"
        assert _job(small_ctx, "PPR(warm)", targets)["cfg"] == warm  # what the run trains with
    assert run_config(small_ctx, "PPR(light) + warm validation", settings, "zero", 0).patience == \
        settings.train_config("PPR(light)", "zero", 0).patience  # validation only: as many steps an epoch


def test_the_warm_profiles_are_drawn_once_per_split(sp):
    assert sp.warm_profiles() is sp.warm_profiles()
    assert sp.warm_profiles(0.2) is not sp.warm_profiles()


def test_the_variant_recommends_for_a_new_user(small_ctx):
    from pprlib.explorer import recommend
    from pprlib.runs import tuned_model

    data = small_ctx.split.data
    model = tuned_model(small_ctx, "PPR(warm)", small_ctx.settings(lr={"PPR(warm)": 1e-3}), "zero", 0)
    top = recommend(model, data, data.profile_labels(1), k=5)
    assert len(top) == 5 and top.score.is_monotonic_decreasing
    light = tuned_model(small_ctx, "PPR(light)", small_ctx.settings(lr={"PPR(light)": 1e-3}), "zero", 0)
    assert not top.item.equals(recommend(light, data, data.profile_labels(1), k=5).item) or not np.allclose(
        top.score, recommend(light, data, data.profile_labels(1), k=5).score)  # another model, other scores
