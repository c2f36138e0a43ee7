"""Training: device resolution, a tiny end-to-end pre-training that learns, determinism of a
tuning run for a seed, and the on-disk cache of runs."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pandas as pd
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
    ctx = experiments.Context(sp, pre, BACKBONE)
    runs = [experiments.run_method(ctx, "PPR(light)", SETTINGS, "few", seed, use_cache=False) for seed in (0, 0, 1)]
    assert "NDCG@10" in runs[0]["metrics"] and "full/NDCG@10" in runs[0]["metrics"]
    assert len(runs[0]["metrics"]["NDCG@10"]) == len(sp.instances("test").few_shot())
    assert _equal(runs[0]["metrics"], runs[1]["metrics"])
    assert runs[0]["history"].drop(columns="seconds").equals(runs[1]["history"].drop(columns="seconds"))
    assert not _equal(runs[0]["metrics"], runs[2]["metrics"])


def test_run_method_cache_returns_the_stored_result(tiny, monkeypatch, tmp_path):
    sp, pre = tiny
    ctx = experiments.Context(sp, pre, BACKBONE)
    first = experiments.run_method(ctx, "PPR(light)", SETTINGS, "few", 0)
    assert any((tmp_path / "cache" / "runs").iterdir())

    def boom(*args, **kwargs):
        raise AssertionError("tune called although the run is cached")

    monkeypatch.setattr(runs, "tune", boom)
    second = experiments.run_method(ctx, "PPR(light)", SETTINGS, "few", 0)
    assert _equal(first["metrics"], second["metrics"])
    assert second["seconds"] == first["seconds"]
    # a setting that changes the result is a different key: it recomputes (and hits the patch)
    with pytest.raises(AssertionError, match="tune called"):
        experiments.run_method(ctx, "PPR(light)", SETTINGS, "few", 1)
    with pytest.raises(AssertionError, match="tune called"):
        experiments.run_method(ctx, "PPR(light)", SETTINGS, "zero", 0)


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


@pytest.mark.parametrize("loss", ["ce", "bpr"])
def test_pretraining_draws_negatives_only_for_a_loss_that_reads_them(tiny, monkeypatch, loss):
    """The softmax cross-entropy reads no sampled negatives: pre-training with it draws none,
    and its model is the one it would be had they been drawn (they come from the batches' own
    random stream); BPR draws one per target."""
    from pprlib.data import batching

    sp, _ = tiny
    cfg = dataclasses.replace(PRETRAIN, loss=loss, max_epochs=1)
    drawn = []
    real = batching.sample_negatives
    monkeypatch.setattr(batching, "sample_negatives", lambda *a, **k: drawn.append(1) or real(*a, **k))
    run = experiments.pretrain(sp, BACKBONE, cfg, use_cache=False)
    assert bool(drawn) == (loss == "bpr")
    if loss == "ce":  # the same model with negatives drawn into every batch
        monkeypatch.setattr(batching.SequenceDataset, "__init__", _with_negatives(batching.SequenceDataset.__init__))
        again = experiments.pretrain(sp, BACKBONE, cfg, use_cache=False)
        assert drawn
        assert all(torch.equal(run.state[k], again.state[k]) for k in run.state)


def _with_negatives(init):
    def wrapped(self, *args, **kwargs):
        init(self, *args, **{**kwargs, "negatives": True})
    return wrapped


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


NO_PROMPT = PPRConfig(prompt="none")


def scripted_fit(sp, monkeypatch, curve, cl=None, seq_cl=None, ppr=NO_PROMPT, mode="ft", desc="train",
                 **cfg):
    """Fit with validation replaced by ``curve`` (epoch 0 first); returns the history, the
    model and the weights it had at each validation."""
    from pprlib import train as train_mod
    from pprlib.data.batching import SequenceDataset

    torch.manual_seed(0)
    model = PPRModel(sp.data.n_items, sp.data.field_sizes, BackboneConfig(d=8, ffn=8, max_len=20),
                     ppr)
    params = model.configure(mode)
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
    batches, calls, loss_of = [], [], model.calculate_loss

    def calculate_loss(batch, *args, **kwargs):
        loss, parts = loss_of(batch, *args, **kwargs)
        batches.append((len(states), float(loss.detach()), dict(parts)))
        calls.append((batch["user"].tolist(), args, kwargs))
        return loss, parts

    model.calculate_loss = calculate_loss
    settings = dict(lr=1e-2, batch_size=16, max_epochs=10, device="cpu", progress=False) | cfg
    history = train_mod.fit(model, params, data, sp, val, TrainConfig(**settings), cl=cl, val_profiles=val_profiles,
                            desc=desc, seq_cl=seq_cl)
    history.attrs["batches"], history.attrs["calls"], history.attrs["lengths"] = batches, calls, data.lengths
    return history, model, states


@pytest.mark.parametrize("curve, patience, min_delta, max_epochs, epochs_run, best", [
    ([0.1, 0.2, 0.5, 0.4, 0.45, 0.3, 0.9, 0.9], 3, 0.0, 7, 5, 2),  # three epochs without gain: stop
    ([0.1, 0.3, 0.2, 0.9], 1, 0.0, 3, 2, 1),  # patience 1 stops at the first setback
    ([0.1, 0.3, 0.3, 0.3, 0.9], 2, 0.0, 4, 3, 1),  # a tie is no gain
    ([0.1, 0.12, 0.14, 0.149, 0.9], 3, 0.05, 4, 3, 0),  # gains below min_delta: back to the untuned model
    ([0.1, 0.2, 0.3, 0.4], 2, 0.0, 3, 3, 3),  # max_epochs reached while improving
    ([0.5, 0.75, 0.9], 1, 0.25, 2, 1, 0),  # a gain of exactly min_delta is no gain (0.5 + 0.25 is exact)
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


# ------------------------------------------------------------------------------------------
# what the loop hands the model, the batches it draws, and the optimizer
# ------------------------------------------------------------------------------------------
def bucket_batches(sp, lengths, batch_size, seed, epochs):
    """The users of every training batch the loop should draw: length buckets shuffled from ``seed``,
    a new order each epoch."""
    from pprlib.data.batching import BucketBatchSampler

    sampler = BucketBatchSampler(lengths, batch_size, seed)
    return [sp.tune_users[batch].tolist() for _ in range(epochs) for batch in sampler]


def test_the_loop_trains_with_its_settings_on_seeded_batches(small_split, monkeypatch):
    from pprlib.models.ppr import ContrastiveConfig, SequenceCLConfig

    cl, seq_cl = ContrastiveConfig(prompt_view=False), SequenceCLConfig()
    history, _, _ = scripted_fit(small_split, monkeypatch, [0.1, 0.2, 0.3], cl=cl, seq_cl=seq_cl, targets="all",
                                 loss="ce", seed=3, max_epochs=2, batch_size=16)
    calls = history.attrs["calls"]
    for _, args, kwargs in calls:
        targets, cl_, generator, loss, seq_cl_ = args
        assert (targets, cl_, loss, seq_cl_) == ("all", cl, "ce", seq_cl) and not kwargs
        # the contrastive views are drawn from one generator seeded with the run's seed
        assert isinstance(generator, torch.Generator) and generator is calls[0][1][2]
    assert calls[0][1][2].initial_seed() == 3
    assert {"loss/rec", "loss/seq_cl"} <= set(history.columns)  # CL4SRec's term was trained
    expected = bucket_batches(small_split, history.attrs["lengths"], 16, seed=3, epochs=2)
    assert [users for users, _, _ in calls] == expected
    assert expected != bucket_batches(small_split, history.attrs["lengths"], 16, seed=0, epochs=2)


@pytest.mark.parametrize("name", ["adamw", "adam"])
def test_make_optimizer_steps_with_the_configured_rate_and_decay(name):
    """One step on a parameter whose first row has a gradient and whose second has none (an item
    not in the batch). AdamW: the first row moves by lr * (1 + weight_decay * p) (Adam's first
    step is lr * sign(grad)), the second only shrinks by lr * weight_decay * p. Adam with L2: the
    decay enters the gradient, so the second row takes a full step of lr toward zero."""
    from pprlib.train import make_optimizer

    lr, wd = 0.1, 0.5
    p = torch.nn.Parameter(torch.tensor([[2.0, -4.0], [1.0, -3.0]]))
    optimizer = make_optimizer([p], TrainConfig(lr=lr, weight_decay=wd, optimizer=name))
    p.grad = torch.tensor([[5.0, -5.0], [0.0, 0.0]])
    before = p.detach().clone()
    optimizer.step()
    if name == "adamw":
        want = torch.stack([before[0] * (1 - lr * wd) - lr * torch.sign(p.grad[0]), before[1] * (1 - lr * wd)])
    else:  # grad + wd * p, normalised: a step of lr against its sign
        want = before - lr * torch.sign(p.grad + wd * before)
    torch.testing.assert_close(p.detach(), want, rtol=0, atol=1e-6)


# ------------------------------------------------------------------------------------------
# data parallelism in-process: two CPU processes with gloo (the second one forked)
# ------------------------------------------------------------------------------------------
def _fit_as_rank(rank, store, sp, monkeypatch, curve):
    import datetime

    torch.distributed.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2,
                                         timeout=datetime.timedelta(seconds=60))
    try:
        # the pre-training model, as pprlib.distributed trains it (CL4SRec's term: a loss of two parts)
        from pprlib.models.ppr import SequenceCLConfig

        return scripted_fit(sp, monkeypatch, curve, ppr=PPRConfig(prompt="none", profile_model=False),
                            mode="pretrain", seq_cl=SequenceCLConfig(), max_epochs=2, batch_size=16, seed=1)
    finally:
        torch.distributed.destroy_process_group()


def test_two_processes_train_one_model_on_disjoint_shards(small_split, monkeypatch, tmp_path):
    """Each process trains on its half of every batch; DistributedDataParallel averages the
    gradients, so both end with the same weights; the loss in the history is the mean over both
    processes. (The slow test_distributed.py checks the same under torchrun against one process.)"""
    import multiprocessing
    import os
    import traceback

    store, curve = tmp_path / "store", [0.1, 0.2, 0.3]

    def second():
        try:
            history, model, _ = _fit_as_rank(1, store, small_split, monkeypatch, curve)
            users = [u for u, _, _ in history.attrs["calls"]]
            torch.save({"state": model.state_dict(), "batches": history.attrs["batches"], "users": users,
                        "history": history.drop(columns="seconds").to_dict("list")}, tmp_path / "rank1.pt")
        except BaseException:
            (tmp_path / "rank1.err").write_text(traceback.format_exc())
            os._exit(1)

    child = multiprocessing.get_context("fork").Process(target=second)
    child.start()
    try:
        history, model, _ = _fit_as_rank(0, store, small_split, monkeypatch, curve)
    finally:
        child.join(120)
        if child.is_alive():
            child.kill()
    err = tmp_path / "rank1.err"
    assert child.exitcode == 0, err.read_text() if err.exists() else child.exitcode
    other = torch.load(tmp_path / "rank1.pt", weights_only=False)

    # shards: rank r gets rows r, r + 2, ... of every batch of the seeded sampler
    full = bucket_batches(small_split, history.attrs["lengths"], 16, seed=1, epochs=2)
    assert [u for u, _, _ in history.attrs["calls"]] == [b[0::2] for b in full]
    assert other["users"] == [b[1::2] for b in full]
    # one model: the same weights on both processes, and training moved them
    state = model.state_dict()
    assert all(torch.equal(state[k], other["state"][k]) for k in state)
    # the history is the same on both and its loss is the mean over the processes' batch means
    assert history.drop(columns="seconds").equals(pd.DataFrame(other["history"]))
    for epoch in (1, 2):
        mine = [(loss, parts) for e, loss, parts in history.attrs["batches"] if e == epoch]
        theirs = [(loss, parts) for e, loss, parts in other["batches"] if e == epoch]
        assert len(mine) == len(theirs) >= 2
        assert np.mean([loss for loss, _ in mine]) != pytest.approx(np.mean([loss for loss, _ in theirs]))
        both = [sum(loss for loss, _ in run) / len(run) for run in (mine, theirs)]
        assert history["loss"][epoch] == pytest.approx(sum(both) / 2, rel=1e-12)
        for part in ("rec", "seq_cl"):
            means = [sum(p[part] for _, p in run) / len(run) for run in (mine, theirs)]
            assert history[f"loss/{part}"][epoch] == pytest.approx(sum(means) / 2, rel=1e-12)


def test_one_batch_per_epoch_reports_that_batchs_loss(small_split, monkeypatch):
    history, _, _ = scripted_fit(small_split, monkeypatch, [0.1, 0.2, 0.3], max_epochs=2, batch_size=1000)
    batches = history.attrs["batches"]
    assert [e for e, _, _ in batches] == [1, 2]
    assert history["loss"][1:].tolist() == [loss for _, loss, _ in batches]
    assert history["loss/rec"][1:].tolist() == [parts["rec"] for _, _, parts in batches]


@pytest.mark.parametrize("progress, env, shown", [(True, None, True), (False, None, False), (True, "0", True),
                                                  (True, "1", False)])
def test_progress_bar_names_the_run_unless_switched_off(small_split, monkeypatch, capsys, progress, env, shown):
    """The bar (on stderr) carries the run's name, loss and monitored metric; ``progress=False``
    or ``TQDM_DISABLE`` (set by the book runner) silence it."""
    if env is None:
        monkeypatch.delenv("TQDM_DISABLE", raising=False)
    else:
        monkeypatch.setenv("TQDM_DISABLE", env)
    scripted_fit(small_split, monkeypatch, [0.1, 0.2], desc="tune ft seed 0", progress=progress, max_epochs=1)
    err = capsys.readouterr().err
    assert "\n" not in err  # the bar is cleared when the run ends (leave=False): no stale line in a notebook
    if shown:
        assert "tune ft seed 0" in err and "NDCG@10=0.2000" in err and re.search(r"loss=\d+\.\d{4}\b", err)
    else:
        assert err == ""


@pytest.mark.parametrize("fails", [False, True])
def test_fit_hands_freed_memory_back_when_it_returns(small_split, monkeypatch, fails):
    """fit releases the freed heap pages of its training once it is over (also when it fails)."""
    from pprlib import train as train_mod

    released = []
    monkeypatch.setattr(train_mod, "release_freed_memory", lambda: released.append(True))
    if not fails:
        scripted_fit(small_split, monkeypatch, [0.1, 0.2], max_epochs=1)
    else:
        with pytest.raises(StopIteration):  # the scripted validation runs out of scores
            scripted_fit(small_split, monkeypatch, [0.1], max_epochs=3)
    assert released == [True]


def test_release_freed_memory_shrinks_the_process():
    """glibc keeps the pages of freed tensors; after the release the process holds less (about
    360 MiB less here: 400 tensors of 1 MiB freed between kept ones)."""
    import psutil

    from pprlib.train import _malloc_trim, release_freed_memory

    if _malloc_trim() is None:
        pytest.skip("the C library has no malloc_trim (not glibc)")
    process = psutil.Process()
    big = [torch.ones(1 << 20) for _ in range(8)]  # freed 4 MiB blocks raise glibc's mmap threshold
    del big
    tensors = [torch.ones(1 << 18) for _ in range(400)]  # 1 MiB each: now on the heap
    keep = tensors[::40]  # noqa: F841 (kept alive: the freed pages lie between them)
    del tensors
    before = process.memory_info().rss
    assert release_freed_memory() is True
    assert before - process.memory_info().rss > 200 * 2**20


def test_make_optimizer_gives_bit_for_bit_the_one_tensor_loops_parameters():
    """The optimizer takes torch's multi-tensor path for speed: over several steps, some
    parameters without a gradient in some steps, it must leave every parameter bit for bit
    where the one-tensor-at-a-time loop leaves it (a fused kernel, for one, does not)."""
    from pprlib.train import make_optimizer

    cfg = TrainConfig(lr=1e-3, weight_decay=1e-6)  # the book's decay; tensors of a model's sizes
    g = torch.Generator().manual_seed(0)
    start = [torch.randn(shape, generator=g) for shape in ((64, 64), (64,), (200, 64))]
    grads = [[torch.randn(t.shape, generator=g) if (step + i) % 3 else None for i, t in enumerate(start)]
             for step in range(10)]

    def trained(make):
        params = [torch.nn.Parameter(t.clone()) for t in start]
        optimizer = make(params)
        for step in grads:
            for p, grad in zip(params, step, strict=True):
                p.grad = None if grad is None else grad.clone()
            optimizer.step()
        return params

    ours = trained(lambda params: make_optimizer(params, cfg))
    loop = trained(lambda params: torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay, foreach=False))
    for a, b in zip(ours, loop, strict=True):
        assert torch.equal(a, b)
    assert not all(torch.equal(a, t) for a, t in zip(ours, start, strict=True))  # it trained
