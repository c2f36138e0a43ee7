"""The book's context: what every chapter starts from (:class:`Context`: the data split, the
pre-trained backbone and the tuning settings), built by :func:`prepare` from the settings of a
run profile (:class:`pprlib.config.BookConfig`) and cached on disk.

A chapter's set-up cell is ``ctx = prepare(BookConfig.from_params(params))``; the run
functions of :mod:`pprlib.runs` then take the context whole.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from pprlib.config import BACKBONES, BookConfig, check_together, pretrain_config, tune_config
from pprlib.data.protocol import ColdStartSplit, ProtocolConfig
from pprlib.data.sources import DataSpec, load_data, load_split, own_data_protocol, split_data
from pprlib.data.synthetic import SyntheticConfig
from pprlib.models.backbones import BackboneConfig
from pprlib.models.ppr import SequenceCLConfig
from pprlib.runs import Pretrained, TuneSettings, pretrain, split_fingerprint
from pprlib.train import TrainConfig


@dataclass
class Context:
    """What every chapter starts from: the data split, the backbone and the pre-trained model
    (with the settings they were made with; tests may build one from the first three alone)."""

    split: ColdStartSplit
    pre: Pretrained
    backbone: BackboneConfig
    config: BookConfig = BookConfig()
    spec: DataSpec | None = None
    pretrain_cfg: TrainConfig = TrainConfig()
    tune_cfg: TrainConfig = TuneSettings.train

    @property
    def test_population(self) -> str:
        """Where every chapter evaluates: ``"test+heldout"`` when the split has held-out test
        users (generated data with ``heldout_users`` or ``zero_shot_users`` above 0), else the
        paper's ``"test"`` users."""
        return "test+heldout" if len(self.split.heldout_users) else "test"

    def settings(self, **changes) -> TuneSettings:
        """Tuning settings of this context (learning rates per method go in ``lr``), evaluated on
        :attr:`test_population` unless ``test`` says otherwise: the studies then share their
        baseline runs (and learning-rate choices) with the few- and zero-shot chapters."""
        return TuneSettings(train=self.tune_cfg, **{"test": self.test_population, **changes})

    @functools.cached_property
    def split_key(self) -> str:
        """:func:`~pprlib.runs.split_fingerprint` of the split (part of every run's cache key;
        computed once: a context with another split is another context)."""
        return split_fingerprint(self.split)


def book_data(config: BookConfig, synthetic: SyntheticConfig | None = None,
              protocol: ProtocolConfig | None = None, ties: str = "file") -> tuple[DataSpec, ColdStartSplit]:
    """The data and its protocol split for the book's settings (the split is cached on disk).

    MovieLens has no natural cold users: 30 % of its users are simulated as cold. Data read
    from a folder keeps its natural cold users unless it has too few (:func:`own_data_protocol`).
    ``ties``: the order of a user's interactions with one timestamp (:attr:`DataSpec.ties`; a
    ``"random"`` order is seeded with ``config.seed``).
    """
    if config.dataset == "synthetic":
        if synthetic is None:
            check_together(config)
        syn = synthetic or SyntheticConfig(n_users=config.n_users, n_items=config.n_items, seed=config.seed,
                                           heldout_users=config.heldout_users, zero_shot_users=config.zero_shot_users)
        spec, protocol = DataSpec("synthetic", syn, ties), protocol or ProtocolConfig(seed=config.seed)
    elif config.dataset == "movielens-100k" or config.dataset.startswith("grouplens:"):
        spec = DataSpec(config.dataset, ties=ties, ties_seed=config.seed)
        protocol = protocol or ProtocolConfig(seed=config.seed, simulate_cold_share=0.3)
    else:
        spec = DataSpec(config.dataset, ties=ties, ties_seed=config.seed)
        data = load_data(spec)
        return spec, split_data(data, protocol or own_data_protocol(data, config.seed))
    return spec, load_split(spec, protocol)


def prepare(config: BookConfig | None = None, *, backbone: BackboneConfig | str | None = None,
            synthetic: SyntheticConfig | None = None, protocol: ProtocolConfig | None = None,
            seq_cl: SequenceCLConfig | None = None, ties: str = "file") -> Context:
    """Data, split and pre-trained backbone for a chapter (the pre-training is cached).
    ``backbone``: an architecture, or the name of one of :data:`~pprlib.config.BACKBONES` (which brings its
    pre-training, e.g. CL4SRec's contrastive loss); ``seq_cl`` pre-trains CL4SRec instead of SASRec;
    ``ties``: the order of tied timestamps in real data (:func:`book_data`)."""
    config = config or BookConfig()
    if isinstance(backbone, str):
        if backbone not in BACKBONES:
            raise ValueError(f"unknown backbone {backbone!r}; choose from {list(BACKBONES)}")
        backbone, seq_cl = BACKBONES[backbone]
    spec, sp = book_data(config, synthetic, protocol, ties)
    backbone = backbone or BackboneConfig()
    pre_cfg = pretrain_config(config)
    pre = pretrain(sp, backbone, pre_cfg, seq_cl=seq_cl)
    return Context(sp, pre, backbone, config, spec, pre_cfg, tune_config(config))


def prepare_backbone(config: BookConfig, name: str) -> Context:
    """:func:`prepare` with one of the named :data:`~pprlib.config.BACKBONES` (pre-trained and cached)."""
    return prepare(config, backbone=name)
