"""The paper's further tasks: the two-domain generator, cross-domain recommendation, profile
prediction, and the pieces they add to the model and the experiments."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from pprlib.data.effects import observable_effects
from pprlib.data.synthetic import SyntheticConfig, TargetDomainConfig, generate, generate_two_domains
from pprlib.evaluation import user_vectors
from pprlib.experiments import tuned_model
from pprlib.models.ppr import ContrastiveConfig, PPRConfig, PPRModel
from pprlib.models.prompt import SourceRepresentation
from pprlib.tasks import cross_domain
from pprlib.tasks import profile_prediction as pp

SMALL = SyntheticConfig(n_users=600, n_items=300)


@pytest.fixture
def ctx(medium_ctx):
    return medium_ctx


# ------------------------------------------------------------------------------------------
# two domains


def test_two_domains_share_users_not_items():
    source, target = generate_two_domains(SMALL, TargetDomainConfig(n_items=120, user_share=0.5, max_length=60))
    assert source.fingerprint() == generate(SMALL).fingerprint()  # the source is the one-domain data
    users = target.meta["latent"]["source_users"]
    assert target.n_users == 300 and len(np.unique(users)) == 300
    np.testing.assert_array_equal(target.user_ids, source.user_ids[users])
    np.testing.assert_array_equal(target.profiles, source.profiles[users])
    assert target.n_items == 120 and set(target.item_ids[1:]).isdisjoint(source.item_ids[1:])
    assert (target.lengths < 10).mean() > 0.5  # mostly cold in the target domain
    again = generate_two_domains(SMALL, TargetDomainConfig(n_items=120, user_share=0.5, max_length=60))[1]
    assert again.fingerprint() == target.fingerprint()


def _taste_agreement(link: float) -> float:
    source, target = generate_two_domains(SMALL, TargetDomainConfig(n_items=120, taste_link=link, max_length=60))
    a = np.log(source.meta["latent"]["theta"][target.meta["latent"]["source_users"]])
    b = np.log(target.meta["latent"]["theta"])
    a, b = a - a.mean(1, keepdims=True), b - b.mean(1, keepdims=True)
    return float(np.mean(np.sum(a * b, 1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)))


def test_taste_link_controls_how_related_the_domains_are():
    assert _taste_agreement(1.0) == pytest.approx(1.0)
    assert _taste_agreement(0.8) > 0.7
    assert abs(_taste_agreement(0.0)) < 0.1


@pytest.mark.parametrize("kwargs,message", [
    ({"user_share": 0.0}, "user_share must lie in"),
    ({"taste_link": 1.5}, "taste_link must lie in"),
    ({"n_items": 50, "max_length": 60}, "max_length .60. must be below n_items"),
])
def test_target_domain_config_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TargetDomainConfig(**kwargs)


# ------------------------------------------------------------------------------------------
# model pieces


def test_source_representation_is_fixed_side_information():
    vectors = torch.randn(5, 8)
    vectors[0] = 0
    model = PPRModel(20, [5], ppr=PPRConfig(), profile_encoder=SourceRepresentation(vectors))
    assert model.profile_emb.width == 8
    assert all(p is not model.profile_emb.vectors for p in model.configure("full"))
    torch.testing.assert_close(model.profile_vector(torch.tensor([[3], [0]])), vectors[[3, 0]])
    assert "profile_emb.vectors" in model.state_dict()
    with pytest.raises(ValueError, match="n_users \\+ 1, d"):
        SourceRepresentation(torch.zeros(5))


def test_contrastive_anchor_cap():
    with pytest.raises(ValueError, match="max_anchors"):
        ContrastiveConfig(max_anchors=1)
    torch.manual_seed(0)
    model = PPRModel(30, [3, 4])
    batch = {"items": torch.randint(1, 31, (6, 12)), "lengths": torch.full((6,), 12),
             "profile": torch.randint(0, 3, (6, 2)), "first": torch.ones(6, dtype=torch.bool),
             "user": torch.arange(6), "negatives": torch.randint(1, 31, (6, 12))}
    full = model.calculate_loss(batch, cl=ContrastiveConfig(), generator=torch.Generator().manual_seed(1))[1]["cl"]
    capped = model.calculate_loss(batch, cl=ContrastiveConfig(max_anchors=8),
                                  generator=torch.Generator().manual_seed(1))[1]["cl"]
    same = model.calculate_loss(batch, cl=ContrastiveConfig(max_anchors=1000),
                                generator=torch.Generator().manual_seed(1))[1]["cl"]
    assert same == pytest.approx(full)
    assert capped != pytest.approx(full) and capped < full  # 8 anchors: fewer negatives, smaller loss


def test_user_vectors_read_the_last_state(ctx):
    data = ctx.split.data
    model = PPRModel(data.n_items, data.field_sizes, ctx.backbone, PPRConfig(prompt="none", profile_model=False))
    model.load_pretrained(ctx.pre.state)
    users = np.array([0, 5, 7])
    out = user_vectors(model, data, users)
    for k, u in enumerate(users):
        seq = data.sequence(u)[-model.backbone_cfg.max_len:]
        state = model.user_state(torch.from_numpy(seq)[None], torch.tensor([len(seq)]), None)
        np.testing.assert_allclose(out[k], state[0].detach().numpy(), rtol=1e-5, atol=1e-6)


def test_tuned_model_is_cached(ctx):
    a = tuned_model(ctx, "PPR(light)", ctx.settings(), "few", 0)
    b = tuned_model(ctx, "PPR(light)", ctx.settings(), "few", 0)
    for (k, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert torch.equal(x, y), k
    assert not a.training
    with pytest.raises(ValueError, match="no model to tune"):
        tuned_model(ctx, "most popular", ctx.settings(), "few", 0)


# ------------------------------------------------------------------------------------------
# cross-domain


def test_cross_domain_task_and_methods(ctx):
    settings = cross_domain.settings_for(ctx.config, TargetDomainConfig(n_items=200))
    task = cross_domain.prepare_cross_domain(ctx, settings)
    data = task.target.data
    assert data.profile_fields == [cross_domain.FIELD] and data.field_sizes == [data.n_users + 1]
    assert task.vectors.shape == (data.n_users + 1, ctx.backbone.d) and not task.vectors[0].any()
    assert np.abs(task.vectors[1:]).sum(1).min() > 0  # every target user has a source representation
    ppr, _ = cross_domain.model_for(task, "PPR(full)")
    target_only, _ = cross_domain.model_for(task, "SASRec (target)")
    source_blocks = {k[len("backbone."):]: v for k, v in ctx.pre.state.items() if k.startswith("backbone.")}
    for k, v in ppr.backbone.state_dict().items():
        assert torch.equal(v, source_blocks[k])  # the source Transformer is transferred...
    assert target_only.profile_emb is None  # ...but not to the target-only SASRec
    result = cross_domain.compare_cross_domain(task, [0], settings)
    assert set(result.methods) == set(cross_domain.CROSS_DOMAIN_METHODS)
    assert "SASRec (target)" not in result.only("zero").methods  # no profile: no zero-shot instance
    assert "SASRec (target)" in result.only("few").methods
    assert (result.only("few").tidy().query("metric == 'NDCG@10'").value.between(0, 1)).all()
    with pytest.raises(ValueError, match="unknown cross-domain method"):
        cross_domain.run_seed(task, "PPR(light)", settings, 0)


def test_cross_domain_needs_the_generator(ctx):
    other = dataclasses.replace(ctx, spec=dataclasses.replace(ctx.spec, source="movielens-100k"))
    with pytest.raises(ValueError, match="two domains with shared users"):
        cross_domain.prepare_cross_domain(other)


# ------------------------------------------------------------------------------------------
# profile prediction


def test_hidden_field_and_labels(ctx):
    assert pp.binary_fields(ctx.split) == ["gender"]
    hidden = pp.hide_field(ctx.split, "gender")
    j = ctx.split.data.profile_fields.index("gender")
    assert (hidden.data.profiles[:, j] == 0).all() and ctx.split.data.profiles[:, j].any()  # original intact
    others = [k for k in range(len(ctx.split.data.profile_fields)) if k != j]
    np.testing.assert_array_equal(hidden.data.profiles[:, others], ctx.split.data.profiles[:, others])
    lab = pp.labels(ctx.split, "gender")
    assert lab.y["tune"].mean() <= 0.5  # positive = the rarer value
    codes = ctx.split.data.profiles[lab.users["test"], j]
    np.testing.assert_array_equal(lab.y["test"], (codes == ctx.split.data.vocab["gender"].index(lab.positive)))
    with pytest.raises(ValueError, match="not binary"):
        pp.labels(ctx.split, "age")
    with pytest.raises(ValueError, match="unknown profile field 'income'"):
        pp.hide_field(ctx.split, "income")


def test_classification_metrics_and_f1_contributions():
    y = np.array([1, 1, 0, 0, 0, 1])
    m = pp.classification_metrics(y, np.array([0.9, 0.2, 0.1, 0.6, 0.3, 0.8]))
    assert m["ACC"] == pytest.approx(4 / 6) and m["precision"] == pytest.approx(2 / 3)
    assert m["recall"] == pytest.approx(2 / 3) and m["F1"] == pytest.approx(2 / 3)
    assert m["AUC"] == pytest.approx(7 / 9)  # 7 of the 9 (positive, negative) pairs in order
    # each user's linearized share of F1: its mean is F1 exactly, whatever the predictions
    rng = np.random.default_rng(0)
    for _ in range(5):
        y, pred = rng.integers(0, 2, 50), rng.integers(0, 2, 50)
        assert pp.f1_contributions(y, pred).mean() == pytest.approx(pp.classification_metrics(y, pred)["F1"])
    assert (pp.f1_contributions(np.zeros(4), np.zeros(4)) == 0).all()  # no positive, none predicted: F1 = 0


def test_the_f1_interval_covers_test_users_at_its_level():
    """The F1 difference's interval (seeds x users, delta method) covers the population's
    difference about 95 % of the time on fresh test users; over seeds only it would not."""
    from types import SimpleNamespace

    rng = np.random.default_rng(1)
    n, trials, covered = 400, 300, 0
    population = rng.integers(0, 2, 200_000)
    good_rate, bad_rate = 0.85, 0.7  # each method is right with this probability, per user
    big = {r: np.where(rng.random(population.size) < r, population, 1 - population) for r in (good_rate, bad_rate)}
    truth = pp.classification_metrics(population, big[good_rate])["F1"] - pp.classification_metrics(population, big[bad_rate])["F1"]
    for _ in range(trials):
        y = rng.integers(0, 2, n)
        # the seeds barely change the predictions (here not at all): the test users are the noise
        draws = {m: np.where(rng.random(n) < r, y, 1 - y).astype(float) for m, r in (("good", good_rate), ("bad", bad_rate))}
        flip = {(m, s): rng.random(n) < 0.01 for m in draws for s in (0, 1)}
        probs = {(m, s): np.where(flip[m, s], 1 - draws[m], draws[m]) for m, s in flip}
        e = pp.f1_effect({"labels": SimpleNamespace(y={"test": y}), "probs": probs}, "good", "bad")
        covered += e.lo <= truth <= e.hi
    assert 0.90 <= covered / trials <= 0.99, covered / trials


def test_predict_profile_end_to_end(ctx):
    result = pp.predict_profile(ctx, "gender", {}, [0], methods=("majority class", "other fields", "ft"))
    tidy = pp.metrics_frame(result)
    assert set(tidy.method) == {"majority class", "other fields", "ft"}
    majority = tidy.query("method == 'majority class'").set_index("metric").value
    assert majority["F1"] == 0 and majority["AUC"] == 0.5
    assert tidy.value.between(0, 1).all()
    table = pp.summary_table(tidy)
    assert list(table.columns) == ["ACC", "precision", "recall", "F1", "AUC"]


# ------------------------------------------------------------------------------------------
# effects measured from clicks


def test_observable_effects_see_the_generators_knobs():
    on = observable_effects(generate(SyntheticConfig(n_users=1500, n_items=300))).set_index("predictor")
    off = observable_effects(generate(SyntheticConfig(n_users=1500, n_items=300, sequential_strength=0.0,
                                                      profile_signal=0.0))).set_index("predictor")
    lift = "lift over its reference"
    assert on.loc["previous click -> next click", lift] > 0.2 > off.loc["previous click -> next click", lift]
    assert on.loc["profile -> what users like", lift] > off.loc["profile -> what users like", lift]
    assert on["HIT@10"].between(0, 1).all()
