"""The one validated in-memory dataset that every reader and the generator return.

Encoding (fixed, so every other module can rely on it):

* users are numbered ``0 .. n_users-1``; ``user_ids[u]`` keeps the original label;
* items are numbered ``1 .. n_items``; index ``0`` is the padding item and never occurs in
  an interaction; ``item_ids[i]`` keeps the original label (``item_ids[0]`` is ``None``);
* every profile field is a categorical code, ``0`` is the reserved *missing* value and
  ``vocab[field][0] == MISSING``;
* interactions are sorted by ``(user, timestamp)``; ties (a user's interactions with the
  same timestamp) keep the order of the source by default (a stable sort), so the order is
  deterministic for a given file; :data:`TIES` lists the other orders ``build_dataset`` offers.

:func:`build_dataset` turns raw frames into this object and is where every validation
error is raised, naming the source, the column and the offending row or value.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from pprlib.data.checks import check_profile_join, refuse_two_spellings
from pprlib.data.errors import ROW, DataValidationError, DataWarning, _row_labels, _where

MISSING = "<missing>"
"""Label of the reserved code 0 of every profile field."""

TIES = ("file", "item", "random")
"""The order of a user's interactions that share a timestamp: ``"file"``, as in the source;
``"item"``, by item label (numbers numerically); ``"random"``, a seeded random order
(``ties_seed``). Which tied item counts as a user's first or next is otherwise arbitrary."""

@dataclass
class InteractionData:
    """Users with categorical profiles, items, and time-ordered interactions."""

    name: str
    profile_fields: list[str]
    vocab: dict[str, list[str]]
    profiles: np.ndarray  # (n_users, n_fields) int64 codes, 0 = missing
    user_ids: np.ndarray  # (n_users,) original labels
    item_ids: np.ndarray  # (n_items + 1,) original labels, [0] is padding
    users: np.ndarray  # (n_interactions,) int64, sorted
    items: np.ndarray  # (n_interactions,) int64 in 1..n_items
    timestamps: np.ndarray  # (n_interactions,) int64
    item_features: pd.DataFrame | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.offsets = np.zeros(self.n_users + 1, dtype=np.int64)
        np.cumsum(np.bincount(self.users, minlength=self.n_users), out=self.offsets[1:])
        self._clicked: np.ndarray | None = None

    def fingerprint(self) -> str:
        """A digest of the encoded content: equal data gives equal keys for the cache."""
        h = hashlib.sha256()
        for arr in (self.profiles, self.users, self.items, self.timestamps):
            h.update(np.ascontiguousarray(arr).tobytes())
        h.update(repr((self.profile_fields, self.vocab, self.n_items)).encode())
        return h.hexdigest()[:16]

    def clicked_keys(self) -> np.ndarray:
        """Sorted unique ``user * (n_items + 1) + item`` of every interaction (membership tests)."""
        if self._clicked is None:
            self._clicked = np.unique(self.users * (self.n_items + 1) + self.items)
        return self._clicked

    def has_clicked(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Vectorized ``item in clicks(user)`` for arrays of equal shape."""
        keys = self.clicked_keys()
        query = np.asarray(users, dtype=np.int64) * (self.n_items + 1) + np.asarray(items, dtype=np.int64)
        pos = np.minimum(np.searchsorted(keys, query), len(keys) - 1)
        return keys[pos] == query

    def subset(self, keep: np.ndarray, name: str | None = None) -> InteractionData:
        """A copy holding only the interactions where ``keep`` (bool, per interaction) is true.

        Users and items keep their codes (a user left with no clicks keeps the code, with an
        empty sequence), so splits and candidate lists stay comparable.
        """
        keep = np.asarray(keep, dtype=bool)
        return InteractionData(
            name=name or self.name, profile_fields=list(self.profile_fields), vocab=self.vocab,
            profiles=self.profiles, user_ids=self.user_ids, item_ids=self.item_ids,
            users=self.users[keep], items=self.items[keep], timestamps=self.timestamps[keep],
            item_features=self.item_features, meta=dict(self.meta),
        )

    # sizes -------------------------------------------------------------------------
    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids) - 1

    @property
    def n_interactions(self) -> int:
        return len(self.items)

    @property
    def field_sizes(self) -> list[int]:
        """Vocabulary size of each profile field, the missing code included."""
        return [len(self.vocab[f]) for f in self.profile_fields]

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    # access ------------------------------------------------------------------------
    def sequence(self, user: int) -> np.ndarray:
        """The user's items in time order (a view; do not modify)."""
        return self.items[self.offsets[user] : self.offsets[user + 1]]

    def profile_labels(self, user: int) -> dict[str, str]:
        return {f: self.vocab[f][c] for f, c in zip(self.profile_fields, self.profiles[user], strict=True)}

    def encode_profile(self, labels: dict[str, str]) -> np.ndarray:
        """Codes for a profile given as labels; absent fields become missing."""
        unknown = set(labels) - set(self.profile_fields)
        if unknown:
            raise DataValidationError(
                f"profile: unknown field(s) {sorted(unknown)}; this dataset has {self.profile_fields}"
            )
        codes = []
        for f in self.profile_fields:
            value = labels.get(f)
            if value is None or value == MISSING:
                codes.append(0)
                continue
            try:
                codes.append(self.vocab[f].index(str(value)))
            except ValueError:
                raise DataValidationError(
                    f"profile field {f!r}: value {value!r} is not in its vocabulary "
                    f"{self.vocab[f][1:]}"
                ) from None
        return np.asarray(codes, dtype=np.int64)

    def to_frame(self) -> pd.DataFrame:
        """Interactions as a tidy frame with profile labels (for plots and inspection)."""
        frame = pd.DataFrame({"user": self.users, "item": self.items, "timestamp": self.timestamps})
        for j, f in enumerate(self.profile_fields):
            labels = np.asarray(self.vocab[f], dtype=object)
            frame[f] = labels[self.profiles[self.users, j]]
        return frame

    def __repr__(self) -> str:
        return (
            f"InteractionData({self.name!r}: {self.n_users} users, {self.n_items} items, "
            f"{self.n_interactions} interactions, fields {self.profile_fields})"
        )


def _require_columns(frame: pd.DataFrame, columns: Sequence[str], source: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        present = [c for c in frame.columns if c != ROW]
        raise DataValidationError(
            f"{source}: missing column(s) {missing}; found columns {present}"
        )


def _ids(frame: pd.DataFrame, column: str, source: str) -> pd.Series:
    """Id column as text labels: non-empty, no negative numbers.

    Ids are labels, re-encoded to ``0..n-1`` (users) and ``1..n`` (items), so they never
    overflow and ``'007'`` stays ``'007'``. A float column (pandas' choice for integer ids next to
    gaps) must hold whole numbers, written without the ``.0``.
    """
    values = frame[column]
    empty = values.isna().to_numpy() | (values.astype(str).str.strip() == "").to_numpy()
    if empty.any():
        raise DataValidationError(
            f"{_where(source, column, _row_labels(frame, empty))}: empty id; every row needs one"
        )
    if pd.api.types.is_float_dtype(values):
        bad = (values != np.floor(values)).to_numpy() | (values.abs() >= 2.0**63).to_numpy()
        if bad.any():
            raise DataValidationError(
                f"{_where(source, column, _row_labels(frame, bad))}: id {values[bad].iloc[0]!r} is not "
                "a whole number; ids must be integers or text"
            )
        values = values.astype("int64")
    text = values.astype(str).str.strip()
    negative = text.str.fullmatch(r"-\d+(\.\d*)?").to_numpy()
    if negative.any():
        raise DataValidationError(
            f"{_where(source, column, _row_labels(frame, negative))}: ids must be non-negative, "
            f"got {text[negative].iloc[0]!r}"
        )

    refuse_two_spellings(frame, text, column, source)
    return text


def _timestamps(frame: pd.DataFrame, column: str, source: str) -> tuple[np.ndarray, int]:
    """Timestamps as int64 and their scale: ``(t, 1)`` for whole numbers (read exactly, not
    through float), ``(round(t * 1000), 1000)`` when some have fractions (milliseconds).
    Values that do not fit a 64-bit integer are an error naming the rows."""
    raw = frame[column]
    text = raw.astype(str).str.strip()
    missing = raw.isna().to_numpy() | (text == "").to_numpy()
    if missing.any():
        raise DataValidationError(
            f"{_where(source, column, _row_labels(frame, missing))}: missing timestamp; "
            "expected a number (e.g. unix seconds)"
        )
    numeric = pd.to_numeric(raw, errors="coerce")
    bad = numeric.isna().to_numpy()
    if bad.any():
        raise DataValidationError(
            f"{_where(source, column, _row_labels(frame, bad))}: timestamp "
            f"{raw[bad].iloc[0]!r} is not numeric; expected a number (e.g. unix seconds)"
        )
    as_float = numeric.to_numpy(dtype=np.float64)
    if not np.isfinite(as_float).all():
        raise DataValidationError(f"{_where(source, column)}: timestamps must be finite")
    if text.str.fullmatch(r"[-+]?\d+").all():  # whole numbers: exact, not through float
        over = np.zeros(len(text), dtype=bool)
        long = np.flatnonzero(text.str.lstrip("+-").str.lstrip("0").str.len().to_numpy() >= 19)
        over[long] = [not -(2**63) <= int(text.iloc[k]) < 2**63 for k in long]
        scale, values = 1, None if over.any() else numeric.to_numpy(dtype=np.int64)
    else:
        scale = 1 if np.all(as_float == np.floor(as_float)) else 1000
        over = np.abs(as_float) * scale >= 2.0**63
        values = None if over.any() else np.round(as_float * scale).astype(np.int64)
    if over.any():
        raise DataValidationError(
            f"{_where(source, column, _row_labels(frame, over))}: timestamp {text[over].iloc[0]!r} does not fit a "
            f"64-bit integer{' (in milliseconds)' if scale == 1000 else ''}; expected unix time (seconds or "
            "milliseconds)")
    return values, scale


_UNITS = ((1e8, "seconds"), (1e11, "milliseconds"), (1e14, "microseconds"), (1e17, "nanoseconds"))
"""Where unix times of the years 1973 onwards fall in each unit (the lower bound of each)."""


def _check_time_units(inter: pd.DataFrame, uid: np.ndarray, times: np.ndarray, scale: int,
                      labels: np.ndarray, column: str, source: str) -> None:
    """A user whose timestamps change unit (seconds next to milliseconds) would have their
    clicks ordered wrongly: an error naming the rows. Small values (counters) are not judged."""
    magnitude = np.abs(times.astype(np.float64)) / scale
    unit = np.searchsorted([b for b, _ in _UNITS], magnitude, side="right") - 1  # -1: below 1e8
    judged = unit >= 0
    if not judged.any():
        return
    frame = pd.DataFrame({"u": uid[judged], "unit": unit[judged], "k": np.flatnonzero(judged)})
    per_user = frame.groupby("u")["unit"].nunique()
    mixed = per_user.index[per_user.to_numpy() > 1]
    if len(mixed) == 0:
        return
    user = mixed[0]
    mine = frame[frame.u == user]
    common = mine.unit.mode().iloc[0]
    odd = mine[mine.unit != common]
    rows = _row_labels(inter, np.isin(np.arange(len(inter)), odd.k.to_numpy()))
    example, usual = times[odd.k.iloc[0]], times[mine[mine.unit == common].k.iloc[0]]
    raise DataValidationError(
        f"{_where(source, column, rows)}: user {labels[user]!r} mixes timestamp units: {example} looks like "
        f"{_UNITS[odd.unit.iloc[0]][1]} while {usual} looks like {_UNITS[common][1]}, so their clicks would be "
        f"ordered wrongly ({len(mixed)} user(s) affected); write every timestamp in one unit")


def build_dataset(
    interactions: pd.DataFrame,
    users: pd.DataFrame,
    profile_fields: Sequence[str],
    *,
    name: str,
    interactions_source: str = "interactions",
    users_source: str = "users",
    user_col: str = "user",
    item_col: str = "item",
    time_col: str = "timestamp",
    unknown_users: Literal["error", "missing", "drop"] = "error",
    duplicates: Literal["error", "drop", "keep"] = "error",
    vocab: dict[str, Sequence[str]] | None = None,
    item_features: pd.DataFrame | None = None,
    meta: dict | None = None,
    ties: Literal["file", "item", "random"] = "file",
    ties_seed: int = 0,
) -> InteractionData:
    """Validate raw frames and encode them as :class:`InteractionData`.

    ``unknown_users``: what to do with an interaction whose user has no profile row:
    ``"error"`` (default) raises, ``"missing"`` gives that user an all-missing profile,
    ``"drop"`` drops their interactions. ``duplicates``: identical (user, item, timestamp)
    rows raise (``"error"``), are dropped (``"drop"``, for raw click logs that repeat
    events), or are kept. Empty profile values map to the missing code. ``vocab`` fixes the
    labels of a field (values outside it raise); otherwise it is the sorted set of values.
    ``ties`` orders a user's interactions with equal timestamps (:data:`TIES`; ``ties_seed``
    seeds the ``"random"`` order).
    """

    profile_fields = list(profile_fields)
    if interactions is None or len(interactions) == 0:
        raise DataValidationError(f"{interactions_source}: no interactions (empty file or no rows)")
    if users is None or len(users) == 0:
        raise DataValidationError(f"{users_source}: no user rows (empty file or no rows)")
    if not profile_fields:
        raise DataValidationError(f"{users_source}: at least one profile field is required")
    if unknown_users not in ("error", "missing", "drop"):
        raise ValueError(f"unknown_users must be 'error', 'missing' or 'drop', got {unknown_users!r}")
    if duplicates not in ("error", "drop", "keep"):
        raise ValueError(f"duplicates must be 'error', 'drop' or 'keep', got {duplicates!r}")
    if ties not in TIES:
        raise ValueError(f"ties must be one of {TIES}, got {ties!r}")
    _require_columns(interactions, [user_col, item_col, time_col], interactions_source)
    _require_columns(users, [user_col, *profile_fields], users_source)

    inter = interactions.reset_index(drop=True)
    users = users.reset_index(drop=True)
    inter_user = _ids(inter, user_col, interactions_source)
    inter_item = _ids(inter, item_col, interactions_source)
    times, time_scale = _timestamps(inter, time_col, interactions_source)
    profile_user = _ids(users, user_col, users_source)

    dup_profile = profile_user.duplicated(keep=False).to_numpy()
    if dup_profile.any():
        raise DataValidationError(
            f"{_where(users_source, user_col, _row_labels(users, dup_profile))}: user "
            f"{profile_user[dup_profile].iloc[0]!r} has more than one profile row"
        )

    key = pd.DataFrame({"u": inter_user, "i": inter_item, "t": times})
    dup = key.duplicated(keep="first").to_numpy()
    if dup.any():
        if duplicates == "error":
            raise DataValidationError(
                f"{_where(interactions_source, None, _row_labels(inter, dup))}: duplicate "
                f"interaction (user {key.u[dup].iloc[0]!r}, item {key.i[dup].iloc[0]!r}, same "
                "timestamp); remove the repeats or read with duplicates='drop'"
            )
        if duplicates == "drop":
            keep = ~dup
            # keep the original index: later messages must name rows of the source
            inter, key, times = inter[keep], key[keep], times[keep]
            inter_user, inter_item = key.u, key.i

    known = inter_user.isin(set(profile_user)).to_numpy()
    check_profile_join(inter, inter_user, profile_user, known, unknown_users, user_col, interactions_source,
                       users_source)
    extra_users: list[str] = []
    if not known.all():
        if unknown_users == "error":
            raise DataValidationError(
                f"{_where(interactions_source, user_col, _row_labels(inter, ~known))}: user "
                f"{inter_user[~known].iloc[0]!r} has no row in {users_source}; add a profile row "
                "or read with unknown_users='missing' (all-missing profile) or 'drop'"
            )
        if unknown_users == "drop":
            inter, key, times = inter[known], key[known], times[known]
            inter_user, inter_item = key.u, key.i
        else:
            extra_users = sorted(set(inter_user[~known]))

    # profiles: codes with 0 = missing; empty values map to missing
    vocab_out: dict[str, list[str]] = {}
    codes = np.zeros((len(users) + len(extra_users), len(profile_fields)), dtype=np.int64)
    for j, f in enumerate(profile_fields):
        col = users[f]
        text = col.astype(str).str.strip()
        # text is kept as written ('02139' is not '2139'; 'NA' is a label); only an empty value is missing
        empty = col.isna().to_numpy() | text.isin(["", MISSING]).to_numpy()
        if pd.api.types.is_float_dtype(col):  # a numeric frame from code: 3.0 next to NaN is the label '3'
            integral = (col.notna() & (col == np.floor(col))).to_numpy()
            text = text.where(~integral, col.where(integral).astype("Int64").astype(str))
        if vocab is not None and f in vocab:
            labels = [MISSING] + [str(v) for v in vocab[f] if str(v) != MISSING]
            outside = ~empty & ~text.isin(labels[1:]).to_numpy()
            if outside.any():
                raise DataValidationError(
                    f"{_where(users_source, f, _row_labels(users, outside))}: value "
                    f"{text[outside].iloc[0]!r} is not in the field's vocabulary {labels[1:]}"
                )
        else:
            values = sorted(set(text[~empty]), key=_natural_key)
            labels = [MISSING] + values
        if empty.all():
            raise DataValidationError(
                f"{_where(users_source, f)}: every value is empty, so the field tells nothing; "
                "fill it or leave it out of the profile fields"
            )
        lookup = {v: k for k, v in enumerate(labels)}
        codes[: len(users), j] = np.where(empty, 0, text.map(lookup).fillna(0).to_numpy(dtype=np.int64))
        vocab_out[f] = labels

    # encode users: only users with interactions are kept (a profile row alone is no user)
    all_users = pd.Index(list(profile_user) + extra_users)
    active = pd.Index(pd.unique(inter_user))
    idle = ~profile_user.isin(set(active)).to_numpy()
    if idle.any():
        warnings.warn(
            f"{_where(users_source, user_col, _row_labels(users, idle))}: {int(idle.sum())} user(s) without "
            f"interactions (e.g. {profile_user[idle].iloc[0]!r}) are left out: a user needs at least one click",
            DataWarning, stacklevel=2,
        )
    keep_rows = all_users.get_indexer(active)
    order = np.argsort(keep_rows, kind="stable")  # keep the profile file's order
    keep_rows = keep_rows[order]
    user_labels = np.asarray(all_users[keep_rows], dtype=object)
    user_index = pd.Series(np.arange(len(keep_rows)), index=user_labels)
    uid = user_index.loc[inter_user.to_numpy()].to_numpy(dtype=np.int64)

    item_labels = pd.Index(sorted(pd.unique(inter_item), key=_natural_key))
    iid = item_labels.get_indexer(inter_item.to_numpy()).astype(np.int64) + 1

    ts_int = np.asarray(times, dtype=np.int64)  # sub-second times are kept as milliseconds
    _check_time_units(inter, uid, ts_int, time_scale, user_labels, time_col, interactions_source)
    source_order = np.arange(len(uid))
    tie_key = {"file": source_order, "item": iid,
               "random": np.random.default_rng(ties_seed).permutation(len(uid))}[ties]
    order = np.lexsort((source_order, tie_key, ts_int, uid))  # ties by tie_key, then source order


    return InteractionData(
        name=name,
        profile_fields=profile_fields,
        vocab=vocab_out,
        profiles=codes[keep_rows],
        user_ids=user_labels,
        item_ids=np.asarray([None, *item_labels], dtype=object),
        users=uid[order],
        items=iid[order],
        timestamps=ts_int[order],
        item_features=item_features,
        meta={**(meta or {}), "ties": ties if ties != "random" else f"random (seed {ties_seed})"},
    )


def _natural_key(value: str):
    """Sort numbers numerically and text alphabetically (numbers first)."""
    try:
        return (0, float(value), "")
    except (TypeError, ValueError):
        return (1, 0.0, str(value))


def check_dataset(data: InteractionData) -> InteractionData:
    """Internal consistency checks of an already encoded dataset (cheap, vectorized)."""
    n_users, n_items = data.n_users, data.n_items
    if data.profiles.shape != (n_users, len(data.profile_fields)):
        raise DataValidationError(f"{data.name}: profiles have shape {data.profiles.shape}")
    for j, f in enumerate(data.profile_fields):
        col = data.profiles[:, j]
        if col.min(initial=0) < 0 or col.max(initial=0) >= len(data.vocab[f]):
            raise DataValidationError(f"{data.name}: field {f!r} has codes outside its vocabulary")
    if len(data.items) and (data.items.min() < 1 or data.items.max() > n_items):
        raise DataValidationError(f"{data.name}: item codes must lie in 1..{n_items}")
    if np.any(np.diff(data.users) < 0):
        raise DataValidationError(f"{data.name}: interactions are not sorted by user")
    if np.any(data.lengths == 0):
        raise DataValidationError(f"{data.name}: some users have no interactions")
    return data
