"""Runs: pre-train a backbone, tune a method on the cold users, evaluate it, cache the result.

Every run is stored on disk under a key derived from everything its result depends on: the
split (:func:`split_fingerprint`: the data, the protocol and every user group and instance
set, so a split with other profiles or another test population has other keys), the
pre-trained model, the method, the tuning settings that method reads, the arithmetic precision
(:func:`~pprlib.train.precision`), the targets and the seed. The tuning functions take the
chapter's :class:`~pprlib.context.Context` whole. Many runs (methods over seeds, learning
rates) are :mod:`pprlib.comparisons`, above this module; :func:`tuning_job` and
:func:`tested_run` are the parts of a run that :mod:`pprlib.batched` shares.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch

from pprlib import timing
from pprlib.cache import atomic_write, cache_dir, cached, config_key
from pprlib.data.batching import SequenceDataset
from pprlib.data.protocol import ColdStartSplit, Instances, concat_instances
from pprlib.evaluation import evaluate, most_popular
from pprlib.methods import Method, method
from pprlib.models.backbones import BackboneConfig
from pprlib.models.ppr import ContrastiveConfig, PPRConfig, PPRModel, SequenceCLConfig
from pprlib.train import TrainConfig, fit, precision, resolve_device, seed_everything

if TYPE_CHECKING:
    from pprlib.context import Context


def stored(path: Path, compute: Callable[[], dict], use_cache: bool = True) -> dict:
    """``compute()`` (a dict of tensors, lists and numbers), kept at ``path`` with
    :func:`torch.save` and read back with ``weights_only`` (:func:`~pprlib.cache.cached`)."""
    if not use_cache:
        return compute()
    return cached(path, compute, save_torch, lambda p: torch.load(p, weights_only=True))


def save_torch(value, path: Path) -> None:
    """:func:`torch.save` through a Python file: a full disk is then an ``OSError`` (errno
    ``ENOSPC``) that :func:`~pprlib.cache.atomic_write` names the file in; given a file name,
    torch's own writer says only ``unexpected pos 704 vs 598``."""
    with open(path, "wb") as fh:
        torch.save(value, fh)


def split_fingerprint(split: ColdStartSplit, fields: tuple[str, ...] | None = None,
                      sets: tuple[str, ...] | None = None) -> str:
    """A key of the split: its data (and the untruncated data of simulated cold users), its
    protocol, and its user groups and instance sets (``fields`` and ``sets`` restrict them to
    the ones a run reads; by default every field of :class:`~pprlib.data.protocol.ColdStartSplit`
    and every set, so a field added to the split later is keyed too)."""
    names = [f.name for f in dataclasses.fields(split) if f.name not in ("data", "full", "sets")]
    chosen = {name: getattr(split, name) for name in (names if fields is None else ("config", *fields))}
    chosen["sets"] = {name: split.sets[name] for name in (sorted(split.sets) if sets is None else sets)}
    full = split.full.fingerprint() if split.full is not None else None
    return config_key("split", split.data.fingerprint(), full, chosen)


# --------------------------------------------------------------------------------------------
# pre-training


@dataclass(frozen=True)
class Pretrained:
    state: dict
    history: pd.DataFrame
    key: str


def pretraining_key(split: ColdStartSplit, backbone: BackboneConfig, cfg: TrainConfig,
                    seq_cl: SequenceCLConfig | None = None, include_cold: bool = False) -> str:
    """The key of :func:`pretrain`: the data, the protocol, the users and validation set it
    reads (the warm ones; with ``include_cold`` also the cold tuning and validation ones), the
    model, the settings and their precision."""
    fields, sets = ("warm_users",), ("warm_val",)
    if include_cold:
        fields, sets = ("warm_users", "tune_users"), ("warm_val", "val")
    return config_key("pretrain", split_fingerprint(split, fields, sets), backbone, cfg, precision(cfg), seq_cl,
                      include_cold)


def pretrain(split: ColdStartSplit, backbone: BackboneConfig, cfg: TrainConfig, *,
             seq_cl: SequenceCLConfig | None = None, include_cold: bool = False, use_cache: bool = True) -> Pretrained:
    """Pre-train the backbone on the warm users (their clicks but the last two); cached.

    ``seq_cl`` adds CL4SRec's contrastive loss. ``include_cold`` also trains on the cold
    tuning users' clicks and selects on the cold validation users: the "trained on all data"
    baselines of the paper's table.
    """
    data = split.data
    key = pretraining_key(split, backbone, cfg, seq_cl, include_cold)

    def compute():
        seed_everything(cfg.seed)
        model = PPRModel(data.n_items, data.field_sizes, backbone, PPRConfig(prompt="none", profile_model=False))
        params = model.configure("pretrain")
        users, lengths = split.pretrain_sequences()
        val = split.instances("warm_val")
        if include_cold:
            users = np.concatenate([users, split.tune_users])
            lengths = np.concatenate([lengths, data.lengths[split.tune_users]])
            val = split.instances("val").few_shot()
        train = SequenceDataset(data, users, lengths, backbone.max_len + 1, seed=cfg.seed, clicked=split.clicked,
                                negatives=cfg.loss == "bpr")
        history = fit(model, params, train, split, val, cfg, desc="pre-train", seq_cl=seq_cl)
        return _checkpoint({k: v.cpu() for k, v in model.backbone_state().items()}, history)

    def timed():
        with timing.part("pre-training"):
            timing.count("pre-trainings")
            return compute()

    value = stored(checkpoint_path(key), timed, use_cache)
    return Pretrained(value["state"], pd.DataFrame(value["history"]), key)


def _checkpoint(state: dict, history: pd.DataFrame) -> dict:
    """What a pre-training checkpoint file holds (plain tensors and lists: loads with weights_only)."""
    return {"state": state, "history": {c: history[c].tolist() for c in history.columns}}


def checkpoint_path(key: str) -> Path:
    """Where the pre-trained model with cache key ``key`` is stored."""
    return cache_dir() / "checkpoints" / f"pretrain-{key}.pt"


def save_pretrained(pre: Pretrained) -> None:
    """Store a pre-trained model under its key (as :func:`pretrain` would): a model trained
    elsewhere (e.g. on several processes) is then found by every chapter."""
    value = _checkpoint(pre.state, pre.history)
    atomic_write(checkpoint_path(pre.key), lambda tmp: save_torch(value, tmp))


# --------------------------------------------------------------------------------------------
# tuning


@dataclass(frozen=True)
class TuneSettings:
    """Everything about tuning that is shared by the methods of one comparison."""

    train: TrainConfig = TrainConfig(batch_size=64)
    lr: dict = field(default_factory=dict)  # method name -> learning rate (else train.lr)
    contrastive: ContrastiveConfig = ContrastiveConfig()
    n_prompt: int = 1
    profile_noise: float = 0.0
    k_shot: int | None = None
    # zero-shot tuning batches: one target per user, so 256 users make the paper's batch of 256
    # instances and its in-batch InfoNCE 255 negatives (``train.batch_size`` users of up to nine
    # few-shot targets each make the few-shot and joint batches)
    zero_shot_batch: int = 256
    # zero-shot tuning's epochs and patience are this many times the few-shot ones (None: the
    # ratio of the two batch sizes, ``zero_shot_batch / train.batch_size``): an epoch of one
    # first click per user is that many times fewer optimizer steps, and zero-shot tuning then
    # gets the same budget and patience in steps as few-shot tuning. Counted in epochs (1 = the
    # few-shot numbers), patience 3 stops zero-shot runs about a dozen steps after their best
    # epoch on 10 % of the cold users' first clicks, some before they converge (the zero-shot chapter)
    zero_shot_epochs_scale: int | None = None
    # the cold test population: "test" (the paper's protocol: 20 % of the cold users) or, on
    # generated data with held-out users, "test+heldout" (those and the held-out cold users)
    test: str = "test"
    # the share of the cold tuning users a run tunes on (nested subsets: :func:`tuning_users`);
    # 1.0 is the paper's protocol, less measures how a method's gain grows with its tuning users
    tune_share: float = 1.0

    def __post_init__(self) -> None:
        if self.test not in ("test", "test+heldout"):
            raise ValueError(f"TuneSettings.test must be 'test' or 'test+heldout', got {self.test!r}")
        if not 0.0 < self.tune_share <= 1.0:
            raise ValueError(f"TuneSettings.tune_share must lie in (0, 1], got {self.tune_share!r}")
        if self.zero_shot_epochs_scale is not None and (not isinstance(self.zero_shot_epochs_scale, int)
                                                        or self.zero_shot_epochs_scale < 1):
            raise ValueError("TuneSettings.zero_shot_epochs_scale must be None or an integer >= 1, "
                             f"got {self.zero_shot_epochs_scale!r}")

    def lr_for(self, name: str) -> float:
        return float(self.lr.get(name, self.train.lr))

    @property
    def zero_shot_scale(self) -> int:
        """How many times the few-shot epochs and patience zero-shot tuning gets (see
        ``zero_shot_epochs_scale``)."""
        if self.zero_shot_epochs_scale is not None:
            return self.zero_shot_epochs_scale
        return max(1, round(self.zero_shot_batch / self.train.batch_size))

    def train_config(self, name: str, targets: str, seed: int) -> TrainConfig:
        """The training settings of method ``name`` tuned on ``targets`` with ``seed`` (its loss
        is the method's, :attr:`~pprlib.methods.Method.loss`)."""
        cfg = dataclasses.replace(self.train, lr=self.lr_for(name), seed=seed, targets=targets, loss=method(name).loss)
        if targets != "zero":
            return cfg
        scale = self.zero_shot_scale
        return dataclasses.replace(cfg, batch_size=self.zero_shot_batch, max_epochs=cfg.max_epochs * scale,
                                   patience=cfg.patience * scale)

    def of(self, name: str) -> TuneSettings:
        """The settings method ``name`` reads: the learning rates of other methods left out
        (a run's cache key is then shared by every comparison that tunes it alike)."""
        return dataclasses.replace(self, lr={name: self.lr_for(name)})


def instances(split: ColdStartSplit, name: str, targets: str, k_shot: int | None = None) -> Instances:
    """Instance set ``name`` restricted to ``targets`` (``few``, ``zero`` or ``all``); with
    ``k_shot`` the few-shot instances with at most ``k_shot`` clicks of history."""
    if name == "test+heldout" and not len(split.heldout_users):
        raise ValueError(f"{split.data.name}: the split has no held-out test users (only generated data "
                         "with SyntheticConfig.heldout_users or zero_shot_users > 0 has them); evaluate on 'test'")
    return restrict(split.instances(name), targets, k_shot)


def restrict(inst: Instances, targets: str, k_shot: int | None = None) -> Instances:
    """``inst`` restricted to ``targets`` (and, with ``k_shot``, to histories of at most
    ``k_shot`` clicks), as :func:`instances` does."""
    if targets == "zero":
        return inst.zero_shot()
    if k_shot is not None:
        return inst.k_shot(k_shot) if targets == "few" else inst.select(inst.positions <= k_shot)
    return inst.few_shot() if targets == "few" else inst


def cold_profiles(split: ColdStartSplit, rate: float, seed: int) -> np.ndarray:
    """Cold users' profiles (tuning, validation, test and held-out test users) with each field
    replaced by a random valid value with prob ``rate`` (warm users keep theirs: the noise study
    perturbs only the downstream task)."""
    from pprlib.augment import noisy_profiles as perturb

    profiles = split.data.profiles.copy()
    if rate <= 0:
        return profiles
    cold = np.concatenate([split.tune_users, split.val_users, split.test_users, split.heldout_users])
    g = torch.Generator().manual_seed(10_000 + seed)
    profiles[cold] = perturb(torch.from_numpy(profiles[cold]), split.data.field_sizes, rate, g).numpy()
    return profiles


def build_model(ctx: Context, name: str, settings: TuneSettings) -> PPRModel:
    """A new model of method ``name`` holding the context's pre-trained backbone."""
    ppr = method(name).ppr
    if ppr is None:
        raise ValueError(f"{name!r} has no model to tune; choose a method with a model, e.g. 'ft'")
    if ppr.prompt != "none":
        ppr = dataclasses.replace(ppr, n_prompt=settings.n_prompt)
    model = PPRModel(ctx.split.data.n_items, ctx.split.data.field_sizes, ctx.backbone, ppr)
    model.load_pretrained(ctx.pre.state)
    return model


def tuning_set(ctx: Context, settings: TuneSettings, seed: int, profiles: np.ndarray | None = None,
               of: Method | None = None) -> SequenceDataset:
    """The cold tuning users' training sequences (:func:`tuning_users` with ``settings.tune_share``)
    and, for a method ``of`` that tunes on the warm users' profiles (``warm="tuning"``), the warm
    tuning users of :meth:`~pprlib.data.protocol.ColdStartSplit.warm_profiles` after them (each cut
    to the clicks a cold user can have); batches carry training negatives unless the method's
    loss reads none (``loss="ce"``). With ``settings.k_shot = k`` each is cut to
    its first ``k + 1`` clicks: every few-shot target then has a history of at most ``k``
    clicks, the reading of the paper's "k-shot" that the sparsity study uses (and its test
    instances, :meth:`~pprlib.data.protocol.Instances.k_shot`). Training negatives are items
    the user never clicked in the untruncated data (:attr:`ColdStartSplit.clicked`)."""
    split = ctx.split
    users = tuning_users(split, settings.tune_share)
    lengths = split.data.lengths[users]
    if of is not None and of.warm == "tuning":
        extra = split.warm_profiles()
        users, lengths = np.concatenate([users, extra.tune_users]), np.concatenate([lengths, extra.lengths])
    if settings.k_shot is not None:
        lengths = np.minimum(lengths, settings.k_shot + 1)
    return SequenceDataset(split.data, users, lengths, ctx.backbone.max_len + 1, seed=seed,
                           profiles=profiles, clicked=split.clicked, negatives=of is None or of.loss == "bpr")


def tuning_users(split: ColdStartSplit, share: float = 1.0) -> np.ndarray:
    """The cold tuning users a run tunes on: all of them, or a nested share of them
    (:func:`nested_share` with the split's seed)."""
    return nested_share(split.tune_users, share, [split.config.seed, 7])


def nested_share(users: np.ndarray, share: float, seed) -> np.ndarray:
    """All of ``users``, or the first ``ceil(share * n)`` of one fixed shuffle (drawn with
    ``seed``), sorted: a smaller share is a subset of a larger one."""
    if share >= 1.0:
        return users
    order = np.random.default_rng(seed).permutation(len(users))
    return np.sort(users[order[: max(1, int(np.ceil(share * len(users))))]])


def tuning_job(ctx: Context, name: str, settings: TuneSettings, targets: str,
               seed: int) -> tuple[PPRModel, dict | None]:
    """The model of method ``name`` built with ``seed`` and the keyword arguments of
    :func:`~pprlib.train.fit` that tune it (``None`` for a method without tuning):
    :func:`tune` runs them one by one, :func:`pprlib.batched.fit_many` many at once."""
    m = method(name)
    seed_everything(seed)
    model = build_model(ctx, name, settings)
    profiles = cold_profiles(ctx.split, settings.profile_noise, seed)
    if not m.tuned:
        return model, None
    params = model.configure(m.mode)
    train = tuning_set(ctx, settings, seed, profiles, of=m)
    cfg = run_config(ctx, name, settings, targets, seed)
    cl = None
    if m.contrastive:
        base = settings.contrastive
        cl = dataclasses.replace(base, prompt_view=base.prompt_view and "prompt" in m.views,
                                 behaviour_view=base.behaviour_view and "behaviour" in m.views)
    val = instances(ctx.split, "val", targets, settings.k_shot)
    if m.warm != "none":
        val = concat_instances([val, restrict(ctx.split.warm_profiles().val, targets, settings.k_shot)])
    return model, dict(model=model, params=params, train=train, split=ctx.split, val=val, cfg=cfg, cl=cl,
                       val_profiles=profiles, desc=name)


def tune(ctx: Context, name: str, settings: TuneSettings, targets: str, seed: int) -> tuple[PPRModel, pd.DataFrame]:
    """Tune method ``name`` on the cold tuning users; returns the model and its history."""
    model, job = tuning_job(ctx, name, settings, targets, seed)
    if job is None:
        return model.eval(), pd.DataFrame()
    return model, fit(**job)


def run_config(ctx: Context, name: str, settings: TuneSettings, targets: str, seed: int) -> TrainConfig:
    """The training settings a run of method ``name`` tunes with: :meth:`TuneSettings.train_config`,
    and for a method that also tunes on the warm users (``warm="tuning"``) a patience of as many
    optimizer steps as on the cold tuning users alone (an epoch then has more steps: the patience
    in epochs is scaled by the cold users' share of the tuning users, at least 2 epochs)."""
    cfg = settings.train_config(name, targets, seed)
    if not method(name).tuned or method(name).warm != "tuning":
        return cfg
    cold = len(tuning_users(ctx.split, settings.tune_share))
    share = cold / (cold + len(ctx.split.warm_profiles().tune_users))
    return dataclasses.replace(cfg, patience=max(2, round(cfg.patience * share)))


def run_key(kind: str, ctx: Context, name: str, settings: TuneSettings, targets: str, seed: int) -> str:
    """The cache key of a run of method ``name`` (``kind``: ``"run"`` or ``"model"``): the split
    (:func:`split_fingerprint`), the pre-trained model, the method, the settings it reads, the
    training settings it tunes with (:func:`run_config`), their precision, the targets and the seed."""
    settings = settings.of(name)
    cfg = run_config(ctx, name, settings, targets, seed) if method(name).tuned else None
    return config_key(kind, ctx.split_key, ctx.pre.key, name, method(name), ctx.backbone, settings, cfg,
                      precision(settings.train), targets, seed)


def tuned_model(ctx: Context, name: str, settings: TuneSettings, targets: str, seed: int, *,
                use_cache: bool = True) -> PPRModel:
    """The model of method ``name`` tuned with ``seed`` (in eval mode, on the CPU): its weights
    are cached on disk, so the explorer and the profile-prediction chapter tune each model once."""
    build_model(ctx, name, settings)  # fails early for a method without a model

    def compute():
        model, _ = tune(ctx, name, settings, targets, seed)
        return {k: v.detach().cpu() for k, v in model.state_dict().items()}

    state = stored(cache_dir() / "models" / f"{run_key('model', ctx, name, settings, targets, seed)}.pt",
                   compute, use_cache)
    model = build_model(ctx, name, settings)
    model.load_state_dict(state)
    return model.cpu().eval()


def run_method(ctx: Context, name: str, settings: TuneSettings, targets: str, seed: int, *,
               use_cache: bool = True) -> dict:
    """Per-instance test metrics (and the tuning history) of one method and seed; cached."""
    compute = lambda: tested_run(ctx, name, settings, targets, seed)  # noqa: E731
    return stored_run(run_key("run", ctx, name, settings, targets, seed), compute, use_cache)


def tested_run(ctx: Context, name: str, settings: TuneSettings, targets: str, seed: int,
               tuned: tuple[PPRModel, pd.DataFrame] | None = None) -> tuple[dict, pd.DataFrame]:
    """Per-instance test metrics and tuning history of one method and seed, tuned here or
    given (``tuned``: the model and history of :func:`tune`, e.g. from :mod:`pprlib.batched`)."""
    m = method(name)
    test = instances(ctx.split, settings.test, targets, settings.k_shot)
    profiles = cold_profiles(ctx.split, settings.profile_noise, seed)
    device = resolve_device(settings.train.device)
    if m.kind == "popularity":
        scorer, history = most_popular(ctx.split, m.popularity), pd.DataFrame()
    else:
        model, history = tuned or tune(ctx, name, settings, targets, seed)
        model.to(device).eval()
        scorer = model.full_sort_predict
    with timing.part("test evaluation"):
        per = evaluate(scorer, ctx.split, test, profiles=profiles, device=device)
    label(per, ctx.split, test)
    return per, history


def label(per: dict, split: ColdStartSplit, test: Instances) -> None:
    """Label each instance's kind (``position``: 0 = zero-shot) and population (``heldout``:
    1 = a held-out generated test user), so that results can be split by both."""
    per["position"] = test.positions.astype(np.float32)
    per["heldout"] = np.isin(test.users, split.heldout_users).astype(np.float32)


def stored_run(key: str, compute, use_cache: bool = True) -> dict:
    """``compute()`` -> (per-instance metrics, training history), timed, and kept in the cache
    under ``key`` (``runs/<key>.pt``); returns ``{"metrics", "history", "seconds"}``."""

    def timed():
        start = time.perf_counter()
        timing.count("runs")
        per, history = compute()
        return {"metrics": {k: torch.from_numpy(v) for k, v in per.items()},
                "history": {c: history[c].tolist() for c in history.columns},
                "seconds": time.perf_counter() - start}

    value = stored(cache_dir() / "runs" / f"{key}.pt", timed, use_cache)
    return {"metrics": {k: v.numpy() for k, v in value["metrics"].items()},
            "history": pd.DataFrame(value["history"]), "seconds": value["seconds"]}
