"""MovieLens: GroupLens folders (ML-100K, ML-1M) and ML-100K in the recbole 1.2.1 wheel, fetched once.

Both give the same fields, age buckets and vocabularies, so that ML-100K and ML-1M share their
codes for age and gender.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from pprlib.cache import ensure_folder
from pprlib.data.checks import check_ratings
from pprlib.data.errors import ROW, DataValidationError, _where
from pprlib.data.readers.tables import _folder, _read_file, _read_table
from pprlib.data.schema import InteractionData, build_dataset

__all__ = [
    "DatasetUnavailableError",
    "read_grouplens",
    "fetch_movielens_100k",
    "read_movielens_100k",
    "dataset_label",
    "ML_PROFILE_FIELDS",
    "ML_AGE_BUCKETS",
    "MOVIELENS_ENV",
    "MOVIELENS_1M_ENV",
    "MOVIELENS_LABELS",
]


class DatasetUnavailableError(RuntimeError):
    """A dataset could not be fetched (no network, PyPI unreachable); the message says what to do."""


ML_PROFILE_FIELDS = ("gender", "age", "occupation")
ML_AGE_BUCKETS = ("1", "18", "25", "35", "45", "50", "56")
"""ML-1M age codes: 1 = under 18, 18 = 18-24, 25 = 25-34, 35 = 35-44, 45 = 45-49, 50 = 50-55, 56 = 56+."""
_ML_AGE_EDGES = np.array([18, 25, 35, 45, 50, 56])  # lower bounds of the buckets after "1"
_ML_GENDERS = ("F", "M")
# fixed vocabularies, so that ML-100K and ML-1M give the same codes for age and gender
_ML_VOCAB = {"age": ML_AGE_BUCKETS, "gender": _ML_GENDERS}

_RECBOLE_WHEEL = "recbole-1.2.1-*.whl"
MOVIELENS_ENV = "PPR_MOVIELENS"
"""Environment variable naming a local copy of ML-100K (the recbole 1.2.1 wheel or a GroupLens
``ml-100k`` folder): :func:`read_movielens_100k` then reads it instead of downloading."""
MOVIELENS_1M_ENV = "PPR_MOVIELENS_1M"
"""Environment variable naming a GroupLens ``ml-1m`` folder (``ratings.dat``, ``users.dat``):
the ``movielens-1m`` run profile reads it (``dataset: grouplens:${PPR_MOVIELENS_1M}``)."""
_WHEEL_INTER = "recbole/dataset_example/ml-100k/ml-100k.inter"
_WHEEL_USER = "recbole/dataset_example/ml-100k/ml-100k.user"


_ML_RATINGS = ("user_id", "item_id", "rating", "timestamp")
_ML100K_USER = ("user_id", "age", "gender", "occupation", "zip_code")
_ML1M_USER = ("user_id", "gender", "age", "occupation", "zip_code")
_ML_PAIRS = [("u.data", "u.user"), ("ratings.dat", "users.dat")]  # (ratings, users) of 100K, 1M


def read_grouplens(
    folder: str | os.PathLike,
    *,
    profile_fields: Sequence[str] = ML_PROFILE_FIELDS,
    ties: Literal["file", "item", "random"] = "file",
    ties_seed: int = 0,
) -> InteractionData:
    """A local GroupLens MovieLens folder: ML-100K (``u.data``, ``u.user``) or ML-1M
    (``ratings.dat``, ``users.dat``), detected by the files present.

    Every rating is an interaction (the rating value is not used). Profile fields are
    gender, age and occupation; the zip code is a string code, available as the field
    ``zip_code`` but not used by default. ML-100K records age in years: it is bucketed into
    the ML-1M age codes (1: under 18, 18: 18-24, 25: 25-34, 35: 35-44, 45: 45-49,
    50: 50-55, 56: 56+) so that both datasets share the age vocabulary (all seven codes,
    also those that do not occur) and the gender vocabulary (F, M). Occupations differ:
    ML-100K names them (``"technician"``), ML-1M numbers them (0-20).

    Many ratings share their (user, timestamp): ``ties`` says which of them comes first
    (``"file"``, ``"item"`` or a seeded ``"random"`` order, see :data:`~pprlib.data.schema.TIES`).
    """
    folder = _folder(folder)
    names = {p.name for p in folder.iterdir()}
    if {"u.data", "u.user"} <= names:
        inter_path, users_path = folder / "u.data", folder / "u.user"
        # latin-1 decodes any byte; GroupLens files are ASCII or latin-1
        interactions = _read_file(inter_path, sep="\t", columns=_ML_RATINGS, encoding="latin-1")
        users = _read_file(users_path, sep="|", columns=_ML100K_USER, encoding="latin-1")
        return _movielens(interactions, users, str(inter_path), str(users_path), profile_fields,
                          ties=ties, ties_seed=ties_seed)
    if {"ratings.dat", "users.dat"} <= names:
        inter_path, users_path = folder / "ratings.dat", folder / "users.dat"
        interactions = _read_file(inter_path, sep="::", columns=_ML_RATINGS, encoding="latin-1")
        users = _read_file(users_path, sep="::", columns=_ML1M_USER, encoding="latin-1")
        return _movielens(interactions, users, str(inter_path), str(users_path), profile_fields, name="ml-1m",
                          ties=ties, ties_seed=ties_seed)
    partial = [f"{a} without {b}" for pair in _ML_PAIRS for a, b in (pair, pair[::-1])
               if a in names and b not in names]
    found = f" (found {'; '.join(partial)})" if partial else ""
    raise FileNotFoundError(
        f"{folder}: not a GroupLens MovieLens folder{found}; expected u.data and u.user "
        "(ML-100K) or ratings.dat and users.dat (ML-1M)"
    )


def _movielens(interactions: pd.DataFrame, users: pd.DataFrame, inter_source: str, users_source: str,
               profile_fields: Sequence[str], name: str = "ml-100k", **order) -> InteractionData:
    """MovieLens frames (GroupLens or recbole) -> dataset; ML-100K's ages in years are bucketed
    into ML-1M codes. Ratings must be 0.5 to 5 stars (else the columns are out of order)."""
    check_ratings(interactions, "rating", inter_source, 0.5, 5, order="user_id, item_id, rating, timestamp")
    if name == "ml-100k" and "age" in users.columns:
        users = users.assign(age=_bucket_ages(users, users_source))
    return build_dataset(interactions, users, profile_fields, name=name, interactions_source=inter_source,
                         users_source=users_source, user_col="user_id", item_col="item_id", vocab=_ML_VOCAB,
                         meta={"reader": "read_grouplens" if name == "ml-1m" else "movielens-100k",
                               "files": [inter_source, users_source]}, **order)


def _bucket_ages(users: pd.DataFrame, source: str) -> pd.Series:
    """Ages in years -> ML-1M age codes (strings); empty ages stay empty (missing)."""
    text = users["age"].str.strip()
    years = pd.to_numeric(text, errors="coerce")
    bad = (text.notna() & (text != "") & years.isna()).to_numpy()
    if bad.any():
        raise DataValidationError(
            f"{_where(source, 'age', users.loc[bad, ROW].tolist())}: age "
            f"{text[bad].iloc[0]!r} is not a number of years"
        )
    bucket = np.searchsorted(_ML_AGE_EDGES, years.fillna(0).to_numpy(), side="right")
    codes = np.asarray(ML_AGE_BUCKETS, dtype=object)[bucket]
    return pd.Series(codes, index=users.index).where(years.notna())


def _default_cache() -> Path:
    """``$PPR_CACHE_DIR/downloads``, else ``data/cache/downloads`` of this checkout (or of the cwd)."""
    env = os.environ.get("PPR_CACHE_DIR")
    if env:
        return Path(env) / "downloads"
    repo = Path(__file__).resolve().parents[3]
    root = repo if (repo / "pyproject.toml").exists() else Path.cwd()
    return root / "data" / "cache" / "downloads"


def _cached_wheel(folder: Path) -> Path | None:
    found = sorted(folder.glob(_RECBOLE_WHEEL)) if folder.is_dir() else []
    return found[0] if found else None


def fetch_movielens_100k(cache_dir: str | os.PathLike | None = None) -> Path:
    """Path of the ``recbole==1.2.1`` wheel (it ships ML-100K), downloaded once into ``cache_dir``.

    ``pip download`` fetches the wheel (2 MB) without installing anything; a wheel already in
    ``cache_dir`` is reused. Raises :class:`DatasetUnavailableError` when the download fails,
    saying how to use a local copy instead.
    """
    folder = Path(cache_dir) if cache_dir is not None else _default_cache()
    wheel = _cached_wheel(folder)
    if wheel is not None:
        return wheel
    ensure_folder(folder)
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
               "recbole==1.2.1", "-d", str(folder)]
    output = ""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=300)
        output = f"{done.stdout or ''}\n{done.stderr or ''}"
        why = f"pip exited with status {done.returncode}"
        failed = done.returncode != 0
    except subprocess.TimeoutExpired as exc:
        output = "\n".join(_text(s) for s in (exc.stdout, exc.stderr))
        why, failed = "pip did not finish within 300 s", True
    except OSError as exc:
        why, failed = f"pip could not be started ({exc})", True
    wheel = _cached_wheel(folder)
    if not failed and wheel is not None:
        return wheel
    if not failed:
        why = f"pip finished but left no {_RECBOLE_WHEEL} in {folder}"
    last = [line for line in output.splitlines() if line.strip()][-5:]
    said = "\n".join(f"    {line}" for line in last) or "    (no output)"
    raise DatasetUnavailableError(
        f"could not download MovieLens-100K (the PyPI wheel recbole==1.2.1): {why}. "
        f"Probably there is no network or PyPI is not reachable. Last lines of pip's output:\n"
        f"{said}\n"
        "Use a local copy instead: pass wheel= a downloaded recbole-1.2.1 wheel, e.g. "
        "read_movielens_100k(wheel='recbole-1.2.1-py3-none-any.whl') (or copy it into "
        f"{folder}), or read a GroupLens ml-100k folder (u.data, u.user) with "
        f"read_grouplens('path/to/ml-100k'). For the book and load_data, set the environment "
        f"variable {MOVIELENS_ENV} to the wheel or the ml-100k folder, e.g. "
        f"{MOVIELENS_ENV}=path/to/ml-100k python -m pprlib book --profile movielens."
    )


def _text(value) -> str:
    if value is None:
        return ""
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def read_movielens_100k(
    cache_dir: str | os.PathLike | None = None,
    wheel: str | os.PathLike | None = None,
    *,
    profile_fields: Sequence[str] = ML_PROFILE_FIELDS,
    ties: Literal["file", "item", "random"] = "file",
    ties_seed: int = 0,
) -> InteractionData:
    """ML-100K read straight from the ``recbole==1.2.1`` wheel (nothing is extracted to disk).

    ``wheel``: a local copy of the wheel; else the environment variable ``PPR_MOVIELENS``
    (:data:`MOVIELENS_ENV`: a wheel, or a GroupLens ml-100k folder read with
    :func:`read_grouplens`); otherwise :func:`fetch_movielens_100k` downloads the wheel into
    ``cache_dir``. The result equals :func:`read_grouplens` on a GroupLens ml-100k folder with
    the same content (same fields, age buckets and vocabularies). ``ties``: the order of a
    user's ratings with one timestamp, as in :func:`read_grouplens`.
    """
    local = os.environ.get(MOVIELENS_ENV, "").strip()
    if wheel is None and local:
        wheel = Path(local).expanduser()
        if not wheel.exists():
            raise FileNotFoundError(f"{MOVIELENS_ENV}={local}: no such file or folder (expected the recbole 1.2.1 "
                                    "wheel or a GroupLens ml-100k folder with u.data and u.user)")
        if wheel.is_dir():
            _refuse_ml1m(wheel, local)
            return read_grouplens(wheel, profile_fields=profile_fields, ties=ties, ties_seed=ties_seed)
    path = Path(wheel) if wheel is not None else fetch_movielens_100k(cache_dir)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: wheel not found")
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise DataValidationError(f"{path}: not a wheel (zip) file, or a damaged one; delete it so that it is "
                                  "downloaded again (or point to an intact copy)") from None
    with archive:
        interactions = _read_wheel_member(archive, path, _WHEEL_INTER)
        users = _read_wheel_member(archive, path, _WHEEL_USER)
    return _movielens(interactions, users, f"{path}:{_WHEEL_INTER}", f"{path}:{_WHEEL_USER}", profile_fields,
                      ties=ties, ties_seed=ties_seed)


MOVIELENS_LABELS = {"ml-100k": "MovieLens-100K", "ml-1m": "MovieLens-1M"}
"""The names the MovieLens readers give their data -> how tables and figures name it."""


def dataset_label(data: InteractionData) -> str:
    """How tables and figures name ``data``: MovieLens-100K or MovieLens-1M for the GroupLens
    readers' data (whatever the profile said), else the data's own name."""
    return MOVIELENS_LABELS.get(data.name, data.name)


def _refuse_ml1m(folder: Path, setting: str) -> None:
    """``PPR_MOVIELENS`` names a copy of ML-100K; an ML-1M folder there is a mistake, not a
    request to read ML-1M as if it were ML-100K."""
    names = {p.name for p in folder.iterdir()}
    if {"ratings.dat", "users.dat"} <= names and not {"u.data", "u.user"} <= names:
        raise DataValidationError(
            f"{MOVIELENS_ENV}={setting}: this folder holds MovieLens-1M (ratings.dat, users.dat), but "
            f"{MOVIELENS_ENV} names a copy of MovieLens-100K (the recbole 1.2.1 wheel or an ml-100k folder). "
            f"For MovieLens-1M set {MOVIELENS_1M_ENV}={setting} and run the profile movielens-1m "
            f"(python -m pprlib book --profile movielens-1m), or write dataset: grouplens:<folder> in a "
            f"profile; unset {MOVIELENS_ENV} (or point it at ML-100K) for the movielens profile.")


def _read_wheel_member(archive: zipfile.ZipFile, path: Path, member: str) -> pd.DataFrame:
    """A recbole atomic file (TAB, typed header such as ``user_id:token``), types stripped."""
    if member not in archive.namelist():
        raise DataValidationError(f"{path}: no member {member}; is this the recbole 1.2.1 wheel?")
    try:
        raw = archive.read(member)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        raise DataValidationError(
            f"{path}: member {member} is damaged ({exc}); delete {path.name} so that it is downloaded again "
            "(or point to an intact copy)") from None
    frame = _read_table(f"{path}:{member}", raw, sep="\t", encoding="latin-1")
    return frame.rename(columns=lambda c: c if c == ROW else c.split(":")[0])

