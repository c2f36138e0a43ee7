"""MovieLens-1M as a dataset of the book (``grouplens:<folder>``, the ``movielens-1m`` profile,
``PPR_MOVIELENS`` refusing an ML-1M folder) and the order of ratings that share a timestamp.
Every folder here is written by the tests (conftest.write_ml1m or by hand), never real data."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from conftest import ML1M_LENGTHS
from pprlib import book
from pprlib import experiments as ex
from pprlib.data.readers.csv_pair import read_csv_pair
from pprlib.data.readers.movielens import MOVIELENS_1M_ENV, MOVIELENS_ENV, read_grouplens, read_movielens_100k
from pprlib.data.schema import TIES, DataValidationError

# user 1: movie 5 at t=50, then 30, 10, 20 (in this file order) all at t=100; user 2: 7, 3 tie
RATINGS = ["1::30::4::100", "1::10::3::100", "2::7::5::200", "1::20::1::100", "1::5::2::50", "2::3::4::200"]
USERS = ["1::F::25::3::11111", "2::M::18::0::22222"]


def ml1m(folder, ratings=RATINGS, users=USERS):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ratings.dat").write_text("\n".join(ratings) + "\n")
    (folder / "users.dat").write_text("\n".join(users) + "\n")
    return folder


def sequences(data) -> dict[str, list[str]]:
    return {data.user_ids[u]: list(data.item_ids[data.sequence(u)]) for u in range(data.n_users)}


def test_ties_in_file_order_by_default(tmp_path):
    data = read_grouplens(ml1m(tmp_path / "ml-1m"))
    assert sequences(data) == {"1": ["5", "30", "10", "20"], "2": ["7", "3"]}
    assert data.meta["ties"] == "file"


def test_ties_by_item_id(tmp_path):
    data = read_grouplens(ml1m(tmp_path / "ml-1m"), ties="item")
    assert sequences(data) == {"1": ["5", "10", "20", "30"], "2": ["3", "7"]}  # 10 before 30: numbers, not text


def test_ties_in_seeded_random_order(tmp_path):
    folder = ml1m(tmp_path / "ml-1m")
    orders = {seed: sequences(read_grouplens(folder, ties="random", ties_seed=seed)) for seed in range(8)}
    assert orders[3] == sequences(read_grouplens(folder, ties="random", ties_seed=3))  # seeded
    for seq in orders.values():  # only tied ratings move: 5 (t=50) stays first
        assert seq["1"][0] == "5" and sorted(seq["1"][1:]) == ["10", "20", "30"] and sorted(seq["2"]) == ["3", "7"]
    assert len({tuple(s["1"]) for s in orders.values()}) > 2  # the order really varies with the seed
    assert read_grouplens(folder, ties="random", ties_seed=1).meta["ties"] == "random (seed 1)"


def test_ties_in_movielens_100k_and_csv_formats(tmp_path):
    folder = tmp_path / "ml-100k"
    folder.mkdir()
    (folder / "u.data").write_text("1\t30\t4\t100\n1\t10\t3\t100\n1\t5\t2\t50\n")
    (folder / "u.user").write_text("1|24|F|writer|11111\n")
    assert sequences(read_grouplens(folder))["1"] == ["5", "30", "10"]
    assert sequences(read_grouplens(folder, ties="item"))["1"] == ["5", "10", "30"]
    (tmp_path / "i.csv").write_text("user_id,item_id,timestamp\n1,b,100\n1,a,100\n")
    (tmp_path / "u.csv").write_text("user_id,gender\n1,F\n")
    assert sequences(read_csv_pair(tmp_path / "i.csv", tmp_path / "u.csv", ties="item"))["1"] == ["a", "b"]


def test_unknown_tie_order_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"ties must be one of \('file', 'item', 'random'\), got 'time'"):
        read_grouplens(ml1m(tmp_path / "ml-1m"), ties="time")
    assert TIES == ("file", "item", "random")


def test_generated_ml1m_folder_has_every_length_class_and_ties(ml1m_folder):
    data = read_grouplens(ml1m_folder)
    assert data.name == "ml-1m"
    assert set(data.lengths.tolist()) == set(ML1M_LENGTHS)
    key = data.users * 10**10 + data.timestamps
    assert len(np.unique(key)) < len(key)  # ratings that share (user, timestamp)
    assert sequences(read_grouplens(ml1m_folder, ties="item")) != sequences(data)


def test_grouplens_source_in_the_book(ml1m_folder):
    config = ex.BookConfig(dataset=f"grouplens:{ml1m_folder}")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # simulated cold users as for ML-100K, without a warning
        spec, split = ex.book_data(config)
    assert spec.kind == "grouplens" and split.data.name == "ml-1m"
    assert split.config.simulate_cold_share == 0.3
    assert len(split.instances("test")) > 0


def test_movielens_1m_profile_reads_the_environment_variable(ml1m_folder, monkeypatch):
    params = book.load_profile("movielens-1m")
    assert params["dataset"] == "grouplens:${PPR_MOVIELENS_1M}"
    assert ex.DataSpec(params["dataset"]).folder == ml1m_folder
    monkeypatch.delenv(MOVIELENS_1M_ENV)
    with pytest.raises(ValueError, match=r"movielens-1m\.yaml, line \d+: key 'dataset' .*environment variable "
                                         r"PPR_MOVIELENS_1M is not set"):
        book.load_profile("movielens-1m")


def test_ppr_movielens_refuses_an_ml1m_folder(ml1m_folder, monkeypatch):
    monkeypatch.setenv(MOVIELENS_ENV, str(ml1m_folder))
    with pytest.raises(DataValidationError) as info:
        read_movielens_100k()
    message = str(info.value)
    assert f"{MOVIELENS_ENV}={ml1m_folder}: this folder holds MovieLens-1M" in message
    assert f"set {MOVIELENS_1M_ENV}={ml1m_folder} and run the profile movielens-1m" in message
    assert "grouplens:<folder>" in message


def test_a_generated_world_written_as_ml1m_reads_back_with_its_clicks_and_profiles(tmp_path):
    """benchmarks/movielens_1m.py times the profile on a generated world written in ML-1M's format."""
    from pprlib.data.synthetic import SyntheticConfig, generate
    from pprlib.data.writers import ML1M_AGES, write_movielens_1m

    world = generate(SyntheticConfig(n_users=60, n_items=80, max_length=30, seed=3))
    back = read_grouplens(write_movielens_1m(tmp_path / "ml-1m", world))
    assert (back.n_users, back.n_interactions) == (world.n_users, world.n_interactions)
    for u in range(world.n_users):  # user k + 1 of the file is the world's user k, its movies the item indices
        v = list(back.user_ids).index(str(u + 1))
        assert [int(i) for i in back.item_ids[back.sequence(v)]] == list(world.sequence(u))
        g, a, o = world.profiles[u, :3]
        assert [back.vocab[f][back.profiles[v, j]] for j, f in enumerate(back.profile_fields)] == \
            ["FM"[g % 2], ML1M_AGES[a % 7], str(o % 21)]
