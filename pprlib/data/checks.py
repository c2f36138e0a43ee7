"""Cheap checks that data which reads without an error holds what its format says.

A file can parse cleanly and still be wrong: its columns in another order than the format
documents, ids written in two spellings of one number, a profile file whose ids are not those of
the click log. :func:`~pprlib.data.schema.build_dataset` and the readers call these checks; each
names the file, the column and rows, and what was expected.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from pprlib.data.errors import ROW, DataValidationError, DataWarning, _row_labels, _where

_NUMBER = r"\+?(\d+)(?:\.(\d*))?"


def _canonical(text: pd.Series) -> pd.Series:
    """Each id that is a number written as digits (``007``, ``7.0``, ``+7``) as one spelling of
    that number (``7``); other ids as ``NaN``."""
    parts = text.str.extract(f"^{_NUMBER}$")
    whole = parts[0].str.lstrip("0").replace("", "0")
    fraction = parts[1].fillna("").str.rstrip("0")
    return whole.where(fraction == "", whole + "." + fraction)


def refuse_two_spellings(frame: pd.DataFrame, text: pd.Series, column: str, source: str) -> None:
    """Refuse an id column in which one number is written two ways (``7`` and ``007``, ``7`` and
    ``7.0``): ids are read as text, so the two would silently be two users or items. The choice is
    to refuse rather than to unify: which spelling is the right one (a zip code keeps its zero, a
    tool that wrote floats does not) is the author's to say, so the error names the file, the
    column, both spellings and their rows."""
    unique = pd.Series(pd.unique(text))
    canon = _canonical(unique)
    twins = canon.notna() & canon.duplicated(keep=False)
    if not twins.any():
        return
    first = canon[twins].iloc[0]
    a, b = unique[canon == first].iloc[:2]  # in the order of the file
    rows = _row_labels(frame, text.isin([a, b]).to_numpy())
    raise DataValidationError(
        f"{_where(source, column, rows)}: ids {a!r} and {b!r} are the same number written two ways "
        f"({int(twins.sum())} ids of this column are); ids are read as text, so they would be two different "
        "ids: write each id one way")


def check_profile_join(inter: pd.DataFrame, inter_user: pd.Series, profile_user: pd.Series, known: np.ndarray,
                       unknown_users: str, user_col: str, interactions_source: str, users_source: str) -> None:
    """The profile file must describe the clicking users: an error naming both files when no
    profile row matches any clicking user (every profile would be missing), and with
    ``unknown_users`` ``"missing"`` or ``"drop"`` a :class:`DataWarning` that counts the
    clicking users without a row (``"error"`` refuses them elsewhere)."""
    clicking = pd.Series(pd.unique(inter_user))
    if not known.any():
        ours, theirs = pd.Series(pd.unique(profile_user)), clicking
        mine, other = _canonical(ours), _canonical(theirs)
        common = mine.isin(set(other.dropna())) & mine.notna()
        hint = ""
        if common.any():  # the first such profile id, in the order of the file
            number = mine[common].iloc[0]
            hint = (f"; they match as numbers ({ours[common].iloc[0]!r} here is {theirs[other == number].iloc[0]!r} "
                    "there): write the ids the same way in both")
        raise DataValidationError(
            f"{_where(users_source, user_col)}: no profile row matches a clicking user, no interaction of "
            f"{interactions_source} has a user with a profile row ({len(ours)} profile id(s), e.g. {ours.iloc[0]!r}; "
            f"{len(clicking)} clicking user(s), e.g. {clicking.iloc[0]!r}){hint}; the two files must use the same "
            "user ids")
    if known.all() or unknown_users == "error":
        return
    missing = pd.unique(inter_user[~known])
    fate = ("get an all-missing profile" if unknown_users == "missing"
            else f"are left out with their {int((~known).sum())} interaction(s)")
    warnings.warn(
        f"{_where(interactions_source, user_col, _row_labels(inter, ~known))}: {len(missing)} of {len(clicking)} "
        f"clicking user(s) have no profile row in {users_source} (e.g. {missing[0]!r}) and {fate}",
        DataWarning, stacklevel=3)


def check_ratings(frame: pd.DataFrame, column: str, source: str, low: float, high: float, order: str,
                  time_col: str = "timestamp") -> None:
    """A rating column must hold numbers from ``low`` to ``high``: anything else means that the
    columns are in another order than the format's (``order``, for the message); the message says
    so, and names the time column when that one holds the ratings (the two swapped)."""
    if column not in frame.columns:
        return  # a format whose header may leave it out (the reader needs no ratings)
    values = pd.to_numeric(frame[column], errors="coerce")
    bad = ~values.between(low, high).to_numpy()
    if not bad.any():
        return
    swapped = time_col in frame.columns and pd.to_numeric(frame[time_col], errors="coerce").between(low, high).all()
    where = f"; column {time_col!r} holds values from {low:g} to {high:g}" if swapped else ""
    raise DataValidationError(
        f"{_where(source, column, _row_labels(frame, bad))}: {frame[column][bad].iloc[0]!r} is not a rating "
        f"({low:g} to {high:g}){where}: are the columns in another order than the format's ({order})?")


def misplaced(frame: pd.DataFrame, wanted, column: str, order: str) -> str:
    """For a message: the column other than ``column`` that holds the ``wanted`` values (the
    columns then are in another order than the format's, ``order``), else nothing."""
    for other in frame.columns:
        if other not in (column, ROW) and frame[other].astype(str).str.strip().isin(list(wanted)).any():
            return f"; column {other!r} holds them: are the columns in another order than the format's ({order})?"
    return ""
