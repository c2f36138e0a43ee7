"""The experiment layer under one name, for the chapters and older code: a facade over

* :mod:`pprlib.data.sources`: where the data comes from (:class:`DataSpec`, :func:`load_data`);
* :mod:`pprlib.methods`: the methods as data (:class:`Method`, :data:`METHODS`, :func:`paper_lr`);
* :mod:`pprlib.runs`: pre-training, tuning, cached runs; :mod:`pprlib.comparisons`: :func:`compare`, :func:`choose_lr`;
* :mod:`pprlib.comparison`: :class:`Comparison` of methods over seeds and their paired effects;
* :mod:`pprlib.config`: the book's settings (:class:`BookConfig`);
* :mod:`pprlib.context`: each chapter's :class:`Context` (:func:`prepare`);
* :func:`recommend` (:mod:`pprlib.explorer`).

It defines nothing of its own: every name is the one of the module that defines it, so the run
functions take a :class:`Context` whole (``compare(ctx, methods, settings, targets, seeds)``),
as everywhere in the package.
"""

from __future__ import annotations

from pprlib.comparison import Comparison, collect
from pprlib.comparisons import choose_lr, compare, trained_on_all
from pprlib.config import BACKBONES, PROFILE_KEYS, BookConfig, chapter_params, pretrain_config, tune_config
from pprlib.context import Context, book_data, prepare, prepare_backbone
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
    build_model,
    checkpoint_path,
    cold_profiles,
    pretrain,
    run_method,
    save_pretrained,
    stored_run,
    tune,
    tuned_model,
    tuning_set,
)
from pprlib.runs import instances as _instances

__all__ = [
    "BACKBONES", "book_data", "BookConfig", "build_model", "chapter_params", "checkpoint_path", "choose_lr",
    "collect", "compare", "Comparison", "Context", "ContrastiveConfig", "data_folder", "DataSpec", "FOLDER_READERS",
    "_instances", "cold_profiles", "load_data", "load_split", "method", "Method", "METHODS", "own_data_protocol",
    "PAPER_LR", "paper_lr", "parameter_table", "prepare", "prepare_backbone", "pretrain", "pretrain_config",
    "Pretrained", "PROFILE_KEYS", "PROJECT_ROOT", "ProtocolConfig", "recommend", "run_method", "save_pretrained",
    "SOURCES", "split_data", "stored_run", "trained_on_all", "tune", "tune_config", "tuned_model", "TuneSettings",
    "tuning_set",
]
