"""The experiment layer under one name, for the chapters and older code: a facade over

* :mod:`pprlib.data.sources`: where the data comes from (:class:`DataSpec`, :func:`load_data`);
* :mod:`pprlib.methods`: the methods as data (:class:`Method`, :data:`METHODS`, :func:`paper_lr`);
* :mod:`pprlib.runs`: pre-training, tuning, cached runs, :func:`~pprlib.runs.compare`, :func:`choose_lr`;
* :mod:`pprlib.comparison`: :class:`Comparison` of methods over seeds and their paired effects;
* :mod:`pprlib.context`: the book's settings (:class:`BookConfig`) and :class:`Context` (:func:`prepare`);
* :func:`recommend` (:mod:`pprlib.explorer`).

New code imports from those modules, whose run functions take a :class:`Context` whole. The
six functions defined here keep the older call form that names the context's parts
(``compare(ctx.split, ctx.pre, methods, seeds, ctx.backbone, settings, targets)``), which the
chapters' result cells use.
"""

from __future__ import annotations

from pprlib import runs
from pprlib.comparison import Comparison, collect
from pprlib.context import (
    BACKBONES,
    PROFILE_KEYS,
    BookConfig,
    Context,
    book_data,
    chapter_params,
    prepare,
    prepare_backbone,
    pretrain_config,
    tune_config,
)
from pprlib.data.protocol import ProtocolConfig
from pprlib.data.sources import (
    FOLDER_READERS,
    PROJECT_ROOT,
    SOURCES,
    DataSpec,
    data_folder,
    load_data,
    load_split,
    own_data_protocol,
    split_data,
)
from pprlib.explorer import recommend
from pprlib.methods import METHODS, PAPER_LR, Method, method, paper_lr, parameter_table
from pprlib.models.ppr import ContrastiveConfig
from pprlib.runs import (
    Pretrained,
    TuneSettings,
    checkpoint_path,
    choose_lr,
    noisy_profiles,
    pretrain,
    save_pretrained,
    stored_run,
    trained_on_all,
)
from pprlib.runs import instances as _instances

__all__ = [
    "BACKBONES", "book_data", "BookConfig", "build_model", "chapter_params", "checkpoint_path", "choose_lr",
    "collect", "compare", "Comparison", "Context", "ContrastiveConfig", "data_folder", "DataSpec", "FOLDER_READERS",
    "_instances", "load_data", "load_split", "method", "Method", "METHODS", "noisy_profiles", "own_data_protocol",
    "PAPER_LR", "paper_lr", "parameter_table", "prepare", "prepare_backbone", "pretrain", "pretrain_config",
    "Pretrained", "PROFILE_KEYS", "PROJECT_ROOT", "ProtocolConfig", "recommend", "run_method", "save_pretrained",
    "SOURCES", "split_data", "stored_run", "trained_on_all", "tune", "tune_config", "tuned_model", "TuneSettings",
    "tuning_set",
]


def _context(split, pre, backbone) -> Context:
    return Context(split, pre, backbone)


def compare(split, pre, methods, seeds, backbone, settings, targets="few", *, use_cache=True, log=None) -> Comparison:
    """:func:`pprlib.runs.compare` on the context made of ``split``, ``pre`` and ``backbone``."""
    return runs.compare(_context(split, pre, backbone), methods, settings, targets, seeds, use_cache=use_cache, log=log)


def run_method(split, pre, name, backbone, settings, targets, seed, *, use_cache=True) -> dict:
    """:func:`pprlib.runs.run_method` on the context made of ``split``, ``pre`` and ``backbone``."""
    return runs.run_method(_context(split, pre, backbone), name, settings, targets, seed, use_cache=use_cache)


def tune(split, pre, name, backbone, settings, targets, seed):
    """:func:`pprlib.runs.tune` on the context made of ``split``, ``pre`` and ``backbone``."""
    return runs.tune(_context(split, pre, backbone), name, settings, targets, seed)


def tuned_model(split, pre, name, backbone, settings, targets, seed, *, use_cache=True):
    """:func:`pprlib.runs.tuned_model` on the context made of ``split``, ``pre`` and ``backbone``."""
    return runs.tuned_model(_context(split, pre, backbone), name, settings, targets, seed, use_cache=use_cache)


def build_model(split, pre, name, backbone, settings):
    """:func:`pprlib.runs.build_model` on the context made of ``split``, ``pre`` and ``backbone``."""
    return runs.build_model(_context(split, pre, backbone), name, settings)


def tuning_set(split, settings, backbone, seed, profiles=None):
    """:func:`pprlib.runs.tuning_set` for ``split`` and ``backbone`` (no pre-trained model needed)."""
    return runs.tuning_set(_context(split, None, backbone), settings, seed, profiles)
