"""The book's settings: the parameters of a run profile (:class:`BookConfig`, read strictly by
:meth:`BookConfig.from_params`), the settings that constrain one another checked together
(:func:`check_together`), the pre-training and tuning settings they make, and the named
backbones a profile may choose (:data:`BACKBONES`). What a chapter starts from, built from
these settings, is :class:`pprlib.context.Context`.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from pprlib.data.protocol import ProtocolConfig
from pprlib.data.sources import DataSpec
from pprlib.data.synthetic import SyntheticConfig
from pprlib.params import SettingError, check_fields, from_mapping

if TYPE_CHECKING:
    from pprlib.train import TrainConfig

# This module imports no torch: a profile is checked (pprlib.profiles) in a child process that
# then takes about a second instead of waiting for torch. What needs torch's classes is
# made when it is used: BACKBONES (below) and the training settings (pretrain_config, tune_config).
_BACKBONES = {  # name: (the BackboneConfig arguments, pre-trained with CL4SRec's contrastive loss)
    "SASRec": ({}, False),
    "CL4SRec": ({}, True),
    "GRU4Rec": ({"name": "gru4rec"}, False),
    "SASRec (2 layers)": ({"n_layers": 2, "n_heads": 2}, False),
}


def __getattr__(name: str):
    """``BACKBONES``: the pre-trained backbones by name, each the architecture
    (:class:`~pprlib.models.backbones.BackboneConfig`) and, for CL4SRec, its contrastive
    pre-training (:class:`~pprlib.models.ppr.SequenceCLConfig`; ``None`` for the others)."""
    if name == "BACKBONES":
        from pprlib.models.config import BackboneConfig
        from pprlib.models.ppr import SequenceCLConfig

        return {k: (BackboneConfig(**args), SequenceCLConfig() if contrastive else None)
                for k, (args, contrastive) in _BACKBONES.items()}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True)
class BookConfig:
    """The parameters of the chapters' ``parameters`` cells, one field per parameter: a run
    profile (``book/profiles/*.yaml``) sets them and :meth:`from_params` reads it strictly.
    Fields marked ``profile: False`` are not in the parameters cells (set them in code)."""

    profile: str = field(default="default", metadata={"cosmetic": True})  # the run profile's name
    dataset: str = "synthetic"  # or "movielens-100k", "csv:<folder>", ... (see DataSpec)
    n_users: int = 6000
    n_items: int = 1000
    seed: int = 0  # data, split and pre-training seed
    pretrain_loss: str = "ce"  # "ce": softmax over all items (converges in fewer epochs); "bpr": the paper's
    pretrain_lr: float = field(default=5e-3, metadata={"profile": False})
    pretrain_epochs: int = 40
    tune_epochs: int = 30
    lr_grid: tuple[float, ...] = (1e-4, 1e-3)
    seeds: tuple[int, ...] = (0, 1, 2)
    # the main comparisons (few- and zero-shot: ft, PPR(light), PPR(full)) run these seeds; empty = ``seeds``
    main_seeds: tuple[int, ...] = (0, 1, 2, 3, 4, 5)
    # generated data: this many extra cold test users of the same world (never trained on), on
    # which the main comparisons are also evaluated (0 = the paper's test users only; real data
    # has none, and the setting does not apply to it)
    heldout_users: int = 3000
    # generated data: this many more held-out test users with one click each, whose first clicks
    # are zero-shot test instances only (cheap to evaluate: no few-shot instances, no tuning)
    zero_shot_users: int = 10000
    # the zero-shot main comparisons (ft, PPR(light), PPR(full)) run these seeds; empty = ``main_seeds``
    zero_shot_seeds: tuple[int, ...] = tuple(range(12))
    deterministic: bool = False  # deterministic CUDA kernels (see pprlib.train.deterministic_algorithms)
    device: str = field(default="auto", metadata={"cosmetic": True})
    progress: bool = field(default=True, metadata={"cosmetic": True, "profile": False})
    # the grids of single chapters (noise, sparsity, universality, sensitivity)
    noise_rates: tuple[float, ...] = (0.0, 0.25, 0.5)
    k_shots: tuple[int, ...] = (1, 5, 7)
    backbones: tuple[str, ...] = ("SASRec", "CL4SRec", "GRU4Rec")
    prompt_lengths: tuple[int, ...] = (1, 2, 4)
    cl_weights: tuple[float, ...] = (0.0, 0.1, 0.5)
    temperatures: tuple[float, ...] = (0.5, 1.0)
    mask_ratios: tuple[float, ...] = (0.2, 0.5)
    # the mechanism chapter's dose-response study: reduced worlds of this many users (and three times as
    # many held-out cold test users), each level tuned from its own backbone, pre-trained for at most this many epochs
    dose_users: int = 800
    dose_pretrain_epochs: int = 10
    dose_levels: tuple[float, ...] = (0.0, 0.33, 0.67, 1.0)  # each signal's levels; 0 (no signal) must be one

    def __post_init__(self) -> None:
        for name, value in check_fields(self).items():  # types: ints are ints, lists become tuples
            object.__setattr__(self, name, value)

        def bad(name, detail):
            raise SettingError("BookConfig", name, detail)

        if not self.profile.strip():
            bad("profile", "must name the run profile, got an empty string")
        if not self.seeds:
            bad("seeds", "must name at least one seed")
        for name in ("seed", "seeds"):
            for value in np.atleast_1d(getattr(self, name)).tolist():
                if not 0 <= value < 2**32:
                    bad(name, f"must hold integers from 0 to 2**32 - 1 (random seeds), got {value!r}")
        for name in ("seeds", "main_seeds", "zero_shot_seeds"):
            values = list(getattr(self, name))
            if len(set(values)) < len(values):
                bad(name, f"must not repeat a seed, got {values!r}")
            if any(not 0 <= v < 2**32 for v in values):
                bad(name, f"must hold integers from 0 to 2**32 - 1 (random seeds), got {values!r}")
        for name in ("heldout_users", "zero_shot_users"):
            if not 0 <= getattr(self, name) < 2**31:
                bad(name, f"must be an integer >= 0, got {getattr(self, name)!r}")
        if not self.lr_grid or min(self.lr_grid) <= 0:
            bad("lr_grid", f"must hold positive learning rates, got {self.lr_grid!r}")
        if not self.pretrain_lr > 0:
            bad("pretrain_lr", f"must be a positive learning rate, got {self.pretrain_lr!r}")
        if self.pretrain_loss not in ("bpr", "ce"):
            bad("pretrain_loss", f"must be 'bpr' or 'ce', got {self.pretrain_loss!r}")
        if self.dose_users < 100:
            bad("dose_users", f"must be at least 100 (a split needs cold tuning, validation and test users), "
                              f"got {self.dose_users!r}")
        for name in ("pretrain_epochs", "tune_epochs", "n_users", "n_items", "dose_pretrain_epochs"):
            value = getattr(self, name)
            if not 1 <= value < 2**31:
                bad(name, f"must be a positive integer, got {value!r}")
        if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", self.device):
            bad("device", f"must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {self.device!r}")
        grids = {"noise_rates": (0.0, 1.0, "rates from 0 to 1"), "k_shots": (1, None, "integers >= 1"),
                 "prompt_lengths": (1, None, "integers >= 1"), "cl_weights": (0.0, None, "weights >= 0"),
                 "temperatures": (0.0, None, "temperatures > 0"), "mask_ratios": (0.0, 1.0, "ratios from 0 to 1")}
        if 0.0 not in self.dose_levels:
            bad("dose_levels", f"must include 0 (the world where the profile carries nothing), got {list(self.dose_levels)!r}")
        grids["dose_levels"] = (0.0, 1.0, "levels from 0 to 1")
        for name, (low, high, what) in grids.items():
            values = getattr(self, name)
            if not values:
                bad(name, f"must hold at least one value ({what})")
            outside = [v for v in values if v < low or (high is not None and v > high)
                       or (name == "temperatures" and v <= 0)]
            if outside:
                bad(name, f"must hold {what}, got {outside[0]!r}")
        unknown = [b for b in self.backbones if b not in _BACKBONES]
        if not self.backbones or unknown:
            bad("backbones", f"must name backbones from {list(_BACKBONES)}, got {unknown[0] if unknown else 'none'!r}")
        try:
            DataSpec(self.dataset)  # validates the name and the folder
        except ValueError as exc:  # DataSpec's message names the field already
            raise SettingError("BookConfig", "dataset", f"names no usable data: {exc}", str(exc)) from None

    @classmethod
    def from_params(cls, params: Mapping) -> BookConfig:
        """The settings of a run profile (or of a chapter's parameters), read strictly: an
        unknown key (with the nearest known one suggested), a value of the wrong type or out of
        range raises :class:`~pprlib.params.SettingError` naming the key."""
        return from_mapping(cls, params, PROFILE_KEYS)

    @property
    def main_seed_list(self) -> list[int]:
        """The seeds of the main comparisons: ``main_seeds``, or ``seeds`` when it is empty."""
        return list(self.main_seeds or self.seeds)

    @property
    def zero_shot_seed_list(self) -> list[int]:
        """The seeds of the zero-shot main comparisons: ``zero_shot_seeds``, else :attr:`main_seed_list`."""
        return list(self.zero_shot_seeds) or self.main_seed_list


PROFILE_KEYS = frozenset(f.name for f in dataclasses.fields(BookConfig) if f.metadata.get("profile", True))
"""The keys a run profile may set: every :class:`BookConfig` field that the chapters' parameters cells declare."""


def chapter_params(namespace: Mapping) -> dict:
    """The run-profile settings among a chapter's variables: the entries of ``namespace`` (the
    notebook's ``globals()``, after its parameters cell) named by :data:`PROFILE_KEYS`, for
    ``BookConfig.from_params(chapter_params(globals()))``."""
    return {key: value for key, value in namespace.items() if key in PROFILE_KEYS}


def check_together(config: BookConfig) -> None:
    """Settings of a profile that constrain one another, checked together in the profile's own
    terms before any work (:func:`pprlib.profiles.profile_problem`, and
    :func:`pprlib.context.book_data` for a chapter): a :class:`~pprlib.params.SettingError`
    naming the setting and what it needs, not an error of the generator or the split in the
    first chapter that names settings the profile does not have.

    Generated data (``dataset: synthetic``): :func:`~pprlib.context.book_data` makes the
    generator's histories up to ``SyntheticConfig.max_length`` clicks long, puts items into
    ``SyntheticConfig.n_groups`` groups and ranks every evaluated click against
    ``ProtocolConfig.n_negatives`` items its user never clicked, so ``n_items`` must exceed the
    longest history (which also leaves room for the negatives and the groups). Between that and
    ``max_length + n_negatives`` items a user with a long history may still leave too few
    unclicked items; that depends on the clicks drawn, and the split says so naming the user (it
    is not refused here, where only a sure failure is)."""
    if config.dataset != "synthetic":
        return
    longest, groups, negatives = SyntheticConfig.max_length, SyntheticConfig.n_groups, ProtocolConfig.n_negatives
    needed = max(longest + 1, negatives + 1, groups)
    if config.n_items < needed:
        raise SettingError("BookConfig", "n_items", (
            f"must be at least {needed} for generated data (dataset: synthetic), got {config.n_items}: the "
            f"generator's histories hold up to {longest} clicks and must leave items unclicked, since every evaluated "
            f"click is ranked against {negatives} items its user never clicked; raise n_items to {needed} or more "
            f"({longest + negatives} leaves room for {negatives} negatives beside the longest history)"))


def pretrain_config(config: BookConfig) -> TrainConfig:
    """The pre-training settings of the book."""
    from pprlib.train import TrainConfig

    return TrainConfig(lr=config.pretrain_lr, loss=config.pretrain_loss, max_epochs=config.pretrain_epochs,
                       patience=3, min_delta=1e-3, batch_size=256, seed=config.seed, device=config.device,
                       deterministic=config.deterministic, progress=config.progress)


def tune_config(config: BookConfig) -> TrainConfig:
    """The tuning settings of the book (learning rates are chosen per method)."""
    from pprlib.train import TrainConfig

    return TrainConfig(batch_size=64, max_epochs=config.tune_epochs, patience=3, device=config.device,
                       deterministic=config.deterministic, progress=config.progress)
