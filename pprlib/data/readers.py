"""Readers of raw interaction files: each returns a validated :class:`InteractionData`.

Every reader only *reads*: it loads the files as text (ids stay strings, so ``'007'`` reaches
:func:`~pprlib.data.schema.build_dataset` as written), adds the column ``_row`` with the
file's 1-based line number (the header counts, so the first data row of a headered file is
row 2 and of a headerless file row 1), keeps the rows it is asked to keep (clicks), and hands
the frames to :func:`build_dataset`, which does all validation, encoding and sorting and
names the file (or ``wheel.whl:member``), the column and the row in its messages.

Blank lines (and rows with no value at all) are skipped; line numbers still count them.
A quoted field that spans several lines makes the numbers of the rows after it too small.
"""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
import warnings
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from pprlib.cache import ensure_folder
from pprlib.data.checks import check_ratings, misplaced
from pprlib.data.schema import (
    ROW,
    DataValidationError,
    DataWarning,
    InteractionData,
    _require_columns,
    _where,
    build_dataset,
)

__all__ = [
    "DatasetUnavailableError",
    "read_csv_pair",
    "read_grouplens",
    "fetch_movielens_100k",
    "read_movielens_100k",
    "read_cikm2019",
    "read_ali_display_ad",
    "ML_PROFILE_FIELDS",
    "ML_AGE_BUCKETS",
    "CIKM_PROFILE_FIELDS",
    "ALI_PROFILE_FIELDS",
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

CIKM_PROFILE_FIELDS = ("gender", "age", "purchase_power")
ALI_PROFILE_FIELDS = (
    "cms_segid",
    "cms_group_id",
    "final_gender_code",
    "age_level",
    "pvalue_level",
    "shopping_level",
    "occupation",
    "new_user_class_level",
)

_RECBOLE_WHEEL = "recbole-1.2.1-*.whl"
MOVIELENS_ENV = "PPR_MOVIELENS"
"""Environment variable naming a local copy of ML-100K (the recbole 1.2.1 wheel or a GroupLens
``ml-100k`` folder): :func:`read_movielens_100k` then reads it instead of downloading."""
MOVIELENS_1M_ENV = "PPR_MOVIELENS_1M"
"""Environment variable naming a GroupLens ``ml-1m`` folder (``ratings.dat``, ``users.dat``):
the ``movielens-1m`` run profile reads it (``dataset: grouplens:${PPR_MOVIELENS_1M}``)."""
_WHEEL_INTER = "recbole/dataset_example/ml-100k/ml-100k.inter"
_WHEEL_USER = "recbole/dataset_example/ml-100k/ml-100k.user"

# separators we recognise when a file was read with the wrong one
_SEPARATORS = (",", ";", "\t", "|", "::")


# ------------------------------------------------------------------------------------------
# reading one table
# ------------------------------------------------------------------------------------------
def _read_table(
    source: str,
    data: Path | bytes,
    *,
    sep: str,
    columns: Sequence[str] | None = None,
    encoding: str = "utf-8",
    sep_hint: bool = False,
) -> pd.DataFrame:
    """One delimited table as strings plus ``_row`` (1-based line numbers in the file).

    ``columns=None``: the file has a header (names are stripped of surrounding spaces);
    otherwise it has no header and every row must have exactly these fields.
    Raises :class:`DataValidationError` naming ``source`` for an empty file, a wrong
    separator, a malformed row (pandas' message with the line number is kept) or a wrong
    number of fields; ``FileNotFoundError`` for a missing file.
    """
    if isinstance(data, Path):
        if not data.is_file():
            raise FileNotFoundError(f"{source}: file not found")
        if data.stat().st_size == 0:
            raise DataValidationError(f"{source}: the file is empty")
        handle = data
    else:
        if len(data) == 0:
            raise DataValidationError(f"{source}: the file is empty")
        handle = io.BytesIO(data)

    try:
        with warnings.catch_warnings():
            # pandas only *warns* when the first data row is longer than the header and
            # then drops the extra fields; make it an error instead
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(
                handle,
                sep=sep,
                header=0 if columns is None else None,
                dtype=str,  # ids such as '007' stay as written; build_dataset parses numbers
                keep_default_na=False,  # 'NA', 'null', 'None' are labels, not missing values
                skip_blank_lines=False,  # keep blank lines so that row numbers stay true
                index_col=False,  # never turn a first column into the index
                engine="python" if len(sep) > 1 else "c",  # the C engine takes one character
                encoding=encoding,
            )
    except pd.errors.EmptyDataError:
        raise DataValidationError(f"{source}: the file is empty (no columns to read)") from None
    except pd.errors.ParserWarning:  # only with a header: without one pandas counts line 1
        raise DataValidationError(
            f"{source}: malformed row: the first data row (line 2) has more fields than the "
            f"header"
        ) from None
    except pd.errors.ParserError as exc:
        message = " ".join(str(exc).split())  # pandas puts the line number in its message
        raise DataValidationError(f"{source}: malformed CSV: {message}") from None
    except UnicodeDecodeError as exc:  # pandas decodes in chunks: its position is within a chunk
        raise DataValidationError(_decode_error(source, data, encoding, exc)) from None

    if columns is None:
        frame.columns = [str(c).strip() for c in frame.columns]  # Ali: "new_user_class_level "
    _check_separator(frame, source, sep, header=columns is None, hint=sep_hint)
    if columns is not None:
        if frame.shape[1] != len(columns):
            raise DataValidationError(
                f"{source}: expected {len(columns)} fields per row ({', '.join(columns)}), "
                f"but line 1 has {frame.shape[1]}"
            )
        frame.columns = list(columns)

    frame[ROW] = np.arange(len(frame), dtype=np.int64) + (2 if columns is None else 1)
    starts = _record_lines(data, sep, encoding)  # a quoted field may span lines: count them
    if starts is not None and len(starts) == len(frame) + (columns is None):
        frame[ROW] = np.asarray(starts[1:] if columns is None else starts, dtype=np.int64)
    values = frame.drop(columns=ROW)
    blank = (values.isna() | values.apply(lambda c: c.str.strip() == "")).all(axis=1).to_numpy()
    frame = frame[~blank].reset_index(drop=True)
    if columns is not None and len(frame) and _looks_like_header(frame, columns):
        warnings.warn(
            f"{source}, line {frame[ROW].iloc[0]}: looks like a header line "
            f"({', '.join(repr(v) for v in frame.iloc[0, :-1])}) and is skipped: this format has no header",
            DataWarning, stacklevel=3)
        frame = frame.iloc[1:].reset_index(drop=True)
    return frame


def _raw(data: Path | bytes) -> bytes:
    return data.read_bytes() if isinstance(data, Path) else bytes(data)


def _decode_error(source: str, data: Path | bytes, encoding: str, exc: UnicodeDecodeError) -> str:
    """Where a file stops being ``encoding`` text, as a user counts it: the byte (from 1), the
    line and the column (from 1), found by decoding the whole file (``exc`` as a fallback)."""
    raw = _raw(data)
    try:
        raw.decode(encoding)
        start, reason = exc.start, exc.reason
    except UnicodeDecodeError as whole:
        start, reason = whole.start, whole.reason
    line = raw.count(b"\n", 0, start) + 1
    column = start - (raw.rfind(b"\n", 0, start) + 1) + 1
    return (f"{source}, line {line}: not {encoding} text ({reason} at byte {start + 1} of the file, "
            f"column {column} of the line, counting from 1)")


def _record_lines(data: Path | bytes, sep: str, encoding: str) -> list[int] | None:
    """The line (from 1) on which each record of a delimited file starts, blank lines and the
    header included, where a quoted field may hold line breaks; None where no field is quoted
    (every record is one line) or the separator is not one character."""
    raw = _raw(data)
    if len(sep) != 1 or b'"' not in raw:
        return None
    reader = csv.reader(io.StringIO(raw.decode(encoding), newline=""), delimiter=sep)
    starts, line = [], 1
    for _ in reader:
        starts.append(line)
        line = reader.line_num + 1
    return starts


def _looks_like_header(frame: pd.DataFrame, columns: Sequence[str]) -> bool:
    """The first row of a headerless file names columns rather than holding values: a field
    equals a column name of the format, or every field is a word where the next row has numbers."""
    first = [str(v).strip() for v in frame.iloc[0][list(columns)]]
    names = {c.lower() for c in columns}
    if any(v.split(":")[0].lower() in names for v in first):
        return True
    if len(frame) < 2 or not all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_ ]*", v) for v in first):
        return False
    second = [str(v).strip() for v in frame.iloc[1][list(columns)]]
    return any(re.fullmatch(r"[-+]?\d+(\.\d*)?", v) for v in second)


def _check_separator(frame: pd.DataFrame, source: str, sep: str, *, header: bool, hint: bool) -> None:
    """A table read as one column whose text holds another separator was read with the wrong one."""
    if frame.shape[1] != 1:
        return
    if header:
        text = str(frame.columns[0])
    else:
        values = frame.iloc[:, 0].dropna()
        text = str(values.iloc[0]) if len(values) else ""
    for other in _SEPARATORS:
        if other != sep and other in text:
            advice = f"; read it with sep={other!r}" if hint else ""
            raise DataValidationError(
                f"{source}: the file seems to use {other!r} as separator, not {sep!r} "
                f"(a single column was read: {text[:60]!r}){advice}"
            )


def _read_file(path: Path, **kwargs) -> pd.DataFrame:
    """:func:`_read_table` of a file on disk, named by its path in messages."""
    return _read_table(str(path), path, **kwargs)


def _folder(folder: str | os.PathLike) -> Path:
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: folder not found")
    return folder


# ------------------------------------------------------------------------------------------
# generic CSV pair
# ------------------------------------------------------------------------------------------
def read_csv_pair(
    interactions_path: str | os.PathLike,
    users_path: str | os.PathLike,
    *,
    user_col: str = "user_id",
    item_col: str = "item_id",
    time_col: str = "timestamp",
    profile_fields: Sequence[str] | None = None,
    sep: str = ",",
    unknown_users: Literal["error", "missing", "drop"] = "error",
    duplicates: Literal["error", "drop", "keep"] = "error",
    extra_columns: Literal["error", "ignore"] = "error",
    vocab: dict[str, Sequence[str]] | None = None,
    name: str | None = None,
    ties: Literal["file", "item", "random"] = "file",
    ties_seed: int = 0,
) -> InteractionData:
    """An interactions CSV and a users CSV, both with a header, read with a column mapping.

    ``user_col`` names the user column of both files. ``profile_fields`` defaults to every
    column of the users file except ``user_col``. A column the mapping does not name (a
    ``rating`` in the interactions, a column of the users file outside ``profile_fields``) is an
    error unless ``extra_columns="ignore"``: a misspelt name should not go unnoticed.
    ``unknown_users``, ``duplicates`` and ``vocab`` (fixed labels per field; other values are
    an error), ``ties`` and ``ties_seed`` (the order of a user's interactions with one
    timestamp) are passed to :func:`build_dataset`. ``name`` defaults to the interactions file's
    stem.
    """
    if extra_columns not in ("error", "ignore"):
        raise ValueError(f"extra_columns must be 'error' or 'ignore', got {extra_columns!r}")
    inter_path, users_path = Path(interactions_path), Path(users_path)
    inter_source, users_source = str(inter_path), str(users_path)
    interactions = _read_file(inter_path, sep=sep, sep_hint=True)
    users = _read_file(users_path, sep=sep, sep_hint=True)
    if profile_fields is None:
        profile_fields = [c for c in users.columns if c not in (user_col, ROW)]
    if extra_columns == "error":
        for frame, source, named in ((interactions, inter_source, (user_col, item_col, time_col)),
                                     (users, users_source, (user_col, *profile_fields))):
            extra = [c for c in frame.columns if c not in (*named, ROW)]
            if extra and all(c in frame.columns for c in named):  # a missing column is reported first
                raise DataValidationError(
                    f"{source}: unknown column(s) {extra}; expected {list(named)}. Map the columns "
                    "(user_col=, item_col=, time_col=, profile_fields=) or read with extra_columns='ignore'"
                )
    return build_dataset(
        interactions,
        users,
        profile_fields,
        name=name or inter_path.stem,
        interactions_source=inter_source,
        users_source=users_source,
        user_col=user_col,
        item_col=item_col,
        time_col=time_col,
        unknown_users=unknown_users,
        duplicates=duplicates,
        vocab=vocab,
        meta={"reader": "read_csv_pair", "files": [inter_source, users_source]},
        ties=ties,
        ties_seed=ties_seed,
    )


# ------------------------------------------------------------------------------------------
# MovieLens (GroupLens folders and the recbole wheel)
# ------------------------------------------------------------------------------------------
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
    repo = Path(__file__).resolve().parents[2]
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


# ------------------------------------------------------------------------------------------
# CIKM 2019 EComm AI and Ali_Display_Ad_Click
# ------------------------------------------------------------------------------------------
def read_cikm2019(
    folder: str | os.PathLike,
    *,
    behaviors: Sequence[str] = ("pv",),
    profile_fields: Sequence[str] = CIKM_PROFILE_FIELDS,
) -> InteractionData:
    """CIKM Cup 2019 EComm AI raw files (CSV, no header) in ``folder``.

    ``user_behavior.csv`` (user_id, item_id, behavior, timestamp): the interactions are the
    rows whose behavior is in ``behaviors`` (clicks = ``"pv"``). ``user.csv`` (user_id,
    gender, age, purchase_power): the profiles. ``item.csv`` (item_id, category_id, shop_id,
    brand_id), if present, becomes ``item_features`` (strings, as in the file). The raw log
    repeats events, so identical (user, item, timestamp) rows are dropped; users without a
    profile row get an all-missing profile.
    """
    folder = _folder(folder)
    inter_path, users_path, items_path = (folder / f for f in ("user_behavior.csv", "user.csv", "item.csv"))
    log = _read_file(inter_path, sep=",", columns=("user_id", "item_id", "behavior", "timestamp"))
    users = _read_file(users_path, sep=",", columns=("user_id", *CIKM_PROFILE_FIELDS))
    behavior = log["behavior"].str.strip()
    keep = behavior.isin(list(behaviors)).to_numpy()
    if not keep.any():
        found = sorted(set(behavior.dropna()))[:10]
        raise DataValidationError(f"{_where(str(inter_path), 'behavior')}: no row has a behavior in {list(behaviors)}; "
                                  f"found {found}{misplaced(log, behaviors, 'behavior', ', '.join(log.columns[:4]))}")
    items = None
    if items_path.exists():
        items = _read_file(items_path, sep=",", columns=("item_id", "category_id", "shop_id", "brand_id"))
        items = items.drop(columns=ROW)
    return build_dataset(
        log[keep],
        users,
        profile_fields,
        name="cikm2019",
        interactions_source=str(inter_path),
        users_source=str(users_path),
        user_col="user_id",
        item_col="item_id",
        unknown_users="missing",
        duplicates="drop",
        item_features=items,
        meta={"reader": "read_cikm2019", "behaviors": list(behaviors),
              "files": [str(inter_path), str(users_path)]},
    )


def read_ali_display_ad(
    folder: str | os.PathLike,
    *,
    profile_fields: Sequence[str] = ALI_PROFILE_FIELDS,
) -> InteractionData:
    """Ali_Display_Ad_Click (Taobao display ads, CSV with header) in ``folder``.

    ``raw_sample.csv`` (user, time_stamp, adgroup_id, pid, nonclk, clk): the interactions
    are the clicks (``clk == 1``), the item is the ad group. ``user_profile.csv`` (userid and
    the eight profile fields; header names are stripped, as the real file's last one carries
    a trailing space; empty values are missing). ``ad_feature.csv``, if present, becomes
    ``item_features`` (strings). Repeated identical clicks are dropped; users without a
    profile row get an all-missing profile.
    """
    folder = _folder(folder)
    inter_path, users_path, ads_path = (folder / f for f in ("raw_sample.csv", "user_profile.csv", "ad_feature.csv"))
    sample = _read_file(inter_path, sep=",")
    users = _read_file(users_path, sep=",")
    _require_columns(sample, ["clk"], str(inter_path))
    _require_columns(users, ["userid"], str(users_path))

    clk = pd.to_numeric(sample["clk"], errors="coerce")
    bad = ~clk.isin([0, 1]).to_numpy()
    if bad.any():
        raise DataValidationError(
            f"{_where(str(inter_path), 'clk', sample.loc[bad, ROW].tolist())}: clk must be 0 or 1, "
            f"got {sample['clk'][bad].iloc[0]!r}"
        )
    if not (clk == 1).any():
        raise DataValidationError(f"{_where(str(inter_path), 'clk')}: no row is a click (clk == 1)")
    items = None
    if ads_path.exists():
        items = _read_file(ads_path, sep=",").drop(columns=ROW)
    return build_dataset(
        sample[(clk == 1).to_numpy()],
        # build_dataset takes one user column name for both frames (messages about the
        # profile file therefore say 'user' for its 'userid')
        users.rename(columns={"userid": "user"}),
        profile_fields,
        name="ali_display_ad",
        interactions_source=str(inter_path),
        users_source=str(users_path),
        user_col="user",
        item_col="adgroup_id",
        time_col="time_stamp",
        unknown_users="missing",
        duplicates="drop",
        item_features=items,
        meta={"reader": "read_ali_display_ad", "files": [str(inter_path), str(users_path)]},
    )
