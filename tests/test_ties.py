"""Timestamp ties: what the tie order decides (counted by hand on a tiny GroupLens folder), the
order travelling from the data's spec to the reader, and the words that sum up the comparison
under three orders."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pprlib import reproduction
from pprlib.data.readers.movielens import dataset_label, read_grouplens
from pprlib.data.sources import DataSpec, load_data
from pprlib.data.writers import write_grouplens
from pprlib.ties import tie_order_conclusion, tie_statistics

USERS = [(str(u), "30", "MF"[u % 2], "other", "00000") for u in range(1, 6)]
# users 1-3 rate two movies in their first second (file order: the higher id first); users 4
# and 5 rate one movie at a time. Ratings: 12, of which 6 share a (user, timestamp).
RATINGS = [
    ("1", "9", "5", "100"), ("1", "2", "5", "100"), ("1", "5", "5", "200"),
    ("2", "8", "5", "100"), ("2", "2", "5", "100"), ("2", "6", "5", "300"),
    ("3", "7", "5", "100"), ("3", "2", "5", "100"),
    ("4", "1", "5", "100"), ("4", "3", "5", "200"),
    ("5", "4", "5", "100"), ("5", "1", "5", "200"),
]


@pytest.fixture()
def folder(tmp_path):
    return write_grouplens(tmp_path / "ml-100k", RATINGS, USERS)


def test_tie_statistics_count_what_the_order_decides(folder):
    by_file = tie_statistics(read_grouplens(folder), k=1)
    by_item = tie_statistics(read_grouplens(folder, ties="item"), k=1)
    for s in (by_file, by_item):  # the ties themselves do not depend on the order
        assert s["tied"] == pytest.approx(6 / 12)
        assert s["first_tied"] == pytest.approx(3 / 5)
        assert s["users"] == 5
    # the most common first movie: file order picks 9, 8, 7, 1, 4 (one each: 1/5);
    # item order picks movie 2 for users 1-3 (3 of 5)
    assert by_file["top_first"] == pytest.approx(1 / 5)
    assert by_item["top_first"] == pytest.approx(3 / 5)


def test_the_data_spec_passes_the_tie_order_to_the_reader(folder):
    first = lambda data: [data.item_ids[data.items[np.flatnonzero(data.users == u)[0]]] for u in range(3)]  # noqa: E731
    assert first(load_data(DataSpec(f"grouplens:{folder}"))) == ["9", "8", "7"]
    assert first(load_data(DataSpec(f"grouplens:{folder}", ties="item"))) == ["2", "2", "2"]
    shuffled = {tuple(first(load_data(DataSpec(f"grouplens:{folder}", ties="random", ties_seed=s)))) for s in range(6)}
    assert len(shuffled) > 1  # the seed decides
    with pytest.raises(ValueError, match="DataSpec.ties must be one of"):
        DataSpec(f"grouplens:{folder}", ties="timestamp")
    with pytest.raises(ValueError, match="tie orders apply to"):
        DataSpec("synthetic", ties="item")


def test_dataset_label_comes_from_the_data(folder, tmp_path):
    assert dataset_label(read_grouplens(folder)) == "MovieLens-100K"
    ml1m = tmp_path / "ml-1m"
    ml1m.mkdir()
    (ml1m / "ratings.dat").write_text("1::1::5::100\n1::2::4::200\n")
    (ml1m / "users.dat").write_text("1::M::25::4::00000\n")
    assert dataset_label(read_grouplens(ml1m)) == "MovieLens-1M"
    # the summary's table names the real data as the MovieLens chapter read it
    assert reproduction.datasets({}) == ("synthetic", "MovieLens-100K")
    assert reproduction.datasets({"movielens": {"ml_dataset": "MovieLens-1M"}})[1] == "MovieLens-1M"


def _table(verdicts: dict[str, str], effects: dict[str, float]) -> pd.DataFrame:
    rows = []
    for order in ("file", "item id", "random (seed 0)"):
        for targets in ("few-shot", "zero-shot"):
            rows.append({"order": order, "targets": targets, "comparison": "PPR(light) vs ft",
                         "effect": effects.get(order, 0.01) if targets == "few-shot" else 0.0,
                         "verdict": verdicts.get(order, "not found") if targets == "few-shot" else "not found"})
    return pd.DataFrame(rows)


def _stats(file, item, random):
    return {t: {"tied": 0.75, "first_tied": 0.5, "top_first": s, "k": 10, "users": 100}
            for t, s in (("file", file), ("item", item), ("random", random))}


def test_tie_order_conclusion_reports_shares_verdicts_and_the_choice():
    same = tie_order_conclusion(_table({}, {"item id": 0.03}), _stats(0.20, 0.35, 0.21))
    assert "75% of the ratings" in same and "for 50% of the users" in same
    assert "take 20.0% of the first ratings in file order, 35.0% in item-id order and 21.0% in a seeded" in same
    assert "the same under the three orders" in same
    assert "at most 0.0200" in same  # 0.03 - 0.01 on the few-shot row
    assert "about as a random order does (1.0 points apart, against 14.0 for item-id order" in same
    changed = tie_order_conclusion(_table({"item id": "reproduced"}, {}), _stats(0.20, 0.22, 0.30))
    assert "The verdict changes with the order for PPR(light) vs ft, few-shot" in changed
    assert "item-id order is closer to a random order (8.0 points apart, against 10.0)" in changed
    assert "as item-id order does" in tie_order_conclusion(_table({}, {}), _stats(0.2, 0.2, 0.25))
    with pytest.raises(ValueError, match="every tie order"):
        tie_order_conclusion(_table({}, {}), {"file": _stats(0.2, 0.2, 0.2)["file"]})
