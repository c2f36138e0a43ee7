"""Ceilings of the synthetic world: the oracle and the Bayes scorers, checked on tiny worlds
whose answers are known by hand, and on generated worlds where a knob makes the profile
perfectly informative or worthless."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from pprlib.ceilings import evaluate_ceilings
from pprlib.data.ceilings import (
    BayesScorer,
    Particles,
    World,
    ceiling_scorers,
    oracle_scorer,
    world_of,
)
from pprlib.data.protocol import ColdStartSplit, ProtocolConfig, split
from pprlib.data.synthetic import SyntheticConfig, generate
from pprlib.evaluation import evaluate

N_ITEMS = 4


def two_styles(signal: float = 1.0, marginal=(0.9, 0.1), sequential: float = 1.0) -> World:
    """Four items in one group (equally popular); style 0 sends item i to i + 1, style 1 to
    i + 2 (mod 4); one profile field whose value 0 means style 0 and value 1 style 1."""
    items = np.arange(N_ITEMS)
    successors = np.stack([(items + 1) % N_ITEMS, (items + 2) % N_ITEMS])[:, :, None]
    return World(item_group=np.zeros(N_ITEMS, dtype=int), item_weight=np.full(N_ITEMS, 1 / N_ITEMS),
                 successors=successors, sequential_strength=sequential, profile_style_signal=signal,
                 profile_signal=0.0, preference_sharpness=1.0, field_marginals=[np.asarray(marginal)],
                 preference_effects=[np.zeros((2, 1))], style_effects=[np.eye(2)],
                 theta=np.ones((2, 1)), style=np.array([0, 1]))


def batch(histories, profiles, users=None) -> dict:
    """A batch as InstanceDataset makes it: item codes from 1, right-padded with 0."""
    width = max(1, max(len(h) for h in histories))
    history = torch.zeros(len(histories), width, dtype=torch.long)
    for r, h in enumerate(histories):
        history[r, : len(h)] = torch.tensor(h, dtype=torch.long) + 1
    return {"history": history, "lengths": torch.tensor([len(h) for h in histories]),
            "profile": torch.tensor(profiles).reshape(len(histories), -1),
            "target": torch.ones(len(histories), dtype=torch.long),
            "user": torch.tensor(users if users is not None else [0] * len(histories))}


def law(scores: torch.Tensor) -> np.ndarray:
    return scores[:, 1:].numpy()


def test_population_prior_not_uniform():
    """One click shows no transition: without the profile the style is the population's,
    90 % style 0, so the next click is i + 1 with probability 0.9 and i + 2 with 0.1."""
    scorer = BayesScorer(two_styles(), "none", n_samples=100)
    got = law(scorer(batch([[0]], [[2]])))[0]
    assert got == pytest.approx([0.0, 0.9, 0.1, 0.0])


def test_clicks_reveal_the_style():
    """Two clicks 0 -> 2 can only come from style 1: the next click after 2 is 0, for sure."""
    scorer = BayesScorer(two_styles(), "none", n_samples=100)
    assert law(scorer(batch([[0, 2]], [[1]])))[0] == pytest.approx([1.0, 0.0, 0.0, 0.0])


def test_informative_profile_equals_oracle_and_missing_value_falls_back():
    """Profile value 1 (code 2) means style 1: Bayes with the profile predicts like the oracle
    after one click; a missing value (code 0) gives the population's answer."""
    world = two_styles()
    scorer = BayesScorer(world, "profile", n_samples=100)
    oracle = law(oracle_scorer(world)(batch([[0]], [[2]], users=[1])))[0]
    assert law(scorer(batch([[0]], [[2]])))[0] == pytest.approx(oracle)
    assert oracle == pytest.approx([0.0, 0.0, 1.0, 0.0])
    assert law(scorer(batch([[0]], [[0]])))[0] == pytest.approx([0.0, 0.9, 0.1, 0.0])


def test_uninformative_profile_is_worth_nothing():
    """profile_style_signal = 0: the style ignores the profile, so every prior predicts alike."""
    world = two_styles(signal=0.0)
    rows = batch([[0], [1], [0, 2]], [[1], [2], [2]])
    laws = {p: law(BayesScorer(world, p, n_samples=100)(rows)) for p in ("profile", "none", "style")}
    assert laws["profile"] == pytest.approx(laws["none"])
    assert laws["style"] == pytest.approx(laws["none"])
    assert laws["none"][0] == pytest.approx([0.0, 0.5, 0.5, 0.0])


def test_the_split_of_the_profile_value():
    """In one group the profile can act only through the style: 'style' is 'profile' and
    'preference' is 'none'."""
    world = two_styles(sequential=0.5)
    rows = batch([[0], [3]], [[2], [1]])
    laws = {p: law(BayesScorer(world, p, n_samples=100)(rows)) for p in ("profile", "none", "preference", "style")}
    assert laws["style"] == pytest.approx(laws["profile"])
    assert laws["preference"] == pytest.approx(laws["none"])
    assert not np.allclose(laws["profile"], laws["none"])


def test_first_click_follows_the_static_law():
    """Without a previous click the law is the group mix times popularity (sums to one)."""
    world = two_styles(sequential=0.6)
    world.item_weight = np.array([0.4, 0.3, 0.2, 0.1])
    got = law(oracle_scorer(world)(batch([[]], [[1]])))[0]
    assert got == pytest.approx([0.4, 0.3, 0.2, 0.1])
    after = law(oracle_scorer(world)(batch([[0]], [[1]])))[0]  # user 0: style 0 sends 0 to 1
    assert after == pytest.approx(0.6 * np.array([0, 1, 0, 0]) + 0.4 * world.item_weight)
    assert after.sum() == pytest.approx(1.0)


# ------------------------------------------------------------------------------------------
# generated worlds, through evaluate


def _ceilings(**knobs):
    cfg = SyntheticConfig(n_users=600, n_items=250, max_length=60, profile_missing_rate=0.0, **knobs)
    data = generate(cfg)
    sp = split(data, ProtocolConfig())
    test = sp.instances("test")
    return test, {name: evaluate(s, sp, test) for name, s in ceiling_scorers(world_of(data), 256).items()}


def test_world_of_reads_the_generator():
    data = generate(SyntheticConfig(n_users=300, n_items=250, max_length=60))
    world = world_of(data)
    latent = data.meta["latent"]
    assert np.allclose(world.successor_law.sum(axis=2), 1.0)
    assert np.allclose(np.bincount(world.item_group, weights=world.item_weight), 1.0)
    codes = latent["true_profiles"] - 1
    assert np.array_equal(world.style_prior(codes).argmax(axis=1), latent["profile_style"])
    # the true log group mix minus its profile part is the individual part, standard normal
    # up to a per-user constant (centred: variance (G - 1) / G); wrong effects would inflate it
    cfg = data.meta["generator"]
    profile_part = world._field_sum(world.preference_effects, codes)
    individual = (np.log(world.theta) / cfg.preference_sharpness - np.sqrt(cfg.profile_signal) * profile_part)
    individual = individual / np.sqrt(1 - cfg.profile_signal)
    individual -= individual.mean(axis=1, keepdims=True)
    assert individual.var() == pytest.approx((cfg.n_groups - 1) / cfg.n_groups, abs=0.08)
    other = copy.copy(data)
    other.meta = {}
    with pytest.raises(ValueError, match="generate"):
        world_of(other)


def test_fully_informative_profile_reaches_the_oracle():
    """profile_signal = profile_style_signal = 1 (and nothing missing): the profile fixes the
    latent state, so Bayes with the profile scores exactly like the oracle, and better than
    without it."""
    test, res = _ceilings(profile_signal=1.0, profile_style_signal=1.0)
    for metric in ("NDCG@10", "full/NDCG@10"):
        assert np.allclose(res["Bayes (profile)"][metric], res["oracle"][metric])
        assert res["Bayes (profile)"][metric].mean() > res["Bayes (none)"][metric].mean() + 0.02


def test_worthless_profile_has_zero_value():
    """profile_signal = profile_style_signal = 0: every Bayes scorer scores alike, so the value
    of the profile is exactly zero; the oracle still knows more."""
    test, res = _ceilings(profile_signal=0.0, profile_style_signal=0.0)
    for metric in ("NDCG@10", "full/NDCG@10"):
        for prior in ("profile", "preference", "style"):
            assert np.array_equal(res[f"Bayes ({prior})"][metric], res["Bayes (none)"][metric])
        assert res["oracle"][metric].mean() > res["Bayes (none)"][metric].mean()


def test_particles_are_shared_and_seeded():
    world = two_styles()
    a, b = Particles.draw(world, 32, seed=1), Particles.draw(world, 32, seed=1)
    assert np.array_equal(a.noise, b.noise) and np.array_equal(a.codes, b.codes)
    with pytest.raises(ValueError, match="prior"):
        BayesScorer(world, "uniform")


def test_evaluate_ceilings_reports_time_and_effective_sample_size():
    data = generate(SyntheticConfig(n_users=600, n_items=250, max_length=60))
    sp = split(data, ProtocolConfig())
    test = sp.instances("test")
    per, info = evaluate_ceilings(sp, test, n_samples=128)
    assert set(per) == {"oracle", "Bayes (profile)", "Bayes (none)", "Bayes (preference)", "Bayes (style)"}
    assert all(len(v["full/NDCG@10"]) == len(test) for v in per.values())
    bayes = info["Bayes (none)"]
    assert bayes["seconds"] > 0 and len(bayes["ess"]) == len(test)
    assert np.allclose(bayes["ess"][bayes["history"] == 0], 128)  # a first click: the prior's draws, all equal
    few = bayes["ess"][bayes["history"] > 0]
    assert (few < 128).all() and (few >= 1).all()  # clicks make the weights unequal


# ------------------------------------------------------------------------------------------
# the disk cache and the values with their intervals


@pytest.fixture(scope="module")
def small_split():
    data = generate(SyntheticConfig(n_users=400, n_items=200, max_length=40, heldout_users=60))
    return split(data, ProtocolConfig())


def test_named_scorers_score_like_the_full_set(small_split):
    test = small_split.instances("test")
    every, _ = evaluate_ceilings(small_split, test, n_samples=64, full_ranking=False)
    some, _ = evaluate_ceilings(small_split, test, n_samples=64, full_ranking=False,
                                names=["Bayes (none)", "oracle"])
    assert list(some) == ["oracle", "Bayes (none)"]  # the order of SCORERS, whatever the order asked
    for name in some:  # the same draws: the same scores as among all five
        assert np.array_equal(some[name]["NDCG@10"], every[name]["NDCG@10"])
    with pytest.raises(ValueError, match="Bayes \\(uniform\\)"):
        evaluate_ceilings(small_split, test, n_samples=8, names=["Bayes (uniform)"])


@pytest.mark.parametrize("prior", ["profile", "none", "preference", "style"])
def test_first_click_posterior_is_kept_per_observed_profile(small_split, prior):
    """A first click's posterior is the prior of its observed profile, kept once per profile:
    rows with the same profile (and, for "none", every row) score alike, rows with another
    profile as computed afresh, whatever came before; a row with clicks is never served it."""
    world = world_of(small_split.data)
    rng = np.random.default_rng(0)
    profiles = rng.integers(0, 3, size=(12, len(world.field_marginals)))
    profiles[6:] = profiles[:6]  # every profile twice, the second time from the kept posterior
    histories = [[]] * 12 + [[int(rng.integers(world.n_items))]]
    rows = batch(histories, np.concatenate([profiles, profiles[:1]]).tolist())
    kept = BayesScorer(world, prior, n_samples=64)
    got = kept(rows).numpy()
    for r, h in enumerate(histories):  # a fresh scorer (the same draws) for every row
        alone = BayesScorer(world, prior, particles=kept.particles)
        one = {k: v[r : r + 1] for k, v in rows.items()}
        one["history"] = one["history"][:, : max(1, len(h))]
        assert np.allclose(got[r], alone(one).numpy()[0], rtol=1e-12, atol=0), f"row {r}"
    assert np.allclose(got[12], got[0]) is False  # the clicked row has its own posterior
    differ = not np.allclose(got[0], got[1])
    assert differ == (prior in ("profile", "preference"))  # a first click reads the group mix only


def test_cached_ceilings_compute_once_per_key(small_split, tmp_path, monkeypatch):
    import pprlib.ceilings as ceilings

    monkeypatch.setenv("PPR_CACHE_DIR", str(tmp_path))
    calls = []

    def counting(*args, **kwargs):
        calls.append(kwargs["n_samples"])
        return evaluate_ceilings(*args, **kwargs)

    monkeypatch.setattr(ceilings, "evaluate_ceilings", counting)
    names = ["oracle", "Bayes (profile)", "Bayes (none)"]
    first, info = ceilings.cached_ceilings(small_split, "test+heldout", n_samples=32, names=names)
    again, info_again = ceilings.cached_ceilings(small_split, "test+heldout", n_samples=32, names=names[::-1])
    assert calls == [32]  # the second call (the names in another order) read the disk
    assert list(first) == list(again) == names
    for name in names:
        assert all(np.array_equal(first[name][m], again[name][m]) for m in first[name])
    assert info_again["Bayes (none)"]["seconds"] == info["Bayes (none)"]["seconds"] > 0
    assert len(first["oracle"]["NDCG@10"]) == len(small_split.instances("test+heldout"))
    # another instance set, number of draws, seed or set of scorers: another key, computed
    ceilings.cached_ceilings(small_split, "test", n_samples=32, names=names)
    ceilings.cached_ceilings(small_split, "test+heldout", n_samples=16, names=names)
    ceilings.cached_ceilings(small_split, "test+heldout", n_samples=32, seed=1, names=names)
    ceilings.cached_ceilings(small_split, "test+heldout", n_samples=32, names=names[:2])
    assert calls == [32, 32, 16, 32, 32]
    # another split of the same data (another protocol seed): another key
    other = split(small_split.data, ProtocolConfig(seed=1))
    keys = {ceilings.ceilings_key(sp, "test", n_samples=32, seed=0) for sp in (small_split, other)}
    assert len(keys) == 2
    # the same world made again (the data chapter's own split) or read back from the split cache
    # (a chapter's context): the same key, so every chapter finds the ceilings computed once
    twin = split(generate(small_split.data.meta["generator"]), ProtocolConfig())
    small_split.save(tmp_path / "split.npz")
    loaded = ColdStartSplit.load(tmp_path / "split.npz", small_split.data, small_split.config)
    assert len({ceilings.ceilings_key(sp, "test", n_samples=32, seed=0) for sp in (small_split, twin, loaded)}) == 1


def test_cached_ceilings_refuse_real_data_before_computing(small_split, tmp_path, monkeypatch):
    import pprlib.ceilings as ceilings

    monkeypatch.setenv("PPR_CACHE_DIR", str(tmp_path))
    real = copy.copy(small_split)
    real.data = copy.copy(small_split.data)
    real.data.meta = {}
    with pytest.raises(ValueError, match="real data has no known next-click law"):
        ceilings.cached_ceilings(real, "test", n_samples=8)
    assert not (tmp_path / "ceilings").exists()


def test_ceiling_values_are_paired_differences_with_intervals(small_split):
    from pprlib.ceilings import VALUES, ceiling_values

    test = small_split.instances("test")
    per, _ = evaluate_ceilings(small_split, test, n_samples=64)
    table = ceiling_values(per, test.positions)
    assert set(table.value) == set(VALUES) and set(table.instances) == {"few-shot", "zero-shot"}
    row = table.query("value == 'value of the profile' and instances == 'zero-shot' and metric == 'NDCG@10'").iloc[0]
    zero = test.positions == 0
    d = per["Bayes (profile)"]["NDCG@10"][zero] - per["Bayes (none)"]["NDCG@10"][zero]
    assert row["mean"] == pytest.approx(d.mean()) and row["n"] == zero.sum()
    assert row["lo"] < row["mean"] < row["hi"]
    style = table.query("value == 'through the style' and instances == 'zero-shot'")
    assert (style["mean"] == 0).all()  # a first click has no sequential part: the style cannot act
