"""Your own data: an interactions CSV and a users CSV, both with a header, read with a column mapping."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pprlib.data.errors import ROW, DataValidationError
from pprlib.data.readers.tables import _read_file
from pprlib.data.schema import InteractionData, build_dataset

__all__ = ["read_csv_pair"]


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
