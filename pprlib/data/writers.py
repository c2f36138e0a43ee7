"""Writers of the raw formats the readers take, for examples and tests: a dataset written as
the generic CSV pair, as CIKM Cup 2019 files, as Ali_Display_Ad_Click files, or as a GroupLens
MovieLens-100K or -1M folder; and what a reader says about a malformed file.

The CIKM and Ali writers add what real logs hold besides the clicks (other behaviours,
repeated events, ads shown but not clicked), drawn with their own seed, so that reading the
files back gives the written dataset exactly.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from pprlib.data.errors import DataValidationError
from pprlib.data.schema import MISSING, InteractionData


def labelled(data: InteractionData) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The clicks (``user_id``, ``item_id``, ``timestamp`` as labels) and one profile row per
    user (``user_id`` and one column per field, ``''`` = missing)."""
    frame = data.to_frame()
    clicks = pd.DataFrame({"user_id": data.user_ids[frame.user], "item_id": data.item_ids[frame.item],
                           "timestamp": frame.timestamp})
    fields = {f: np.asarray(data.vocab[f], dtype=object)[data.profiles[:, j]]
              for j, f in enumerate(data.profile_fields)}
    return clicks, pd.DataFrame({"user_id": data.user_ids, **fields}).replace(MISSING, "")


def write_csv_pair(folder: Path, clicks: pd.DataFrame, users: pd.DataFrame, sep: str = ",") -> tuple[Path, Path]:
    """``interactions.csv`` and ``users.csv`` with a header (the frames of :func:`labelled`, or
    any others: a malformed pair shows what the reader says); returns the two paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    clicks.to_csv(folder / "interactions.csv", index=False, sep=sep)
    users.to_csv(folder / "users.csv", index=False, sep=sep)
    return folder / "interactions.csv", folder / "users.csv"


def write_cikm2019(folder: Path, data: InteractionData, seed: int = 0, other_share: float = 0.1,
                   repeat_share: float = 0.02) -> pd.DataFrame:
    """Headerless ``user_behavior.csv`` and ``user.csv`` of CIKM Cup 2019: every click a page
    view (``pv``) with the time in seconds from the start of the log, plus ``other_share`` of
    them followed by a ``fav``, ``cart`` or ``buy`` a minute later and ``repeat_share`` logged
    twice. Returns the log as written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    clicks, users = labelled(data)
    log = clicks.assign(behavior="pv", timestamp=clicks.timestamp - clicks.timestamp.min())
    others = log.sample(frac=other_share, random_state=seed)
    others = others.assign(behavior=rng.choice(["fav", "cart", "buy"], len(others)), timestamp=others.timestamp + 60)
    repeats = log.sample(frac=repeat_share, random_state=seed + 1)  # the same event logged twice
    log = pd.concat([log, others, repeats]).sort_values("timestamp", kind="stable")
    log = log[["user_id", "item_id", "behavior", "timestamp"]]
    log.to_csv(folder / "user_behavior.csv", index=False, header=False)
    users.to_csv(folder / "user.csv", index=False, header=False)
    return log


def write_ali_display_ad(folder: Path, data: InteractionData, seed: int = 0, shown_share: float = 0.5) -> pd.DataFrame:
    """``raw_sample.csv`` and ``user_profile.csv`` of Ali_Display_Ad_Click: every click a row
    with ``clk`` = 1 in one of two slots (``pid``), plus ``shown_share`` as many ads shown but not
    clicked (``nonclk`` = 1) half a minute earlier; the profile file's user column is ``userid``
    and its last header carries a trailing space, as in the real file. Returns the sample as written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    clicks, users = labelled(data)
    sample = pd.DataFrame({"user": clicks.user_id, "time_stamp": clicks.timestamp, "adgroup_id": clicks.item_id,
                           "nonclk": 0, "clk": 1})
    sample.insert(3, "pid", rng.choice(["430548_1007", "430539_1007"], len(sample)))
    shown = sample.sample(frac=shown_share, random_state=seed)  # ads shown but not clicked
    shown = shown.assign(adgroup_id=rng.choice(data.item_ids[1:], len(shown)), time_stamp=shown.time_stamp - 30,
                         nonclk=1, clk=0)
    raw = pd.concat([sample, shown]).sort_values("time_stamp", kind="stable")
    raw.to_csv(folder / "raw_sample.csv", index=False)
    header = ",".join(["userid", *data.profile_fields]) + " "
    (folder / "user_profile.csv").write_text(header + "\n" + users.to_csv(index=False, header=False))
    return raw


def write_grouplens(folder: Path, ratings: Iterable[tuple], users: Iterable[tuple]) -> Path:
    """A GroupLens MovieLens-100K folder: ``u.data`` (user, item, rating, timestamp; tabs) and
    ``u.user`` (user, age, gender, occupation, zip code; ``|``), one tuple of strings per row."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "u.data").write_text("".join("\t".join(r) + "\n" for r in ratings))
    (folder / "u.user").write_text("".join("|".join(r) + "\n" for r in users))
    return folder


ML1M_AGES = ("1", "18", "25", "35", "45", "50", "56")
"""MovieLens-1M's age codes (under 18, 18-24, 25-34, 35-44, 45-49, 50-55, 56+)."""


def write_movielens_1m(folder: Path, data: InteractionData, seed: int = 0) -> Path:
    """A GroupLens MovieLens-1M folder (``ratings.dat``: user, movie, stars, seconds;
    ``users.dat``: user, gender, age code, occupation, zip code; ``::``) holding ``data``'s
    clicks, each a rating of 1 to 5 stars drawn with ``seed``. The profile's first three fields
    become gender (F or M by the field's code), the age code and the occupation (each field's
    code modulo the number of ML-1M values), so that a generated world written here keeps its
    profiles' signal; a missing value becomes the field's first. For benchmarks at ML-1M's size
    when no copy of the real files is at hand; never a copy of them."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    frame = data.to_frame()
    stars = rng.integers(1, 6, len(frame))
    # numbered as GroupLens numbers them: users from 1 in the data's order, movies by their index (from 1)
    lines = (f"{u}::{i}::{r}::{t}\n" for u, i, r, t in zip(frame.user + 1, frame.item, stars, frame.timestamp,
                                                           strict=True))
    (folder / "ratings.dat").write_text("".join(lines))
    codes = data.profiles[:, :3]  # codes from 1; a missing value (code 0) is written as the first ML-1M value
    users = (f"{k + 1}::{'FM'[g % 2]}::{ML1M_AGES[a % len(ML1M_AGES)]}::{o % 21}::{10000 + k}\n"
             for k, (g, a, o) in enumerate(codes))
    (folder / "users.dat").write_text("".join(users))
    return folder


def head(path: Path, n: int = 4) -> str:
    """The file's name and its first ``n`` lines, exactly as written."""
    path = Path(path)
    return f"{path.name}:\n" + "".join(path.read_text().splitlines(keepends=True)[:n])


def reading_error(read: Callable[[], object], root: Path | None = None) -> str | None:
    """What ``read()`` says about its files: the message of the
    :class:`~pprlib.data.errors.DataValidationError` it raises, with the folder ``root`` written
    ``DIR``; ``None`` if it reads them."""
    try:
        read()
    except DataValidationError as err:
        return str(err).replace(str(root), "DIR") if root is not None else str(err)
    return None


def csv_pair_error(folder: Path, clicks: pd.DataFrame, users: pd.DataFrame, root: Path | None = None,
                   sep: str = ",") -> str | None:
    """:func:`write_csv_pair`, then what :func:`~pprlib.data.readers.csv_pair.read_csv_pair` says about
    the files (:func:`reading_error`)."""
    from pprlib.data.readers.csv_pair import read_csv_pair

    return reading_error(lambda: read_csv_pair(*write_csv_pair(folder, clicks, users, sep)), root)


def wrap(message: str | None, root: Path | None = None, width: int = 70) -> str:
    """A reader's message (or warning) in lines that fit a page (words are not broken), with
    the folder ``root`` written ``DIR``."""
    if message is None:
        return "read without error"
    text = str(message).replace(str(root), "DIR") if root is not None else str(message)
    return textwrap.fill(text, width, subsequent_indent="    ", break_long_words=False)
