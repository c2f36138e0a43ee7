"""One training loop for pre-training and tuning.

AdamW (decoupled weight decay) on the parameters the mode tunes; the loss ``TrainConfig.loss``:
BPR with one fresh negative per target (the paper's; tuning uses it) or a softmax over all items
("ce"; the book pre-trains with it); optional contrastive regularization; validation after every
epoch with early stopping on a sampled metric, the best weights restored at the end. Seeded; ``device="auto"`` picks CUDA when present
and then uses bf16 autocast where supported (``amp``).
"""

from __future__ import annotations

import contextlib
import copy
import ctypes
import functools
import os
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from pprlib import timing
from pprlib.data.batching import SequenceDataset, loader
from pprlib.data.protocol import ColdStartSplit, Instances
from pprlib.evaluation import evaluate
from pprlib.models.ppr import TARGETS, ContrastiveConfig, PPRModel, SequenceCLConfig


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; a clear error for anything unusable."""
    if isinstance(device, torch.device):
        device = str(device)
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"unknown device {device!r}; expected 'auto', 'cpu', 'cuda' or 'cuda:N'") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {device!r} was requested but CUDA is not available here; use 'auto' or 'cpu'")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"device {device!r}: only {torch.cuda.device_count()} CUDA device(s) present")
    elif dev.type != "cpu":
        raise ValueError(f"unsupported device {device!r}; expected 'auto', 'cpu', 'cuda' or 'cuda:N'")
    return dev


@functools.cache
def _malloc_trim():
    """glibc's ``malloc_trim`` (None elsewhere: macOS, musl)."""
    try:
        return getattr(ctypes.CDLL(None), "malloc_trim", None)
    except OSError:
        return None


def release_freed_memory() -> bool:
    """Hand the pages of the C heap that freed memory left behind back to the operating system
    (glibc's ``malloc_trim``). Returns True where the C library has that call, False where it has
    none (macOS, musl), and then does nothing.

    glibc keeps freed memory for reuse, so without a release a process goes on holding the memory
    of its largest training after its tensors are gone. :func:`fit` calls this when it returns,
    also when it fails. Only freed memory is released: live tensors and results are untouched, and
    later allocations take their pages from the system again."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


OPTIMIZERS = {"adamw": torch.optim.AdamW, "adam": torch.optim.Adam}


def make_optimizer(params: list[torch.nn.Parameter], cfg: TrainConfig) -> torch.optim.Optimizer:
    """The optimizer of :func:`fit` for ``params`` (see ``TrainConfig.optimizer``).

    Its multi-tensor (``foreach``) implementation, which torch picks by itself only on CUDA: on
    a CPU it gives the same parameters, bit for bit, as the one-tensor-at-a-time loop, in about
    three quarters of the time (``benchmarks/step_paths.py`` measures both)."""
    return OPTIMIZERS[cfg.optimizer](params, lr=cfg.lr, weight_decay=cfg.weight_decay, foreach=True)


@dataclass(frozen=True)
class TrainConfig:
    lr: float = 1e-3
    weight_decay: float = 1e-6
    # "adamw": decoupled weight decay (p -= lr * weight_decay * p), the same small shrink for
    # every parameter. "adam": L2 added to the gradient, which Adam's normalisation turns into a
    # full-size step toward zero for every parameter without gradient in a step (item rows not
    # in the batch), so ft and PPR(full) would erode the item embeddings PPR(light) keeps frozen
    optimizer: str = "adamw"
    batch_size: int = 256
    max_epochs: int = 30
    patience: int = 3
    min_delta: float = 0.0  # an epoch counts as better only if it gains more than this
    targets: str = "few"
    loss: str = "bpr"
    monitor: str = "NDCG@10"
    seed: int = 0
    deterministic: bool = False  # deterministic (slower) CUDA kernels; CPU runs are deterministic anyway
    device: str = field(default="auto", metadata={"cosmetic": True})
    amp: bool = True  # bf16 (or fp16) autocast on CUDA: changes the numbers, so part of cache keys
    progress: bool = field(default=True, metadata={"cosmetic": True})

    def __post_init__(self) -> None:
        if not self.lr > 0:
            raise ValueError(f"TrainConfig.lr must be > 0, got {self.lr!r}")
        if not 0 <= self.min_delta < 1:
            raise ValueError(f"TrainConfig.min_delta must lie in [0, 1), got {self.min_delta!r}")
        if self.weight_decay < 0:
            raise ValueError(f"TrainConfig.weight_decay must be >= 0, got {self.weight_decay!r}")
        for name in ("batch_size", "max_epochs", "patience"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"TrainConfig.{name} must be an integer >= 1, got {value!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"TrainConfig.optimizer must be one of {tuple(OPTIMIZERS)}, got {self.optimizer!r}")
        if self.loss not in ("bpr", "ce"):
            raise ValueError(f"TrainConfig.loss must be 'bpr' or 'ce', got {self.loss!r}")
        if self.targets not in TARGETS:
            raise ValueError(f"TrainConfig.targets must be one of {TARGETS}, got {self.targets!r}")


@contextlib.contextmanager
def deterministic_algorithms(enabled: bool):
    """Within the block, ask torch for deterministic kernels (``enabled``); restored afterwards.

    On CUDA, scatter/index-add style backward passes (embedding gradients, ``index_put`` with
    accumulation) and some attention kernels are nondeterministic by default: two runs with the
    same seed can differ in the last bits, and training amplifies that. With the switch on, torch
    uses deterministic kernels where it has them and warns where it has none; cuBLAS needs
    ``CUBLAS_WORKSPACE_CONFIG``, set here when absent. CPU kernels used here are deterministic.
    """
    if not enabled:
        yield
        return
    previous = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled())
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous[0], warn_only=previous[1])


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)


def precision(cfg: TrainConfig) -> str:
    """The arithmetic of training with ``cfg`` here: ``"bf16"`` (``"fp16"`` where bf16 is not
    supported) under CUDA autocast with ``amp``, else ``"fp32"``. Cache keys include it: a
    device is cosmetic, the precision it trains in is not."""
    if cfg.amp and resolve_device(cfg.device).type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "fp32"


def _autocast(device: torch.device, enabled: bool):
    if enabled and device.type == "cuda":
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.autocast("cuda", dtype=dtype)
    return torch.autocast("cpu", enabled=False)


def validate(model: PPRModel, split: ColdStartSplit, inst: Instances, device: torch.device,
             profiles: np.ndarray | None = None) -> dict[str, float]:
    model.eval()
    per = evaluate(model.full_sort_predict, split, inst, full_ranking=False, device=device, profiles=profiles)
    return {k: float(v.mean()) for k, v in per.items()}


def fit(model: PPRModel, params: list[torch.nn.Parameter], train: SequenceDataset, split: ColdStartSplit,
        val: Instances, cfg: TrainConfig, cl: ContrastiveConfig | None = None,
        val_profiles: np.ndarray | None = None, desc: str = "train",
        seq_cl: SequenceCLConfig | None = None) -> pd.DataFrame:
    """Train ``params`` of ``model``; returns the per-epoch history (loss, validation metrics).

    The model ends on the epoch with the best validation ``cfg.monitor``. A run whose loss or
    parameters stop being finite stops there (:func:`diverged`): the history's last row says
    ``diverged``, and the model is the best one from before.
    """
    try:
        with deterministic_algorithms(cfg.deterministic):
            return _fit(model, params, train, split, val, cfg, cl, val_profiles, desc, seq_cl)
    finally:
        release_freed_memory()


def diverged(total_loss: float, params) -> bool:
    """Whether a run diverged in this epoch: its summed loss or one of its tuned parameters is no
    longer finite. :func:`fit` then stops, records the epoch as ``diverged`` in the history and
    restores the best weights it had (finite, from before); a learning-rate choice never picks
    such a rate (:func:`pprlib.comparisons.choose_lr`)."""
    if not np.isfinite(total_loss):
        return True
    return not all(bool(torch.isfinite(p).all()) for p in params)


def has_diverged(history: pd.DataFrame) -> bool:
    """Whether the run of ``history`` (of :func:`fit`) diverged."""
    return "diverged" in history and bool(history["diverged"].fillna(False).astype(bool).any())


def distributed_world() -> tuple[int, int]:
    """(rank, world size) of the running ``torch.distributed`` process group, or (0, 1)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


class Epochs:
    """One run's epoch bookkeeping, the same for :func:`fit` and for runs trained together
    (:mod:`pprlib.batched`): the history (one row per epoch: loss, its parts, validation
    metrics, seconds), the best validation ``cfg.monitor`` and its weights, patience, the epoch
    budget, divergence, and the best weights restored at the end."""

    def __init__(self, model: PPRModel, params: list[torch.nn.Parameter], cfg: TrainConfig):
        self.model, self.params, self.cfg = model, params, cfg
        self.history: list[dict] = []
        self.best, self.best_state, self.bad, self.epoch = -np.inf, None, 0, 0
        self.active = True
        self.started = time.perf_counter()

    def start(self, score: dict[str, float]) -> None:
        """Epoch 0: the validation score of the weights tuning starts from."""
        self.history.append({"epoch": 0, "loss": np.nan, **{f"val/{k}": v for k, v in score.items()}, "seconds": 0.0})
        self.best, self.best_state = score[self.cfg.monitor], copy.deepcopy(self.model.state_dict())

    def stop_if_diverged(self, total: float, n: int) -> bool:
        """Whether the epoch just trained diverged (:func:`diverged`); if so it is recorded as
        ``diverged`` (no validation) and the run stops."""
        if not diverged(total, self.params):
            return False
        self.epoch += 1
        self.history.append({"epoch": self.epoch, "loss": total / max(n, 1), "diverged": True,
                             "seconds": time.perf_counter() - self.started})
        self.active = False
        return True

    def end(self, score: dict[str, float], total: float, parts_sum: dict[str, float], n: int) -> dict:
        """The history row of an epoch of ``n`` steps whose losses summed to ``total`` (and
        ``parts_sum``), and the early-stopping decision (``active``)."""
        self.epoch += 1
        n = max(n, 1)
        row = {"epoch": self.epoch, "loss": total / n, **{f"loss/{k}": v / n for k, v in parts_sum.items()},
               **{f"val/{k}": v for k, v in score.items()}, "seconds": time.perf_counter() - self.started}
        self.history.append(row)
        if score[self.cfg.monitor] > self.best + max(self.cfg.min_delta, 1e-6):
            self.best, self.best_state, self.bad = score[self.cfg.monitor], copy.deepcopy(self.model.state_dict()), 0
        else:
            self.bad += 1
            if self.bad >= self.cfg.patience:
                self.active = False
        if self.epoch >= self.cfg.max_epochs:
            self.active = False
        return row

    def finish(self) -> pd.DataFrame:
        """The model on its best epoch, in eval mode; the history."""
        self.model.load_state_dict(self.best_state)
        self.model.eval()
        return pd.DataFrame(self.history)


def _fit(model, params, train, split, val, cfg, cl, val_profiles, desc, seq_cl) -> pd.DataFrame:
    device = resolve_device(cfg.device)
    model.to(device)
    optimizer = make_optimizer(params, cfg)
    generator = torch.Generator().manual_seed(cfg.seed)
    rank, world = distributed_world()
    net = model
    if world > 1:  # data parallel: each process trains on its shard of every batch, gradients averaged
        from torch.nn.parallel import DistributedDataParallel

        net = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None,
                                      find_unused_parameters=True)
    batches = loader(train, cfg.batch_size, shuffle=True, seed=cfg.seed, pin_memory=device.type == "cuda",
                     rank=rank, world=world)
    epochs = Epochs(model, params, cfg)
    quiet = not cfg.progress or os.environ.get("TQDM_DISABLE", "") not in ("", "0")  # the book runner sets it
    bar = tqdm(range(cfg.max_epochs), desc=desc, disable=quiet, leave=False)
    with timing.part("validation"):
        epochs.start(validate(model, split, val, device, val_profiles))
    for _ in bar:
        model.train()
        total, parts_sum, n = 0.0, {}, 0
        with timing.part("tuning steps"):
            for batch in batches:
                batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
                with _autocast(device, cfg.amp):
                    loss, parts = net(batch, cfg.targets, cl, generator, cfg.loss, seq_cl)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total += float(loss.detach())
                for k, v in parts.items():
                    parts_sum[k] = parts_sum.get(k, 0.0) + v
                n += 1
        timing.count("optimizer steps", n)
        if world > 1:  # the epoch's loss averaged over the processes (validation is the same on each)
            sums = torch.tensor([total, *parts_sum.values()], dtype=torch.float64)
            torch.distributed.all_reduce(sums)
            total, parts_sum = float(sums[0]) / world, dict(zip(parts_sum, (sums[1:] / world).tolist(), strict=True))
        if epochs.stop_if_diverged(total, n):  # every process sees the same averaged loss; its own parameters
            break
        with timing.part("validation"):
            score = validate(model, split, val, device, val_profiles)
        row = epochs.end(score, total, parts_sum, n)
        bar.set_postfix(loss=f"{row['loss']:.4f}", **{cfg.monitor: f"{score[cfg.monitor]:.4f}"})
        if not epochs.active:
            break
    return epochs.finish()
