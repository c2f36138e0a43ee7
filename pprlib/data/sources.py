"""Data sources: where a dataset comes from (the generator, MovieLens-100K or a folder of
files), how it is read, and its protocol split, cached on disk.

A source is named by a string, ``"synthetic"``, ``"movielens-100k"`` or ``"<kind>:<folder>"``
(:data:`FOLDER_READERS`); :class:`DataSpec` checks the name, :func:`load_data` reads it and
:func:`load_split` splits it (:func:`own_data_protocol` picks the protocol of real data).
"""

from __future__ import annotations

import dataclasses
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

from pprlib.cache import cache_dir, cached, config_key
from pprlib.data.errors import DataWarning
from pprlib.data.protocol import MIN_COLD_USERS, ColdStartSplit, ProtocolConfig
from pprlib.data.protocol import split as make_split
from pprlib.data.readers import csv_pair, ecommerce, movielens
from pprlib.data.schema import TIES, InteractionData
from pprlib.data.synthetic import SyntheticConfig, generate

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
"""Where a relative data folder is read from: the project root (the folder holding
``pyproject.toml``), since notebooks run with their own folder as the working directory."""


def _read_csv_folder(folder: Path, **order) -> InteractionData:
    return csv_pair.read_csv_pair(folder / "interactions.csv", folder / "users.csv", name=folder.name, **order)


FOLDER_READERS = {"csv": _read_csv_folder, "cikm2019": ecommerce.read_cikm2019,
                  "ali-display-ad": ecommerce.read_ali_display_ad,
                  "grouplens": movielens.read_grouplens}
"""Sources read from a folder, written ``"<kind>:<folder>"``: ``csv`` reads ``interactions.csv``
and ``users.csv`` (:func:`~pprlib.data.readers.csv_pair.read_csv_pair` with its default columns),
``grouplens`` a GroupLens MovieLens folder (ML-100K or ML-1M, :func:`~pprlib.data.readers.movielens.read_grouplens`),
the others the raw files of CIKM Cup 2019 and Ali_Display_Ad_Click. The folder may name
environment variables (``grouplens:${PPR_MOVIELENS_1M}``)."""

SOURCES = ("synthetic", "movielens-100k", *(f"{kind}:<folder>" for kind in FOLDER_READERS))

FOLDER_FILES = {"csv": ("interactions.csv", "users.csv"), "cikm2019": ("user_behavior.csv", "user.csv", "item.csv"),
                "ali-display-ad": ("raw_sample.csv", "user_profile.csv", "ad_feature.csv"),
                "grouplens": ("u.data", "u.user", "ratings.dat", "users.dat")}
"""The files each folder reader opens when they are there (:meth:`DataSpec.inputs`)."""

TIE_SOURCES = ("movielens-100k", "grouplens", "csv")
"""The sources whose readers order tied timestamps as told (:attr:`DataSpec.ties`)."""


def data_folder(folder: str | Path) -> Path:
    """``folder`` as an absolute path; a relative one is taken from the project root (the
    folder holding ``pyproject.toml``; the working directory when pprlib is installed elsewhere)."""
    text = str(folder)
    unset = [a or b for a, b in re.findall(r"\$\{(\w+)\}|\$(\w+)", text) if not os.environ.get(a or b)]
    if unset:
        raise ValueError(f"data folder {text!r}: environment variable {unset[0]} is not set; set it to the "
                         "folder that holds the data")
    path = Path(os.path.expandvars(text)).expanduser()
    if path.is_absolute():
        return path
    root = PROJECT_ROOT if (PROJECT_ROOT / "pyproject.toml").exists() else Path.cwd()
    return root / path


@dataclass(frozen=True)
class DataSpec:
    """Where the data comes from: the generator (``synthetic``), ``movielens-100k``, or the
    files in a folder: ``csv:<folder>``, ``cikm2019:<folder>``, ``ali-display-ad:<folder>`` or
    ``grouplens:<folder>`` (a relative folder is taken from the project root and environment
    variables in it are expanded, see :func:`data_folder`). ``ties`` (with ``ties_seed``) orders a
    user's interactions that share a timestamp (:data:`~pprlib.data.schema.TIES`), for the
    sources whose readers offer the choice (:data:`TIE_SOURCES`)."""

    source: str = "synthetic"
    synthetic: SyntheticConfig = SyntheticConfig()
    ties: str = "file"
    ties_seed: int = 0

    def __post_init__(self) -> None:
        kind, sep, folder = str(self.source).partition(":")
        accepted = ", ".join(repr(s) for s in SOURCES[:-1]) + f" or {SOURCES[-1]!r}"
        if not (self.source in ("synthetic", "movielens-100k") or (sep and kind in FOLDER_READERS)):
            raise ValueError(f"DataSpec.source (the dataset) must be {accepted}, got {self.source!r}")
        if self.ties not in TIES:
            raise ValueError(f"DataSpec.ties must be one of {TIES}, got {self.ties!r}")
        if self.ties != "file" and kind not in TIE_SOURCES:
            raise ValueError(f"DataSpec.ties={self.ties!r}: the source {self.source!r} keeps its own order; "
                             f"tie orders apply to {', '.join(TIE_SOURCES)} only")
        if sep and not folder.strip():
            raise ValueError(f"DataSpec.source {self.source!r} names no folder; write {kind}:<folder>")
        if sep and not self.folder.is_dir():
            relative = "" if Path(folder.strip()).expanduser().is_absolute() else " (read from the project root)"
            raise ValueError(f"DataSpec.source {self.source!r}: folder {self.folder} not found{relative}; "
                             f"the dataset must be {accepted}")

    @property
    def kind(self) -> str:
        """``synthetic``, ``movielens-100k`` or one of :data:`FOLDER_READERS`."""
        return self.source.partition(":")[0]

    @property
    def folder(self) -> Path | None:
        """The absolute data folder of a folder source, else ``None``."""
        return data_folder(self.source.partition(":")[2].strip()) if ":" in self.source else None

    def inputs(self) -> list[Path]:
        """The folder and the files of it that reading this source opens, those that exist (for a
        check of read permission before any work; the readers name a missing file themselves):
        none for the generator, and for ``movielens-100k`` the local copy that ``PPR_MOVIELENS``
        names (a downloaded wheel lies in the cache, whose folders the runner checks)."""
        if self.kind == "synthetic":
            return []
        if self.kind == "movielens-100k":
            local = os.environ.get(movielens.MOVIELENS_ENV, "").strip()
            if not local:
                return []
            base, names = Path(local).expanduser(), ("u.data", "u.user")
        else:
            base, names = self.folder, FOLDER_FILES[self.kind]
        if not base.is_dir():
            return [base] if base.exists() else []
        return [base, *(base / name for name in names if (base / name).exists())]


def load_data(spec: DataSpec) -> InteractionData:
    """The validated dataset that ``spec`` names (files are read on every call)."""
    if spec.kind == "synthetic":
        return generate(spec.synthetic)
    order = {"ties": spec.ties, "ties_seed": spec.ties_seed} if spec.ties != "file" else {}
    if spec.kind == "movielens-100k":
        return movielens.read_movielens_100k(**order)
    return FOLDER_READERS[spec.kind](spec.folder, **order)


def own_data_protocol(data: InteractionData, seed: int = 0) -> ProtocolConfig:
    """The protocol for real data: its natural cold users (fewer than 10 clicks) when it has
    enough of them, otherwise 30 % of the users simulated as cold, as for MovieLens (with a
    :class:`DataWarning` that says so)."""
    protocol = ProtocolConfig(seed=seed)
    n_cold = int(((data.lengths > 0) & (data.lengths < protocol.cold_threshold)).sum())
    if n_cold >= MIN_COLD_USERS:
        return protocol
    simulated = dataclasses.replace(protocol, simulate_cold_share=0.3)
    limit = protocol.cold_threshold
    warnings.warn(
        f"{data.name}: only {n_cold} natural cold user(s) (fewer than {limit} clicks), the protocol needs "
        f"at least {MIN_COLD_USERS}; cold users are simulated instead, as for MovieLens: "
        f"{simulated.simulate_cold_share:.0%} of the users are cut to their first 1-{limit - 1} clicks",
        DataWarning, stacklevel=2)
    return simulated


def load_split(spec: DataSpec, protocol: ProtocolConfig) -> ColdStartSplit:
    """The protocol split of the data, saved on disk with its fixed candidate lists and
    loaded from there on later calls (the load checks the data's fingerprint)."""
    return split_data(load_data(spec), protocol)


def split_data(data: InteractionData, protocol: ProtocolConfig) -> ColdStartSplit:
    """:func:`~pprlib.data.protocol.split` of ``data``, cached on disk under the data's
    fingerprint and the protocol (a split with simulated cold users is recomputed: it is fast)."""
    path = cache_dir() / "splits" / f"split-{config_key(data.fingerprint(), protocol)}.npz"
    if protocol.simulate_cold_share > 0:  # the split holds truncated data: recompute (it is fast)
        return make_split(data, protocol)
    return cached(path, lambda: make_split(data, protocol), lambda sp, tmp: sp.save(tmp),
                  lambda p: ColdStartSplit.load(p, data, protocol))
