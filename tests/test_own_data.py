"""Running the book on one's own files: the ``dataset`` forms ``csv:<folder>``,
``cikm2019:<folder>`` and ``ali-display-ad:<folder>``, their errors, and the cold-user rule."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

from pprlib import book
from pprlib import experiments as ex
from pprlib.data import DataWarning
from pprlib.data.readers.csv_pair import read_csv_pair
from pprlib.data.readers.ecommerce import read_ali_display_ad, read_cikm2019
from pprlib.data.synthetic import SyntheticConfig, generate
from pprlib.data.writers import labelled, write_ali_display_ad, write_cikm2019, write_csv_pair


@pytest.fixture(scope="module")
def data():
    return generate(SyntheticConfig(n_users=150, n_items=200, max_length=60, seed=3))


@pytest.fixture(scope="module")
def folders(tmp_path_factory, data):
    """The three formats as the own-data chapter writes them (:mod:`pprlib.data.writers`)."""
    root = tmp_path_factory.mktemp("own")
    ali_data = generate(SyntheticConfig(n_users=150, n_items=200, max_length=60, profile="aliec", seed=4))
    write_csv_pair(root / "mine", *labelled(data))
    write_cikm2019(root / "cikm", data)
    raw = write_ali_display_ad(root / "ali", ali_data)
    return {"csv": root / "mine", "cikm2019": root / "cikm", "ali-display-ad": root / "ali", "ali_data": ali_data,
            "ali_raw": raw}


def _same(a, b):
    return a.fingerprint() == b.fingerprint() and list(a.user_ids) == list(b.user_ids)


def test_each_form_reads_its_files_with_its_reader(folders, data):
    csv = ex.load_data(ex.DataSpec(f"csv:{folders['csv']}"))
    assert _same(csv, read_csv_pair(folders["csv"] / "interactions.csv", folders["csv"] / "users.csv"))
    assert csv.name == "mine"  # named after the folder
    assert csv.n_interactions == data.n_interactions and csv.n_users == data.n_users

    cikm = ex.load_data(ex.DataSpec(f"cikm2019:{folders['cikm2019']}"))
    assert _same(cikm, read_cikm2019(folders["cikm2019"]))
    assert cikm.n_interactions == data.n_interactions  # other behaviours and repeated events are not clicks

    ali = ex.load_data(ex.DataSpec(f"ali-display-ad:{folders['ali-display-ad']}"))
    assert _same(ali, read_ali_display_ad(folders["ali-display-ad"]))
    assert ali.n_interactions == folders["ali_data"].n_interactions  # clk=0 rows are not clicks
    raw = folders["ali_raw"]
    assert (raw.clk == 0).sum() > 0 and ali.n_items == raw.adgroup_id[raw.clk == 1].nunique()  # shown, not clicked
    assert ali.profile_fields[-1] == "new_user_class_level"  # header stripped


def test_relative_folder_is_read_from_the_project_root(folders, tmp_path, monkeypatch):
    relative = os.path.relpath(folders["csv"], ex.PROJECT_ROOT)
    monkeypatch.chdir(tmp_path)  # a notebook runs in its own folder: the working directory must not matter
    spec = ex.DataSpec(f"csv:{relative}")
    assert spec.folder == ex.PROJECT_ROOT / relative
    assert ex.load_data(spec).n_users == 150


ACCEPTED = ("'synthetic', 'movielens-100k', 'csv:<folder>', 'cikm2019:<folder>', "
            "'ali-display-ad:<folder>' or 'grouplens:<folder>'")


@pytest.mark.parametrize("value", ["netflix", "parquet:data", "csv", "CSV:data"])
def test_unknown_dataset_names_the_value_and_the_forms(value):
    with pytest.raises(ValueError) as info:
        ex.BookConfig(dataset=value)
    assert str(info.value) == f"DataSpec.source (the dataset) must be {ACCEPTED}, got {value!r}"


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError) as info:
        ex.BookConfig(dataset="csv:no/such/folder")
    assert str(info.value) == (f"DataSpec.source 'csv:no/such/folder': folder {ex.PROJECT_ROOT}/no/such/folder "
                               f"not found (read from the project root); the dataset must be {ACCEPTED}")
    with pytest.raises(ValueError) as info:
        ex.DataSpec(f"cikm2019:{tmp_path}/gone")
    assert str(info.value) == (f"DataSpec.source 'cikm2019:{tmp_path}/gone': folder {tmp_path}/gone not found; "
                               f"the dataset must be {ACCEPTED}")
    with pytest.raises(ValueError, match=r"^DataSpec.source 'ali-display-ad:' names no folder; "
                                         r"write ali-display-ad:<folder>$"):
        ex.DataSpec("ali-display-ad:")


def test_folder_without_the_files_names_the_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=f"{tmp_path}/interactions.csv: file not found"):
        ex.load_data(ex.DataSpec(f"csv:{tmp_path}"))


def test_natural_cold_users_are_kept(folders, tmp_path, monkeypatch):
    monkeypatch.setenv("PPR_CACHE_DIR", str(tmp_path))
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        spec, sp = ex.book_data(ex.BookConfig(dataset=f"csv:{folders['csv']}", seed=2))
    assert sp.config == ex.ProtocolConfig(seed=2)  # no simulation
    cold = np.concatenate([sp.tune_users, sp.val_users, sp.test_users])
    assert sorted(cold) == list(np.flatnonzero(sp.data.lengths < 10))
    assert sp.data.n_interactions == ex.load_data(spec).n_interactions  # nothing truncated


def test_too_few_natural_cold_users_are_simulated_with_a_warning(data, tmp_path, monkeypatch):
    monkeypatch.setenv("PPR_CACHE_DIR", str(tmp_path))
    keep = data.lengths[data.users] >= 10
    keep |= np.isin(data.users, np.flatnonzero(data.lengths < 10)[:3])  # three cold users stay
    folder = tmp_path / "warm"
    clicks, users = labelled(data.subset(keep))
    write_csv_pair(folder, clicks, users[users.user_id.isin(clicks.user_id)])  # users with a click
    with pytest.warns(DataWarning) as caught:
        _, sp = ex.book_data(ex.BookConfig(dataset=f"csv:{folder}"))
    assert str(caught[0].message) == (
        "warm: only 3 natural cold user(s) (fewer than 10 clicks), the protocol needs at least 10; cold users "
        "are simulated instead, as for MovieLens: 30% of the users are cut to their first 1-9 clicks")
    assert sp.config.simulate_cold_share == 0.3
    assert len(sp.test_users) > 0 and (sp.data.lengths[sp.test_users] < 10).all()


def test_a_profile_file_with_own_data_loads_and_validates(folders, tmp_path):
    default = (book.PROFILES_DIR / "default.yaml").read_text()
    profile = tmp_path / "mine.yaml"
    text = default.replace("profile: default", "profile: mine")
    profile.write_text(text.replace("dataset: synthetic", f"dataset: csv:{folders['csv']}"))
    params = book.load_profile(profile)
    assert params["dataset"] == f"csv:{folders['csv']}" and params["profile"] == "mine"
    assert set(params) == set(book.load_profile("default"))
    config = ex.BookConfig.from_params(params)
    assert ex.DataSpec(config.dataset).folder == folders["csv"]
