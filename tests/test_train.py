"""Training: device resolution, a tiny end-to-end pre-training that learns, determinism of a
tuning run for a seed, and the on-disk cache of runs."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from pprlib import experiments, runs
from pprlib.data.protocol import ProtocolConfig, split
from pprlib.data.synthetic import SyntheticConfig, generate
from pprlib.evaluation import evaluate
from pprlib.models.backbones import BackboneConfig
from pprlib.models.ppr import PPRConfig, PPRModel
from pprlib.train import TrainConfig, resolve_device

torch.set_num_threads(1)

BACKBONE = BackboneConfig(d=16, ffn=16, max_len=60)
PRETRAIN = TrainConfig(lr=5e-3, max_epochs=4, patience=4, batch_size=64, device="cpu", progress=False)
SETTINGS = experiments.TuneSettings(
    train=TrainConfig(lr=1e-3, max_epochs=2, patience=2, batch_size=64, device="cpu", progress=False))


@pytest.fixture(autouse=True)
def _cache_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("PPR_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    data = generate(SyntheticConfig(n_users=600, n_items=150, max_length=60))
    sp = split(data, ProtocolConfig())
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PPR_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        pre = experiments.pretrain(sp, BACKBONE, PRETRAIN, use_cache=False)
    return sp, pre


# ------------------------------------------------------------------------------------------
# devices
# ------------------------------------------------------------------------------------------
def test_resolve_device_auto():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")


def test_resolve_device_cuda_unavailable(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    for name in ("cuda", "cuda:0"):
        with pytest.raises(ValueError) as err:
            resolve_device(name)
        message = str(err.value)
        assert name in message and "not available" in message


@pytest.mark.parametrize("name", ["tpu", "banana", "meta", "cuda:x"])
def test_resolve_device_rejects_unknown(name):
    with pytest.raises(ValueError) as err:
        resolve_device(name)
    assert repr(name) in str(err.value)


# ------------------------------------------------------------------------------------------
# a tiny end-to-end pre-training learns something
# ------------------------------------------------------------------------------------------
def test_pretraining_lowers_loss_and_beats_random(tiny):
    sp, pre = tiny
    losses = pre.history["loss"].to_numpy()
    assert np.isnan(losses[0])  # epoch 0 is the untrained validation
    assert len(losses) >= 3
    assert losses[-1] < 0.9 * losses[1]

    model = PPRModel(sp.data.n_items, sp.data.field_sizes, BACKBONE, PPRConfig(prompt="none", profile_model=False))
    model.load_pretrained(pre.state)
    model.eval()
    warm_test = sp.instances("warm_test")
    ndcg = evaluate(model.full_sort_predict, sp, warm_test, full_ranking=False)["NDCG@10"].mean()

    g = torch.Generator().manual_seed(0)

    def random_scorer(batch):
        return torch.rand(len(batch["target"]), sp.data.n_items + 1, generator=g)

    rnd = evaluate(random_scorer, sp, warm_test, full_ranking=False)["NDCG@10"].mean()
    assert rnd < 0.1  # a random ranking of 100 candidates: about 0.045
    assert ndcg > rnd + 0.1 and ndcg > 2 * rnd


# ------------------------------------------------------------------------------------------
# determinism and cache of a tuning run
# ------------------------------------------------------------------------------------------
def _equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_run_method_is_deterministic_for_a_seed(tiny):
    sp, pre = tiny
    runs = [experiments.run_method(sp, pre, "PPR(light)", BACKBONE, SETTINGS, "few", seed, use_cache=False)
            for seed in (0, 0, 1)]
    assert "NDCG@10" in runs[0]["metrics"] and "full/NDCG@10" in runs[0]["metrics"]
    assert len(runs[0]["metrics"]["NDCG@10"]) == len(sp.instances("test").few_shot())
    assert _equal(runs[0]["metrics"], runs[1]["metrics"])
    assert runs[0]["history"].drop(columns="seconds").equals(runs[1]["history"].drop(columns="seconds"))
    assert not _equal(runs[0]["metrics"], runs[2]["metrics"])


def test_run_method_cache_returns_the_stored_result(tiny, monkeypatch, tmp_path):
    sp, pre = tiny
    first = experiments.run_method(sp, pre, "PPR(light)", BACKBONE, SETTINGS, "few", 0)
    assert any((tmp_path / "cache" / "runs").iterdir())

    def boom(*args, **kwargs):
        raise AssertionError("tune called although the run is cached")

    monkeypatch.setattr(runs, "tune", boom)
    second = experiments.run_method(sp, pre, "PPR(light)", BACKBONE, SETTINGS, "few", 0)
    assert _equal(first["metrics"], second["metrics"])
    assert second["seconds"] == first["seconds"]
    # a setting that changes the result is a different key: it recomputes (and hits the patch)
    with pytest.raises(AssertionError, match="tune called"):
        experiments.run_method(sp, pre, "PPR(light)", BACKBONE, SETTINGS, "few", 1)
    with pytest.raises(AssertionError, match="tune called"):
        experiments.run_method(sp, pre, "PPR(light)", BACKBONE, SETTINGS, "zero", 0)


def test_pretraining_twice_gives_identical_weights_and_history(tiny):
    """Same seed, same data, CPU: the whole pre-training is bit-identical (with the CE loss
    and CL4SRec's augmentations, the paths the book uses)."""
    from pprlib.models.ppr import SequenceCLConfig

    sp, _ = tiny
    cfg = dataclasses.replace(PRETRAIN, loss="ce", max_epochs=2)
    runs = [experiments.pretrain(sp, BACKBONE, cfg, seq_cl=SequenceCLConfig(), use_cache=False) for _ in range(2)]
    assert runs[0].key == runs[1].key
    assert runs[0].state.keys() == runs[1].state.keys()
    assert all(torch.equal(runs[0].state[k], runs[1].state[k]) for k in runs[0].state)
    columns = [c for c in runs[0].history.columns if c != "seconds"]
    assert runs[0].history[columns].equals(runs[1].history[columns])
    other = experiments.pretrain(sp, BACKBONE, dataclasses.replace(cfg, seed=1), seq_cl=SequenceCLConfig(),
                                 use_cache=False)
    assert not all(torch.equal(runs[0].state[k], other.state[k]) for k in runs[0].state)


def test_deterministic_switch_is_restored_after_training():
    from pprlib.train import deterministic_algorithms

    before = torch.are_deterministic_algorithms_enabled()
    with deterministic_algorithms(True):
        assert torch.are_deterministic_algorithms_enabled()
    assert torch.are_deterministic_algorithms_enabled() == before


# ------------------------------------------------------------------------------------------
# early stopping and the restored weights, on a scripted validation curve
# ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_split():
    return split(generate(SyntheticConfig(n_users=300, n_items=200, max_length=30)), ProtocolConfig())


def scripted_fit(sp, monkeypatch, curve, **cfg):
    """Fit with validation replaced by ``curve`` (epoch 0 first); returns the history, the
    model and the weights it had at each validation."""
    from pprlib import train as train_mod
    from pprlib.data.batching import SequenceDataset

    torch.manual_seed(0)
    model = PPRModel(sp.data.n_items, sp.data.field_sizes, BackboneConfig(d=8, ffn=8, max_len=20),
                     PPRConfig(prompt="none"))
    params = model.configure("ft")
    data = SequenceDataset(sp.data, sp.tune_users, sp.data.lengths[sp.tune_users], 21)
    scores, states = iter(curve), []
    val, val_profiles = sp.instances("val"), sp.data.profiles.copy()

    def validate(model, split, inst, device, profiles=None):
        # every validation is of the model being trained, on the validation set and profiles given
        assert split is sp and inst is val and profiles is val_profiles and device == torch.device("cpu")
        states.append({k: v.detach().clone() for k, v in model.state_dict().items()})
        return {"NDCG@10": next(scores)}

    monkeypatch.setattr(train_mod, "validate", validate)
    # every batch's loss and parts, as the model returned them (the history must average them)
    batches, loss_of = [], model.calculate_loss

    def calculate_loss(*args, **kwargs):
        loss, parts = loss_of(*args, **kwargs)
        batches.append((len(states), float(loss.detach()), dict(parts)))
        return loss, parts

    model.calculate_loss = calculate_loss
    settings = dict(lr=1e-2, batch_size=16, max_epochs=10, device="cpu", progress=False) | cfg
    history = train_mod.fit(model, params, data, sp, val, TrainConfig(**settings), val_profiles=val_profiles)
    history.attrs["batches"] = batches
    return history, model, states


@pytest.mark.parametrize("curve, patience, min_delta, max_epochs, epochs_run, best", [
    ([0.1, 0.2, 0.5, 0.4, 0.45, 0.3, 0.9, 0.9], 3, 0.0, 7, 5, 2),  # three epochs without gain: stop
    ([0.1, 0.3, 0.2, 0.9], 1, 0.0, 3, 2, 1),  # patience 1 stops at the first setback
    ([0.1, 0.3, 0.3, 0.3, 0.9], 2, 0.0, 4, 3, 1),  # a tie is no gain
    ([0.1, 0.12, 0.14, 0.149, 0.9], 3, 0.05, 4, 3, 0),  # gains below min_delta: back to the untuned model
    ([0.1, 0.2, 0.3, 0.4], 2, 0.0, 3, 3, 3),  # max_epochs reached while improving
])
def test_early_stopping_restores_the_best_epoch(small_split, monkeypatch, curve, patience, min_delta, max_epochs,
                                                epochs_run, best):
    history, model, states = scripted_fit(small_split, monkeypatch, curve, patience=patience,
                                          min_delta=min_delta, max_epochs=max_epochs)
    assert history["epoch"].tolist() == list(range(epochs_run + 1))
    assert list(history.columns) == ["epoch", "loss", "val/NDCG@10", "seconds", "loss/rec"]
    assert history["val/NDCG@10"].tolist() == curve[: epochs_run + 1]
    assert np.isnan(history["loss"][0]) and np.isfinite(history["loss"][1:]).all()
    final = model.state_dict()
    assert all(torch.equal(final[k], states[best][k]) for k in final)
    # the epoch's loss is the mean over its batches (of the total and of each part)
    batches = history.attrs["batches"]
    for epoch in range(1, epochs_run + 1):
        mine = [(loss, parts) for e, loss, parts in batches if e == epoch]
        assert len(mine) >= 2  # several batches, so that a sum or a last value differs from the mean
        assert history["loss"][epoch] == pytest.approx(np.mean([loss for loss, _ in mine]), rel=1e-9)
        assert history["loss/rec"][epoch] == pytest.approx(np.mean([p["rec"] for _, p in mine]), rel=1e-9)
    seconds = history["seconds"].to_numpy()
    assert seconds[0] == 0 and np.all(np.diff(seconds) >= 0) and seconds[-1] < 600
    # training changed the weights, so "restored" is not "never changed"
    assert not all(torch.equal(states[0][k], states[-1][k]) for k in final)


def test_validate_is_the_mean_sampled_metrics_in_eval_mode(small_split):
    from pprlib.train import validate

    sp = small_split
    torch.manual_seed(0)
    model = PPRModel(sp.data.n_items, sp.data.field_sizes, BackboneConfig(d=8, ffn=8, max_len=20), PPRConfig()).train()
    val = sp.instances("val")
    other = sp.data.profiles.copy()
    other[:, 0] = (other[:, 0] + 1) % sp.data.field_sizes[0]
    got = validate(model, sp, val, torch.device("cpu"), other)
    assert not model.training  # validation without dropout
    want = evaluate(model.full_sort_predict, sp, val, full_ranking=False, profiles=other)
    assert got == {k: pytest.approx(float(v.mean())) for k, v in want.items()}
    assert got != validate(model, sp, val, torch.device("cpu"))  # the profiles given are used
